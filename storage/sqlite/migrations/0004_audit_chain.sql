-- Each audit row carries an HMAC-SHA-256 over its content and the previous
-- row's MAC, under a key derived from the key-encryption key (which the
-- database never holds): `kiosk audit verify` finds a changed, inserted or
-- deleted row.
ALTER TABLE audit_events ADD COLUMN mac BLOB;
-- Rows written from now on must carry a 32-byte MAC; rows from before
-- this migration have none and are recorded below as the only rows that
-- may lack one, so clearing a MAC later shows as a break.
CREATE TRIGGER audit_events_need_mac BEFORE INSERT ON audit_events
    WHEN NEW.mac IS NULL OR length(NEW.mac) <> 32
BEGIN
    SELECT RAISE(ABORT, 'audit_events: a row needs its 32-byte MAC');
END;
CREATE TABLE audit_chain (
    one               INTEGER PRIMARY KEY DEFAULT 1 CHECK (one = 1),
    unchained_through INTEGER NOT NULL
);
INSERT INTO audit_chain (unchained_through) SELECT coalesce(max(id), 0) FROM audit_events;

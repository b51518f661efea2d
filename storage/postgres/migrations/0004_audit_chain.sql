-- Each audit row carries an HMAC-SHA-256 over its content and the previous
-- row's MAC, under a key derived from the key-encryption key (which the
-- database never holds): `kiosk audit verify` finds a changed, inserted or
-- deleted row.
ALTER TABLE audit_events ADD COLUMN mac bytea;
-- Rows written from now on must carry a 32-byte MAC; rows from before
-- this migration have none and are recorded below as the only rows that
-- may lack one, so clearing a MAC later shows as a break.
ALTER TABLE audit_events ADD CONSTRAINT audit_events_mac
    CHECK (mac IS NOT NULL AND octet_length(mac) = 32) NOT VALID;
CREATE TABLE audit_chain (
    one             boolean PRIMARY KEY DEFAULT true CHECK (one),
    unchained_through bigint NOT NULL
);
INSERT INTO audit_chain (unchained_through) SELECT coalesce(max(id), 0) FROM audit_events;
-- The kiosk's own role that migrate grants rights to, so that a later
-- migrate grants it the rights on new tables too.
CREATE TABLE app_roles (
    name text PRIMARY KEY
);

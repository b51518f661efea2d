-- Each audit row carries an HMAC-SHA-256 over its content and the previous
-- row's MAC, under a key derived from the key-encryption key (which the
-- database never holds): `kiosk audit verify` finds a changed, inserted or
-- deleted row. Rows written before this migration have none.
ALTER TABLE audit_events ADD COLUMN mac bytea;

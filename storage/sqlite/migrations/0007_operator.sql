-- The operator terminal (issue 10), SQLite dialect. Keep it in step with
-- storage/postgres/migrations/0007_operator.sql (which explains it).
ALTER TABLE smartcards ADD COLUMN piv_auth_cert BLOB;
ALTER TABLE smartcards ADD COLUMN needs_repair INTEGER NOT NULL DEFAULT 0 CHECK (needs_repair IN (0, 1));

CREATE TABLE pending_card_secrets (
    seq             INTEGER PRIMARY KEY,
    write_id        TEXT NOT NULL UNIQUE REFERENCES card_writes (id),
    serial          TEXT NOT NULL REFERENCES smartcards (serial) ON DELETE CASCADE,
    sealed_puk      BLOB NOT NULL CHECK (length(sealed_puk) > 0),
    mgmt_key_alg    TEXT NOT NULL CHECK (mgmt_key_alg IN ('AES256', 'AES192', 'AES128', '3DES')),
    sealed_mgmt_key BLOB NOT NULL CHECK (length(sealed_mgmt_key) > 0),
    kek_fingerprint TEXT NOT NULL CHECK (kek_fingerprint <> ''),
    updated_at      INTEGER
) STRICT;
CREATE INDEX pending_card_secrets_serial_idx ON pending_card_secrets (serial, seq);

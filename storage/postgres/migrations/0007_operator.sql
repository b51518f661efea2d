-- The operator terminal (issue 10), PostgreSQL dialect. Keep it in step
-- with storage/sqlite/migrations/0007_operator.sql.
--
-- piv_auth_cert: the certificate issued for the card's PIV Authentication
-- key (9A); an operator logs in with a challenge signed by that key.
-- needs_repair: a card write stopped part-way, so the card may hold keys
-- or secrets its record does not match, until an operator repairs it.
ALTER TABLE smartcards ADD COLUMN piv_auth_cert bytea;
ALTER TABLE smartcards ADD COLUMN needs_repair boolean NOT NULL DEFAULT false;

-- The sealed secrets a repair is about to give a card, committed with its
-- intent before the card is touched: whatever the card holds afterwards,
-- the store has. The repair's outcome adopts them into card_secrets; a
-- repair whose outcome is unknown leaves them here, to be tried on the
-- card by the next repair. Ciphertext only, like card_secrets.
CREATE TABLE pending_card_secrets (
    seq             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    write_id        text NOT NULL UNIQUE REFERENCES card_writes (id),
    serial          text NOT NULL REFERENCES smartcards (serial) ON DELETE CASCADE,
    sealed_puk      bytea NOT NULL CHECK (length(sealed_puk) > 0),
    mgmt_key_alg    text NOT NULL CHECK (mgmt_key_alg IN ('AES256', 'AES192', 'AES128', '3DES')),
    sealed_mgmt_key bytea NOT NULL CHECK (length(sealed_mgmt_key) > 0),
    kek_fingerprint text NOT NULL CHECK (kek_fingerprint <> ''),
    updated_at      timestamptz
);
CREATE INDEX pending_card_secrets_serial_idx ON pending_card_secrets (serial, seq);

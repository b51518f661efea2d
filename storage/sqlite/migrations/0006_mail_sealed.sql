-- A mail that carries a code is stored with its body sealed under a key
-- derived from the key-encryption key (which the database never holds);
-- only a sender opens it, right before delivery.
ALTER TABLE mail_outbox ADD COLUMN body_sealed INTEGER NOT NULL DEFAULT 0 CHECK (body_sealed IN (0, 1));

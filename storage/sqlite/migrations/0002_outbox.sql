-- Mail outbox, SQLite dialect. Keep it in step with
-- storage/postgres/migrations/0002_outbox.sql (which explains the table).
CREATE TABLE mail_outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    to_addr         TEXT NOT NULL CHECK (to_addr <> ''),
    subject         TEXT NOT NULL DEFAULT '',
    body            TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    not_after       INTEGER,
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at INTEGER,
    last_error      TEXT NOT NULL DEFAULT '',
    sent_at         INTEGER
) STRICT;
CREATE INDEX mail_outbox_unsent_idx ON mail_outbox (created_at, id) WHERE sent_at IS NULL;
-- ListMail, newest first (scanned backwards).
CREATE INDEX mail_outbox_created_idx ON mail_outbox (created_at, id);

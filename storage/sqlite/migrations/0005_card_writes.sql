-- Card-write intents, SQLite dialect. Keep it in step with
-- storage/postgres/migrations/0005_card_writes.sql (which explains the
-- table).
CREATE TABLE card_writes (
    id          TEXT PRIMARY KEY CHECK (id <> ''),
    op          TEXT NOT NULL CHECK (op <> ''),
    card_serial TEXT NOT NULL CHECK (card_serial <> ''),
    subject_id  TEXT NOT NULL DEFAULT '',
    actor_id    TEXT NOT NULL DEFAULT '',
    role        TEXT NOT NULL DEFAULT '',
    visit       TEXT NOT NULL DEFAULT '',
    terminal    TEXT NOT NULL DEFAULT '',
    started_at  INTEGER NOT NULL,
    settled_at  INTEGER,
    outcome     TEXT CHECK (outcome IN ('success', 'failure')),
    detail      TEXT NOT NULL DEFAULT '',
    CHECK ((settled_at IS NULL) = (outcome IS NULL))
) STRICT;
CREATE INDEX card_writes_open_idx ON card_writes (card_serial, started_at) WHERE settled_at IS NULL;

-- An outcome is recorded once: a settled intent never changes again.
CREATE TRIGGER card_writes_settle_once BEFORE UPDATE ON card_writes
WHEN OLD.settled_at IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'card write is settled already');
END;

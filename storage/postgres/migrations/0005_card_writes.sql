-- Card-write intents, PostgreSQL dialect. Keep it in step with
-- storage/sqlite/migrations/0005_card_writes.sql.
--
-- A terminal inserts an intent before it changes a card (unlock, renewal,
-- and later the operator's unlock and repair) and settles it, in the
-- transaction that writes the outcome's audit row and emails, once the
-- card has answered. An intent still open was left by a terminal stopped
-- mid-write: it is settled from the card's state when the card is next
-- seen. The id is the terminal's (random), so an outcome kept in its
-- spool while the database was away names its intent. No foreign keys:
-- like the audit trail, the record must not depend on other rows.
CREATE TABLE card_writes (
    id          text PRIMARY KEY CHECK (id <> ''),
    op          text NOT NULL CHECK (op <> ''),
    card_serial text NOT NULL CHECK (card_serial <> ''),
    subject_id  text NOT NULL DEFAULT '',
    actor_id    text NOT NULL DEFAULT '',
    role        text NOT NULL DEFAULT '',
    visit       text NOT NULL DEFAULT '',
    terminal    text NOT NULL DEFAULT '',
    started_at  timestamptz NOT NULL,
    settled_at  timestamptz,
    outcome     text CHECK (outcome IN ('success', 'failure')),
    detail      text NOT NULL DEFAULT '',
    CHECK ((settled_at IS NULL) = (outcome IS NULL))
);
-- The open intents of the card just inserted.
CREATE INDEX card_writes_open_idx ON card_writes (card_serial, started_at) WHERE settled_at IS NULL;

-- An outcome is recorded once: a settled intent never changes again.
CREATE FUNCTION card_writes_settled_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.settled_at IS NOT NULL THEN
        RAISE EXCEPTION 'card write % is settled already', OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER card_writes_settle_once BEFORE UPDATE ON card_writes
    FOR EACH ROW EXECUTE FUNCTION card_writes_settled_once();

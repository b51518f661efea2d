-- Mail outbox, PostgreSQL dialect. Keep it in step with
-- storage/sqlite/migrations/0002_outbox.sql.
--
-- A workflow inserts the mail in the transaction that stores the code it
-- carries; a sender claims it (moving next_attempt_at forward as a lease),
-- delivers it and sets sent_at. A NULL next_attempt_at means a sender gave
-- up on it: it is never claimed again. No foreign keys: a mail is not tied
-- to the rows that caused it.
CREATE TABLE mail_outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    to_addr         text NOT NULL CHECK (to_addr <> ''),
    subject         text NOT NULL DEFAULT '',
    body            text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    not_after       timestamptz,
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz,
    last_error      text NOT NULL DEFAULT '',
    sent_at         timestamptz
);
-- ClaimMail scans unsent mail oldest first; sent mail drops out of the index.
CREATE INDEX mail_outbox_unsent_idx ON mail_outbox (created_at, id) WHERE sent_at IS NULL;
-- ListMail, newest first (scanned backwards).
CREATE INDEX mail_outbox_created_idx ON mail_outbox (created_at, id);

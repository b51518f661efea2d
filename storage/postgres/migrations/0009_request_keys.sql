-- Client-generated keys for the writes that record what already happened
-- (issue 13), PostgreSQL only: the embedded store has no connection that
-- can be lost between COMMIT and its answer.
--
-- When a connection is lost after COMMIT was sent, the store cannot tell
-- whether the row was written. It tries again under the same key, made
-- once per logical write before the first attempt; the retry finds the
-- row the first attempt committed instead of writing a second one (a
-- second audit link, a second mail, a code that retires the one on its
-- way). The key is not audited content: the audit chain's MAC leaves it
-- out, as it does the row's ID. Rows written inside a caller's
-- transaction, which is never retried after an unknown commit, have none.
ALTER TABLE audit_events ADD COLUMN request_id uuid;
CREATE UNIQUE INDEX audit_events_request_idx ON audit_events (request_id) WHERE request_id IS NOT NULL;

ALTER TABLE mail_outbox ADD COLUMN request_id uuid;
CREATE UNIQUE INDEX mail_outbox_request_idx ON mail_outbox (request_id) WHERE request_id IS NOT NULL;

ALTER TABLE one_time_codes ADD COLUMN request_id uuid;
CREATE UNIQUE INDEX one_time_codes_request_idx ON one_time_codes (request_id) WHERE request_id IS NOT NULL;

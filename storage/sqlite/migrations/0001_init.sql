-- Smartcard Service Centre schema, SQLite dialect. Keep it in step with
-- storage/postgres/migrations/0001_init.sql. Timestamps are INTEGER unix
-- microseconds in UTC (PostgreSQL's precision; they sort like the times);
-- NULL is the zero time. AUTOINCREMENT: ids are never reused, as with
-- PostgreSQL identities. GLOB is case-sensitive, so the checks below match
-- PostgreSQL's regular expressions.

CREATE TABLE users (
    id          TEXT PRIMARY KEY CHECK (length(id) = 12 AND id NOT GLOB '*[^0-9]*'),
    title       TEXT NOT NULL DEFAULT '',
    given_name  TEXT NOT NULL DEFAULT '',
    family_name TEXT NOT NULL DEFAULT '',
    email       TEXT NOT NULL DEFAULT '',
    photo       BLOB,
    created_at  INTEGER,
    search_key  TEXT NOT NULL,
    sort_key    TEXT NOT NULL
) STRICT;
CREATE INDEX users_sort_key_idx ON users (sort_key, id);

CREATE TABLE positions (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_code  TEXT NOT NULL,
    org_name  TEXT NOT NULL DEFAULT '',
    role_name TEXT NOT NULL,
    UNIQUE (user_id, org_code, role_name)
) STRICT;

CREATE TABLE position_activities (
    position_id INTEGER NOT NULL REFERENCES positions (id) ON DELETE CASCADE,
    ord         INTEGER NOT NULL CHECK (ord >= 0),
    code        TEXT NOT NULL CHECK (code <> ''),
    PRIMARY KEY (position_id, ord),
    UNIQUE (position_id, code)
) STRICT;

CREATE TABLE smartcards (
    serial                  TEXT PRIMARY KEY CHECK (length(serial) = 16 AND serial NOT GLOB '*[^0-9A-F]*'),
    user_id                 TEXT NOT NULL REFERENCES users (id),
    card_type               TEXT NOT NULL DEFAULT '',
    issued_at               INTEGER,
    cert_expiry             INTEGER,
    cancelled_at            INTEGER,
    cancel_reason           TEXT NOT NULL DEFAULT '',
    renewals_since_operator INTEGER NOT NULL DEFAULT 0 CHECK (renewals_since_operator >= 0),
    card_auth_cert          BLOB
) STRICT;
CREATE INDEX smartcards_user_idx ON smartcards (user_id);

CREATE TABLE card_secrets (
    serial          TEXT PRIMARY KEY REFERENCES smartcards (serial) ON DELETE CASCADE,
    sealed_puk      BLOB NOT NULL CHECK (length(sealed_puk) > 0),
    mgmt_key_alg    TEXT NOT NULL CHECK (mgmt_key_alg IN ('AES256', 'AES192', 'AES128', '3DES')),
    sealed_mgmt_key BLOB NOT NULL CHECK (length(sealed_mgmt_key) > 0),
    kek_fingerprint TEXT NOT NULL CHECK (kek_fingerprint <> ''),
    updated_at      INTEGER
) STRICT;

CREATE TABLE registrations (
    user_id         TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    email           TEXT NOT NULL CHECK (email <> ''),
    failed_attempts INTEGER NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
    locked_out_at   INTEGER,
    registered_at   INTEGER
) STRICT;

CREATE TABLE registration_answers (
    user_id  TEXT NOT NULL REFERENCES registrations (user_id) ON DELETE CASCADE,
    ord      INTEGER NOT NULL CHECK (ord >= 0),
    question INTEGER NOT NULL CHECK (question >= 1),
    hash     TEXT NOT NULL CHECK (hash <> ''),
    PRIMARY KEY (user_id, ord),
    UNIQUE (user_id, question)
) STRICT;

CREATE TABLE pending_registrations (
    user_id    TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    email      TEXT NOT NULL CHECK (email <> ''),
    created_at INTEGER
) STRICT;

CREATE TABLE pending_registration_answers (
    user_id  TEXT NOT NULL REFERENCES pending_registrations (user_id) ON DELETE CASCADE,
    ord      INTEGER NOT NULL CHECK (ord >= 0),
    question INTEGER NOT NULL CHECK (question >= 1),
    hash     TEXT NOT NULL CHECK (hash <> ''),
    PRIMARY KEY (user_id, ord),
    UNIQUE (user_id, question)
) STRICT;

CREATE TABLE one_time_codes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL CHECK (purpose IN ('unlock', 'registration')),
    hash        BLOB NOT NULL CHECK (length(hash) > 0),
    card_serial TEXT REFERENCES smartcards (serial),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL CHECK (expires_at > created_at),
    tries       INTEGER NOT NULL DEFAULT 0 CHECK (tries >= 0),
    max_tries   INTEGER NOT NULL CHECK (max_tries >= 1),
    used_at     INTEGER
) STRICT;
CREATE INDEX one_time_codes_latest_idx ON one_time_codes (user_id, purpose, created_at);
CREATE UNIQUE INDEX one_time_codes_one_unused_idx ON one_time_codes (user_id, purpose) WHERE used_at IS NULL;

CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    action      TEXT NOT NULL CHECK (action <> ''),
    outcome     TEXT NOT NULL CHECK (outcome IN ('success', 'failure')),
    actor_id    TEXT NOT NULL DEFAULT '',
    subject_id  TEXT NOT NULL DEFAULT '',
    card_serial TEXT NOT NULL DEFAULT '',
    role        TEXT NOT NULL DEFAULT '',
    terminal    TEXT NOT NULL DEFAULT '',
    detail      TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX audit_events_subject_idx ON audit_events (subject_id, id);
CREATE INDEX audit_events_card_idx ON audit_events (card_serial, id);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: UPDATE refused');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: DELETE refused');
END;

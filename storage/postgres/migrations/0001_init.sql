-- Smartcard Service Centre schema, PostgreSQL dialect. Keep it in step with
-- storage/sqlite/migrations/0001_init.sql: the same tables, columns and
-- constraints, so both stores pass one conformance suite.

CREATE TABLE users (
    id          text PRIMARY KEY CHECK (id ~ '^[0-9]{12}$'),
    title       text NOT NULL DEFAULT '',
    given_name  text NOT NULL DEFAULT '',
    family_name text NOT NULL DEFAULT '',
    email       text NOT NULL DEFAULT '',
    photo       bytea,
    created_at  timestamptz,
    -- Lower-cased in Go (Unicode-aware, same in both databases) for search.
    search_key  text NOT NULL,
    -- "C" collation: byte order, as SQLite's BINARY, so both sort alike.
    sort_key    text COLLATE "C" NOT NULL
);
CREATE INDEX users_sort_key_idx ON users (sort_key, id);

CREATE TABLE positions (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id   text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_code  text NOT NULL,
    org_name  text NOT NULL DEFAULT '',
    role_name text NOT NULL,
    UNIQUE (user_id, org_code, role_name)
);

CREATE TABLE position_activities (
    position_id bigint NOT NULL REFERENCES positions (id) ON DELETE CASCADE,
    ord         integer NOT NULL CHECK (ord >= 0),
    code        text NOT NULL CHECK (code <> ''),
    PRIMARY KEY (position_id, ord),
    UNIQUE (position_id, code)
);

CREATE TABLE smartcards (
    serial                  text PRIMARY KEY CHECK (serial ~ '^[0-9A-F]{16}$'),
    user_id                 text NOT NULL REFERENCES users (id),
    card_type               text NOT NULL DEFAULT '',
    issued_at               timestamptz,
    cert_expiry             timestamptz,
    cancelled_at            timestamptz,
    cancel_reason           text NOT NULL DEFAULT '',
    renewals_since_operator integer NOT NULL DEFAULT 0 CHECK (renewals_since_operator >= 0),
    card_auth_cert          bytea
);
CREATE INDEX smartcards_user_idx ON smartcards (user_id);

-- Ciphertext only: the key-encryption key lives outside the database.
CREATE TABLE card_secrets (
    serial          text PRIMARY KEY REFERENCES smartcards (serial) ON DELETE CASCADE,
    sealed_puk      bytea NOT NULL CHECK (length(sealed_puk) > 0),
    mgmt_key_alg    text NOT NULL CHECK (mgmt_key_alg IN ('AES256', 'AES192', 'AES128', '3DES')),
    sealed_mgmt_key bytea NOT NULL CHECK (length(sealed_mgmt_key) > 0),
    kek_fingerprint text NOT NULL CHECK (kek_fingerprint <> ''),
    updated_at      timestamptz
);

CREATE TABLE registrations (
    user_id         text PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    email           text NOT NULL CHECK (email <> ''),
    failed_attempts integer NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
    locked_out_at   timestamptz,
    registered_at   timestamptz
);

CREATE TABLE registration_answers (
    user_id  text NOT NULL REFERENCES registrations (user_id) ON DELETE CASCADE,
    ord      integer NOT NULL CHECK (ord >= 0),
    question integer NOT NULL CHECK (question >= 1),
    hash     text NOT NULL CHECK (hash <> ''),
    PRIMARY KEY (user_id, ord),
    UNIQUE (user_id, question)
);

CREATE TABLE pending_registrations (
    user_id    text PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    email      text NOT NULL CHECK (email <> ''),
    created_at timestamptz
);

CREATE TABLE pending_registration_answers (
    user_id  text NOT NULL REFERENCES pending_registrations (user_id) ON DELETE CASCADE,
    ord      integer NOT NULL CHECK (ord >= 0),
    question integer NOT NULL CHECK (question >= 1),
    hash     text NOT NULL CHECK (hash <> ''),
    PRIMARY KEY (user_id, ord),
    UNIQUE (user_id, question)
);

CREATE TABLE one_time_codes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose     text NOT NULL CHECK (purpose IN ('unlock', 'registration')),
    hash        bytea NOT NULL CHECK (length(hash) > 0),
    card_serial text REFERENCES smartcards (serial),
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL CHECK (expires_at > created_at),
    tries       integer NOT NULL DEFAULT 0 CHECK (tries >= 0),
    max_tries   integer NOT NULL CHECK (max_tries >= 1),
    used_at     timestamptz
);
CREATE INDEX one_time_codes_latest_idx ON one_time_codes (user_id, purpose, created_at);
-- At most one live code per user and purpose: CreateCode retires the old one.
CREATE UNIQUE INDEX one_time_codes_one_unused_idx ON one_time_codes (user_id, purpose) WHERE used_at IS NULL;

-- No foreign keys: the log outlives the rows it mentions and records
-- attempts with unknown users or cards too.
CREATE TABLE audit_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL,
    action      text NOT NULL CHECK (action <> ''),
    outcome     text NOT NULL CHECK (outcome IN ('success', 'failure')),
    actor_id    text NOT NULL DEFAULT '',
    subject_id  text NOT NULL DEFAULT '',
    card_serial text NOT NULL DEFAULT '',
    role        text NOT NULL DEFAULT '',
    terminal    text NOT NULL DEFAULT '',
    detail      text NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_subject_idx ON audit_events (subject_id, id);
CREATE INDEX audit_events_card_idx ON audit_events (card_serial, id);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

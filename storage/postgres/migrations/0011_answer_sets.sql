-- Answer sets (issue 12), PostgreSQL dialect. Keep it in step with
-- storage/sqlite/migrations/0011_answer_sets.sql.
--
-- A registration now holds one argon2id hash of the answers to each set
-- of its questions an unlock may ask (domain.AnswerSet), so an unlock
-- checks its 2–4 answers with one computation. questions is the set's
-- question IDs, ascending, comma-separated. Registrations made before
-- keep their rows in registration_answers and are checked as before;
-- registering again replaces them.
CREATE TABLE registration_answer_sets (
    user_id   text NOT NULL REFERENCES registrations (user_id) ON DELETE CASCADE,
    ord       integer NOT NULL CHECK (ord >= 0),
    questions text NOT NULL CHECK (questions ~ '^[1-9][0-9]*(,[1-9][0-9]*)+$'),
    hash      text NOT NULL CHECK (hash <> ''),
    PRIMARY KEY (user_id, ord),
    UNIQUE (user_id, questions)
);

CREATE TABLE pending_registration_answer_sets (
    user_id   text NOT NULL REFERENCES pending_registrations (user_id) ON DELETE CASCADE,
    ord       integer NOT NULL CHECK (ord >= 0),
    questions text NOT NULL CHECK (questions ~ '^[1-9][0-9]*(,[1-9][0-9]*)+$'),
    hash      text NOT NULL CHECK (hash <> ''),
    PRIMARY KEY (user_id, ord),
    UNIQUE (user_id, questions)
);

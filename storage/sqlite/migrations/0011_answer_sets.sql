-- Answer sets (issue 12), SQLite dialect. Keep it in step with
-- storage/postgres/migrations/0011_answer_sets.sql.
--
-- A registration now holds one argon2id hash of the answers to each set
-- of its questions an unlock may ask (domain.AnswerSet), so an unlock
-- checks its 2–4 answers with one computation. questions is the set's
-- question IDs, ascending, comma-separated (the CHECKs: at
-- least two, no empty part, no leading zero). Registrations made before
-- keep their rows in registration_answers and are checked as before;
-- registering again replaces them.
CREATE TABLE registration_answer_sets (
    user_id   TEXT NOT NULL REFERENCES registrations (user_id) ON DELETE CASCADE,
    ord       INTEGER NOT NULL CHECK (ord >= 0),
    questions TEXT NOT NULL CHECK (questions GLOB '[1-9]*,[1-9]*' AND questions NOT GLOB '*[^0-9,]*'
        AND questions NOT GLOB '*,,*' AND questions NOT GLOB '*,' AND questions NOT GLOB '*,0*'),
    hash      TEXT NOT NULL CHECK (hash <> ''),
    PRIMARY KEY (user_id, ord),
    UNIQUE (user_id, questions)
) STRICT;

CREATE TABLE pending_registration_answer_sets (
    user_id   TEXT NOT NULL REFERENCES pending_registrations (user_id) ON DELETE CASCADE,
    ord       INTEGER NOT NULL CHECK (ord >= 0),
    questions TEXT NOT NULL CHECK (questions GLOB '[1-9]*,[1-9]*' AND questions NOT GLOB '*[^0-9,]*'
        AND questions NOT GLOB '*,,*' AND questions NOT GLOB '*,' AND questions NOT GLOB '*,0*'),
    hash      TEXT NOT NULL CHECK (hash <> ''),
    PRIMARY KEY (user_id, ord),
    UNIQUE (user_id, questions)
) STRICT;

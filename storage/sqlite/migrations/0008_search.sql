-- Indexed user search (issue 12), SQLite dialect. Keep it in step with
-- storage/postgres/migrations/0008_search.sql.
--
-- users_fts is an FTS5 trigram index of search_key: a phrase of three
-- characters or more matches exactly the rows whose key contains it
-- (case_sensitive 1: the key and the query are lower-cased in Go, so
-- SQLite folds nothing of its own). It stores no copy of the text
-- (contentless; contentless_delete lets rows be deleted).
--
-- Its rowid is users.search_pos, a number in name order (sort_key, id)
-- with gaps, kept by the store as users are written (PutUser). So the
-- index gives matches in name order and a search reads only as many as
-- it returns, where otherwise a common name (thousands of matches)
-- would be read and sorted in full.
ALTER TABLE users ADD COLUMN search_pos INTEGER;

-- Existing users: numbered in name order, evenly over 1 .. 2^62.
UPDATE users SET search_pos = r.n * (4611686018427387904 / ((SELECT count(*) FROM users) + 1))
FROM (SELECT id, row_number() OVER (ORDER BY sort_key, id) AS n FROM users) AS r
WHERE r.id = users.id;

CREATE UNIQUE INDEX users_search_pos_idx ON users (search_pos);

CREATE VIRTUAL TABLE users_fts USING fts5 (
    search_key,
    tokenize = 'trigram case_sensitive 1',
    content = '',
    contentless_delete = 1
);
INSERT INTO users_fts (rowid, search_key) SELECT search_pos, search_key FROM users;

-- Kept in step with users by triggers, so no path that writes a user
-- can leave the index behind. A row without a position (one PutUser
-- has not placed yet) is not in the index.
CREATE TRIGGER users_fts_insert AFTER INSERT ON users
WHEN new.search_pos IS NOT NULL
BEGIN
    INSERT INTO users_fts (rowid, search_key) VALUES (new.search_pos, new.search_key);
END;
CREATE TRIGGER users_fts_update AFTER UPDATE OF search_pos, search_key ON users
WHEN old.search_pos IS NOT new.search_pos OR old.search_key IS NOT new.search_key
BEGIN
    DELETE FROM users_fts WHERE rowid = old.search_pos;
    INSERT INTO users_fts (rowid, search_key) SELECT new.search_pos, new.search_key
    WHERE new.search_pos IS NOT NULL;
END;
CREATE TRIGGER users_fts_delete AFTER DELETE ON users
BEGIN
    DELETE FROM users_fts WHERE rowid = old.search_pos;
END;

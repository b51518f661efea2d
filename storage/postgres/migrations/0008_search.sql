-- Indexed user search (issue 12), PostgreSQL dialect. Keep it in step
-- with storage/sqlite/migrations/0008_search.sql. How the indexes below
-- serve one search: see nameHits in store.go.
--
-- Name text is looked for anywhere in search_key (LIKE '%text%'), which
-- a b-tree cannot serve: trigram GIN indexes can. pg_trgm is a trusted
-- extension (PostgreSQL 13 and later), so a schema owner that may create
-- in this database needs no superuser; where the server lacks it or the
-- owner may not create it, kiosk migrate says what to do and applies
-- nothing. IF NOT EXISTS: a superuser may have created it beforehand,
-- which needs no right of the owner's.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- search_tail is search_key with a mark (U+001E) after the first letter
-- of the family name: text without spaces found in it is every match
-- except those at the start of the family name, which the sort index
-- finds in order (a common family name's thousands of matches, which
-- the trigram index would otherwise fetch and sort). sort_key starts
-- with the family name; when search_key does not end with it exactly
-- (runs of spaces inside a family name), there is no mark, which only
-- finds more. One SELECT, no FROM: inlined into the index and queries.
CREATE FUNCTION search_tail(search_key text, sort_key text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE
        WHEN split_part(sort_key, chr(31), 1) <> ''
            AND right(search_key, char_length(split_part(sort_key, chr(31), 1))) = split_part(sort_key, chr(31), 1)
        THEN left(search_key, char_length(search_key) - char_length(split_part(sort_key, chr(31), 1)) + 1)
            || chr(30) || substr(search_key, char_length(search_key) - char_length(split_part(sort_key, chr(31), 1)) + 2)
        ELSE search_key
    END
$$;

-- The operator class lives in the extension's schema, which may be one
-- outside the search path if it was created beforehand.
DO $$
DECLARE
    ext name := (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
                 WHERE e.extname = 'pg_trgm');
BEGIN
    EXECUTE format('CREATE INDEX users_search_key_trgm_idx ON users USING gin (search_key %I.gin_trgm_ops)', ext);
    EXECUTE format('CREATE INDEX users_search_tail_trgm_idx ON users USING gin (search_tail(search_key, sort_key) %I.gin_trgm_ops)', ext);
END
$$;

-- Name order with the search key beside it: the first users in name
-- order are checked for a match from the index alone (index-only scan).
-- It serves all the old index did.
CREATE INDEX users_sort_search_idx ON users (sort_key, id) INCLUDE (search_key);
DROP INDEX users_sort_key_idx;

-- An ID prefix is a byte-order range over this index whatever the
-- database's collation (the primary key's index follows that collation).
CREATE INDEX users_id_c_idx ON users (id COLLATE "C");

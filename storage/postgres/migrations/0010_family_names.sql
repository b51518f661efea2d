-- Name search by family name (nameHits in store.go), PostgreSQL only:
-- the embedded store's search is ordered otherwise.
--
-- Text inside a family name ("mith") matches every user of that family,
-- thousands of them for a common one, found by a trigram index in no
-- order and so all fetched to be sorted. Searched among the family names
-- instead, it matches a few names; each name's users are a range of the
-- sort index, read in order, and the names' counts say how many ranges
-- the first users of the answer take. The given name is searched apart
-- (search_given), where matches are few or dense.

-- No user is written while the names are counted and the triggers made.
LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE;

-- One row per family name in sort_key, with how many users have it. fam
-- is sort_key's start up to and including the chr(31) that ends the
-- family name: in that order the names' ranges of the sort index follow
-- each other (a name followed by a character below chr(31), a tab say,
-- sorts before the name alone, its range does not), and each range is
-- fam to fam with chr(31) raised. Users without a family name have none.
-- n INCLUDEd: the first names in order are counted from the index alone.
CREATE TABLE family_names (
    fam text COLLATE "C" NOT NULL,
    n   bigint NOT NULL CHECK (n > 0),
    PRIMARY KEY (fam) INCLUDE (n)
);
INSERT INTO family_names (fam, n)
SELECT split_part(sort_key, chr(31), 1) || chr(31), count(*) FROM users
WHERE split_part(sort_key, chr(31), 1) <> ''
GROUP BY 1;

-- Kept exact by each statement that writes users (COPY too), from the
-- rows it changed, as the role that writes them. Lock order: every name
-- whose count moves is locked, or added, by one INSERT in fam order, so
-- writers never wait for each other in a circle; the counts then move on
-- rows already locked. A proposed row must pass the CHECK even where it
-- only locks (the conflict), hence abs().
CREATE FUNCTION family_names_count() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    fams   text[] COLLATE "C";
    deltas bigint[];
    added  text[] COLLATE "C";
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM family_names;
        RETURN NULL;
    ELSIF TG_OP = 'INSERT' THEN
        SELECT array_agg(fam ORDER BY fam), array_agg(d ORDER BY fam) INTO fams, deltas
        FROM (SELECT split_part(sort_key, chr(31), 1) || chr(31) AS fam, count(*) AS d
              FROM new_users GROUP BY 1) c
        WHERE fam <> chr(31);
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(fam ORDER BY fam), array_agg(d ORDER BY fam) INTO fams, deltas
        FROM (SELECT split_part(sort_key, chr(31), 1) || chr(31) AS fam, -count(*) AS d
              FROM old_users GROUP BY 1) c
        WHERE fam <> chr(31);
    ELSE
        -- Net: a user keeping their family name moves nothing.
        SELECT array_agg(fam ORDER BY fam), array_agg(d ORDER BY fam) INTO fams, deltas
        FROM (SELECT fam, sum(d) AS d FROM (
                  SELECT split_part(sort_key, chr(31), 1) || chr(31) AS fam, 1 AS d FROM new_users
                  UNION ALL
                  SELECT split_part(sort_key, chr(31), 1) || chr(31), -1 FROM old_users) c
              WHERE fam <> chr(31)
              GROUP BY fam HAVING sum(d) <> 0) c;
    END IF;
    IF fams IS NULL THEN
        RETURN NULL;
    END IF;

    WITH ins AS (
        INSERT INTO family_names AS f (fam, n)
        SELECT x.fam, abs(x.d) FROM unnest(fams, deltas) AS x(fam, d) ORDER BY x.fam
        ON CONFLICT (fam) DO UPDATE SET n = f.n WHERE false
        RETURNING f.fam)
    SELECT array_agg(fam) INTO added FROM ins;
    IF cardinality(added) = cardinality(fams) THEN
        RETURN NULL; -- all new, counted as added
    END IF;

    -- Only a name that was there can lose users. Delete those that reach
    -- zero first: n + d = 0 is judged on the count from before.
    DELETE FROM family_names f USING unnest(fams, deltas) AS x(fam, d)
    WHERE f.fam = x.fam AND x.d < 0 AND f.n + x.d = 0;
    UPDATE family_names f SET n = f.n + x.d
    FROM unnest(fams, deltas) AS x(fam, d)
    WHERE f.fam = x.fam AND f.n + x.d > 0
        AND NOT EXISTS (SELECT FROM unnest(added) AS a(fam) WHERE a.fam = x.fam);
    RETURN NULL;
END
$$;

-- A trigger with transition tables takes one event only.
CREATE TRIGGER users_family_names_insert AFTER INSERT ON users
    REFERENCING NEW TABLE AS new_users
    FOR EACH STATEMENT EXECUTE FUNCTION family_names_count();
CREATE TRIGGER users_family_names_update AFTER UPDATE ON users
    REFERENCING OLD TABLE AS old_users NEW TABLE AS new_users
    FOR EACH STATEMENT EXECUTE FUNCTION family_names_count();
CREATE TRIGGER users_family_names_delete AFTER DELETE ON users
    REFERENCING OLD TABLE AS old_users
    FOR EACH STATEMENT EXECUTE FUNCTION family_names_count();
CREATE TRIGGER users_family_names_truncate AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION family_names_count();

-- search_given is search_key without the family name at its end: the
-- given name and the space after it. When search_key does not end with
-- the family name of sort_key (runs of spaces inside it), it is all of
-- search_key, which only finds more. One SELECT, no FROM, and not STRICT
-- (a CASE is not strict): inlined into the index and the queries, not
-- called per row.
CREATE FUNCTION search_given(search_key text, sort_key text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN split_part(sort_key, chr(31), 1) <> ''
            AND right(search_key, char_length(split_part(sort_key, chr(31), 1))) = split_part(sort_key, chr(31), 1)
        THEN left(search_key, char_length(search_key) - char_length(split_part(sort_key, chr(31), 1)))
        ELSE search_key
    END
$$;

-- The operator class lives in the extension's schema (see 0008).
DO $$
DECLARE
    ext name := (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
                 WHERE e.extname = 'pg_trgm');
BEGIN
    EXECUTE format('CREATE INDEX family_names_trgm_idx ON family_names USING gin (fam %I.gin_trgm_ops)', ext);
    EXECUTE format('CREATE INDEX users_search_given_trgm_idx ON users USING gin (search_given(search_key, sort_key) %I.gin_trgm_ops)', ext);
END
$$;

-- search_tail's matches are now the family names' and search_given's.
-- users_search_key_trgm_idx stays: text with a control character or
-- many spaces is looked for in all of search_key.
DROP INDEX users_search_tail_trgm_idx;
DROP FUNCTION search_tail(text, text);

ANALYZE family_names;

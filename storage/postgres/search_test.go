package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/directory"
	"github.com/smartcard-service-centre/kiosk/storage/internal/sqlstore"
	"github.com/smartcard-service-centre/kiosk/storage/postgres/pgtest"
	"github.com/smartcard-service-centre/kiosk/storage/storetest"
)

// fillBench loads people 0..n-1 of the benchmark population into s's
// database (pgtest.FillPopulation) and returns how long it took.
func fillBench(tb testing.TB, s *Store, n int) time.Duration {
	tb.Helper()
	return pgtest.FillPopulation(tb.Context(), tb, s.pool.Config().ConnConfig.ConnString(), n)
}

// BenchmarkSearch: name and ID searches through the store's own API on
// $KIOSK_BENCH_USERS users (default 10,000), each with a card and most
// with a registration; p50 and p99 per kind of query.
func BenchmarkSearch(b *testing.B) {
	s := benchStore(b)
	n := storetest.BenchUsers(b)
	took := fillBench(b, s, n)
	b.Logf("PostgreSQL: loaded %d users with cards and registrations in %s (COPY, VACUUM ANALYZE)", n, took.Round(time.Millisecond))
	storetest.BenchSearch(b, s, n)
}

// TestSearchEveryStep: the search suite, with nameHits' walks cut short
// or lengthened so that each step answers in turn: with the few users of
// a test database the first walk would otherwise answer everything.
func TestSearchEveryStep(t *testing.T) {
	defer func(f, w int, a bool, ff, fw int, fa bool, g int) {
		firstPer, walkPer, walkAlways, famFirstPer, famWalkPer, famWalkAlways, famGate = f, w, a, ff, fw, fa, g
	}(firstPer, walkPer, walkAlways, famFirstPer, famWalkPer, famWalkAlways, famGate)
	type knobs struct {
		first, walk       int
		always            bool
		famFirst, famWalk int
		famAlways         bool
		famGate           int
	}
	for _, tc := range []struct {
		name string
		k    knobs
	}{
		{"no walks", knobs{0, 0, false, 0, 0, false, 1}},               // cl, fam_tri and gl
		{"short walks", knobs{1, 2, true, 1, 2, true, 0}},              // every step finds some
		{"long walk", knobs{0, 1_000, true, 0, 0, false, 1}},           // walk answers
		{"first walk only", knobs{1_000, 0, false, 0, 0, false, 1}},    // first answers
		{"names: first only", knobs{0, 0, false, 1_000, 0, false, 0}},  // fam_first answers
		{"names: long walk", knobs{0, 0, false, 0, 1_000, true, 0}},    // fam_walk answers
		{"names: short walks", knobs{0, 0, false, 1, 2, true, 0}},      // fam_first and fam_walk find some, fam_tri the rest
		{"names: after first", knobs{1, 0, false, 1_000, 0, false, 1}}, // fam_first when first found one
		{"as configured", knobs{firstPer, walkPer, walkAlways, famFirstPer, famWalkPer, famWalkAlways, famGate}},
	} {
		k := tc.k
		firstPer, walkPer, walkAlways = k.first, k.walk, k.always
		famFirstPer, famWalkPer, famWalkAlways, famGate = k.famFirst, k.famWalk, k.famAlways, k.famGate
		t.Run(tc.name, func(t *testing.T) {
			// A database each: some tests find all users of a kind.
			dbURL := throwawayDB(t)
			if _, err := open(t, dbURL).Migrate(t.Context()); err != nil {
				t.Fatal(err)
			}
			storetest.RunSearch(t, func(t *testing.T) domain.Store { return open(t, dbURL) })
			t.Run("FamilyNameOrder", func(t *testing.T) { testFamilyNameOrder(t, open(t, dbURL)) })
		})
	}
}

// testFamilyNameOrder: a family name followed by a character below
// chr(31) (a tab) sorts before the same name alone in sort_key, and the
// answer keeps that order whichever step finds it, at every limit.
func testFamilyNameOrder(t *testing.T, s *Store) {
	tag := fmt.Sprintf("ordq%08d", rand.IntN(1e8))
	var us []domain.User
	for i, f := range []string{"Lee", "Lee\tRoss", "Lee Ross", "Leea", "Lee\x01", "Lee\x1fX", "Lee", "Lee\tRoss"} {
		u := domain.User{ID: domain.UserID(fmt.Sprintf("77%010d", rand.Int64N(1e10))),
			GivenName: fmt.Sprintf("G%d", i%3), FamilyName: strings.Replace(f, "Lee", "Lee"+tag, 1)}
		if err := s.PutUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
		us = append(us, u)
	}
	slices.SortFunc(us, func(a, b domain.User) int {
		_, ka := sqlstore.UserKeys(a)
		_, kb := sqlstore.UserKeys(b)
		return cmp.Or(strings.Compare(ka, kb), strings.Compare(string(a.ID), string(b.ID)))
	})
	for limit := 1; limit <= len(us); limit++ {
		got, err := s.SearchUsers(t.Context(), tag, limit)
		if err != nil {
			t.Fatal(err)
		}
		var gotIDs, want []domain.UserID
		for _, m := range got {
			gotIDs = append(gotIDs, m.User.ID)
		}
		for _, u := range us[:limit] {
			want = append(want, u.ID)
		}
		if !slices.Equal(gotIDs, want) {
			t.Errorf("limit %d: %v, want %v", limit, gotIDs, want)
		}
	}
}

// plan is a node of EXPLAIN (FORMAT JSON)'s output.
type plan struct {
	Type     string `json:"Node Type"`
	Relation string `json:"Relation Name"`
	Index    string `json:"Index Name"`
	Cond     string `json:"Index Cond"`
	Plans    []plan `json:"Plans"`
}

// walk calls fn with every node and its parent.
func (p plan) walk(fn func(n, parent plan)) {
	for _, c := range p.Plans {
		fn(c, p)
		c.walk(fn)
	}
}

// TestSearchPlansStayIndexed: every kind of search is served by its
// index in the generic plan that pgx's cached statements switch to after
// five runs, as well as in custom plans, and never reads a whole table
// (a sequential scan, or the sort index walked end to end looking for
// matches: 1.4 s at a million users before).
func TestSearchPlansStayIndexed(t *testing.T) {
	s := open(t, throwawayDB(t))
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	fillBench(t, s, 100_000)
	conn, err := s.pool.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	explain := func(query, mode string) plan {
		t.Helper()
		stmt, args, ok := sqlstore.SearchStatement(dialect, query, 50)
		if !ok {
			t.Fatalf("no statement for %q", query)
		}
		c := conn.Conn()
		if _, err := c.Exec(t.Context(), "SET plan_cache_mode = "+mode); err != nil {
			t.Fatal(err)
		}
		defer c.Exec(context.WithoutCancel(t.Context()), "RESET plan_cache_mode")
		// A named prepared statement, as pgx's cache makes, explained
		// with this query's values.
		sd, err := c.Prepare(t.Context(), "search_plan", stmt)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Deallocate(context.WithoutCancel(t.Context()), "search_plan")
		// EXPLAIN takes no parameters of its own: the values go in as
		// literals (test input, quoted).
		var lits []string
		for _, a := range args {
			lits = append(lits, "'"+strings.ReplaceAll(a.(string), "'", "''")+"'")
		}
		var out []struct{ Plan plan }
		var raw string
		if err := c.QueryRow(t.Context(), "EXPLAIN (FORMAT JSON) EXECUTE "+sd.Name+"("+strings.Join(lits, ", ")+")").Scan(&raw); err != nil {
			t.Fatalf("explain %q: %v", query, err)
		}
		if err := json.Unmarshal([]byte(raw), &out); err != nil || len(out) != 1 {
			t.Fatalf("explain %q: %v %s", query, err, raw)
		}
		return out[0].Plan
	}
	nameIndexes := []string{"users_sort_search_idx", "family_names_pkey", "family_names_trgm_idx", "users_search_given_trgm_idx"}
	for _, tc := range []struct {
		query   string
		indexes []string
	}{
		// A name: the sort index, bounded; the family names' index,
		// bounded, and their trigram index; the trigram index of
		// search_given. Text inside a family name ("mith", all of the
		// Smiths) too.
		{"smith", nameIndexes},
		{"mith", nameIndexes},
		{"qzxvq", nameIndexes},
		{"mary jones", nameIndexes},
		// With a control character: the trigram index of search_key.
		{"mary\x01jones", []string{"users_sort_search_idx", "users_search_key_trgm_idx"}},
		{"sm", []string{"users_sort_search_idx"}},
		{"5550", []string{"users_id_c_idx"}},
		{"5", []string{"users_id_c_idx"}},
		{"5550 0179 9894", []string{"users_pkey"}},
	} {
		var plans []string
		for _, mode := range []string{"force_generic_plan", "force_custom_plan"} {
			p := explain(tc.query, mode)
			js, _ := json.Marshal(p)
			plans = append(plans, string(js))
			used := map[string]bool{}
			p.walk(func(n, parent plan) {
				used[n.Index] = true
				if n.Type == "Seq Scan" {
					t.Errorf("%q (%s): sequential scan of %s", tc.query, mode, n.Relation)
				}
				// The sort index and the family names' are only ever
				// read as a range or for a bounded number of rows,
				// never walked end to end.
				if (n.Index == "users_sort_search_idx" || n.Index == "family_names_pkey") && n.Cond == "" && parent.Type != "Limit" {
					t.Errorf("%q (%s): walks %s unbounded", tc.query, mode, n.Index)
				}
				if n.Index == "users_search_tail_trgm_idx" {
					t.Errorf("%q (%s): uses the index 0010 drops", tc.query, mode)
				}
			})
			for _, idx := range tc.indexes {
				if !used[idx] {
					js, _ := json.MarshalIndent(p, "", " ")
					t.Errorf("%q (%s): does not use %s:\n%s", tc.query, mode, idx, js)
				}
			}
		}
		// A name's plan does not depend on the text (nameHits hides it
		// from the planner), so the server keeps the generic plan.
		byName := slices.Contains(tc.indexes, "users_sort_search_idx") && len([]rune(tc.query)) >= sqlstore.MinContains
		if byName && plans[0] != plans[1] {
			t.Errorf("%q: the custom plan differs from the generic one:\n%s\n%s", tc.query, plans[0], plans[1])
		}
	}
	// And through the store: past pgx's five runs of one statement.
	for i := range 12 {
		ms, err := s.SearchUsers(t.Context(), storetest.NewBenchPerson(i).User.FamilyName, 50)
		if err != nil || len(ms) == 0 {
			t.Fatalf("search %d: %d found, %v", i, len(ms), err)
		}
	}
}

// TestMigrateWithoutTrigramRights: a schema owner that may not create
// the pg_trgm extension gets told what to do, and nothing is applied;
// once a superuser has created it, the owner migrates (IF NOT EXISTS
// needs no right) and the search works.
func TestMigrateWithoutTrigramRights(t *testing.T) {
	dbURL := throwawayDB(t)
	admin := open(t, dbURL)
	role, roleURL := pgtest.NewRole(t, dbURL)
	// May create tables in the schema, not extensions in the database.
	if err := rawExec(t.Context(), admin, "GRANT CREATE ON SCHEMA public TO "+role); err != nil {
		t.Fatal(err)
	}
	owner := open(t, roleURL)
	_, err := owner.Migrate(t.Context())
	var pgErr *pgconn.PgError
	if !errors.Is(err, ErrExtension) || !errors.As(err, &pgErr) || pgErr.Code != "42501" {
		t.Fatalf("migrate without the right to create pg_trgm: %v, want ErrExtension over 42501", err)
	}
	for _, want := range []string{"role " + role, "CREATE EXTENSION pg_trgm", "GRANT CREATE ON DATABASE", "nothing was applied"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q: %v", want, err)
		}
	}
	var tables int
	if err := admin.pool.QueryRow(t.Context(), `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables); err != nil || tables != 0 {
		t.Fatalf("%d tables left after the failed migration (%v), want none", tables, err)
	}

	if err := rawExec(t.Context(), admin, "CREATE EXTENSION pg_trgm"); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.Migrate(t.Context()); err != nil {
		t.Fatalf("migrate once the extension exists: %v", err)
	}
	u := domain.User{ID: "555001799894", GivenName: "Test", FamilyName: "Person"}
	if err := owner.PutUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	if ms, err := owner.SearchUsers(t.Context(), "person", 10); err != nil || len(ms) != 1 {
		t.Fatalf("search: %v %v", ms, err)
	}
}

func TestExplainMissingExtension(t *testing.T) {
	cause := fmt.Errorf("migrate: apply 0008_search: %w", &pgconn.PgError{Code: "0A000",
		Message: `extension "pg_trgm" is not available`})
	err := (&Store{}).explainExtension(t.Context(), cause)
	if !errors.Is(err, ErrExtension) || !strings.Contains(err.Error(), "has no pg_trgm extension") ||
		!strings.Contains(err.Error(), "contrib") {
		t.Fatalf("server without pg_trgm: %v", err)
	}
	other := fmt.Errorf("migrate: %w", &pgconn.PgError{Code: "42P07", Message: `relation "users" already exists`})
	if got := (&Store{}).explainExtension(t.Context(), other); got != other {
		t.Fatalf("other errors pass unchanged: %v", got)
	}
}

// TestFamilyNamesKeptExact: family_names holds, for each family name in
// sort_key, how many users have it, whatever writes the users: PutUser
// adding, renaming and keeping a family name, an import adding and
// renaming, COPY, writers at once on the same and on crossing names
// (without deadlocks), statements changing many rows, deletes (which the
// store itself never makes) and TRUNCATE.
func TestFamilyNamesKeptExact(t *testing.T) {
	dbURL := throwawayDB(t)
	s := open(t, dbURL)
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	check := func(step string) {
		t.Helper()
		var wrong, names int
		var diff string
		err := s.pool.QueryRow(ctx, `
			WITH want AS (
				SELECT split_part(sort_key, chr(31), 1) || chr(31) AS fam, count(*) AS n FROM users
				WHERE split_part(sort_key, chr(31), 1) <> '' GROUP BY 1)
			SELECT count(*) FILTER (WHERE f.n IS DISTINCT FROM w.n), count(*),
				coalesce(string_agg(format('%L: %s, want %s', coalesce(f.fam, w.fam), f.n, w.n), '; ')
					FILTER (WHERE f.n IS DISTINCT FROM w.n), '')
			FROM family_names f FULL JOIN want w ON w.fam = f.fam`).Scan(&wrong, &names, &diff)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if wrong > 0 {
			t.Fatalf("%s: family_names differs from users in %d of %d names: %s", step, wrong, names, diff)
		}
	}
	id := func(i int) domain.UserID { return domain.UserID(fmt.Sprintf("5559%08d", i)) }
	put := func(i int, given, family string) {
		t.Helper()
		u := domain.User{ID: id(i), GivenName: given, FamilyName: family, Email: fmt.Sprintf("u%d@nhs.net", i)}
		if err := s.PutUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	exec := func(sql string) {
		t.Helper()
		if _, err := s.pool.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}

	// New users: shared names, names that differ only by case or spaces
	// around them, one with none, control characters, chr(31) itself.
	for i, f := range []string{"Smith", "Smith", " smith ", "SMITH", "Jones", "Jones", "Van\t\tDyke", "Van", "",
		"Ring\x01", "a\x1fb", "Øster", "De La Cruz"} {
		put(i, fmt.Sprintf("Given%d", i), f)
	}
	check("new users")

	put(0, "Given0", "Jones")   // from a shared name to another
	put(11, "Given11", "Smith") // the last Øster: its name goes
	put(4, "Given4", "Zed")     // to a name nobody had
	put(8, "Given8", "Nobody")  // from no family name to one
	put(9, "Given9", "")        // and from one to none
	check("renamed")

	put(1, "Given1", "Smith")  // as it was
	put(2, "Renamed", "smith") // another given name, the same family name
	put(3, "Given3", "Smith")  // the same name, its case changed
	check("family name unchanged")

	// An import adding users and renaming some of the store's.
	const header = "user_id,title,given_name,family_name,email,org_code,org_name,role_name,activity_codes,card_serial,card_type,issued,cert_expiry,cancelled\n"
	file := header
	for i, f := range map[int]string{0: "Imported", 1: "Smith", 5: "Zed", 6: "Van Dyke", 20: "Imported", 21: "Smith", 22: "Newname"} {
		file += fmt.Sprintf("%s,,Given%d,%s,,,,,,,,,,\n", id(i), i, f)
	}
	im := domain.DirectoryImport{Store: s, Clock: domain.SystemClock{}, Terminal: "test"}
	got, err := im.Import(ctx, directory.NewReader("names.csv", strings.NewReader(file), directory.Options{}))
	if err != nil || got.Added != 3 || got.Updated != 4 {
		t.Fatalf("import: %+v %v, want 3 added, 4 updated", got, err)
	}
	check("import")

	pgtest.FillPopulation(ctx, t, dbURL, 2_000) // COPY
	check("copy")

	// Writers at once: users moved between a few names, so that two
	// writers often rename across the same two names in opposite ways.
	names := []string{"Alpha", "Beta", "Gamma", "Smith", "Jones"}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for range 40 {
				i := 100 + r.IntN(12)
				u := domain.User{ID: id(i), GivenName: "Busy", FamilyName: names[r.IntN(len(names))]}
				if err := s.PutUser(ctx, u); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent PutUser: %v", err)
	}
	check("concurrent writers")

	// Statements over many rows: all Alphas become Betas; every user
	// rewritten as it is; a failed statement leaves no trace.
	exec(`UPDATE users SET sort_key = 'beta' || substr(sort_key, strpos(sort_key, chr(31)))
		WHERE sort_key LIKE 'alpha' || chr(31) || '%'`)
	exec(`UPDATE users SET sort_key = sort_key, email = email`)
	if _, err := s.pool.Exec(ctx, `UPDATE users SET sort_key = 'gone' || chr(31), id = 'x'`); err == nil {
		t.Fatal("an update breaking the ID check passed")
	}
	check("updates")

	exec(`DELETE FROM users WHERE id LIKE '5559%' AND id NOT IN (SELECT user_id FROM smartcards)
		AND sort_key LIKE 's%'`)
	exec(`DELETE FROM users WHERE id = '` + string(id(22)) + `'`)
	check("deleted")

	exec(`TRUNCATE users CASCADE`)
	check("truncated")
	var left int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM family_names`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("after TRUNCATE: %d names, %v", left, err)
	}
}

package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/smartcard-service-centre/kiosk/domain"
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

// TestSearchEveryStep: the search suite, with nameHits' first steps cut
// short so that each later one answers in turn: with the few users of a
// test database the first step would otherwise answer everything.
func TestSearchEveryStep(t *testing.T) {
	defer func(f, w int, a bool) { firstPer, walkPer, walkAlways = f, w, a }(firstPer, walkPer, walkAlways)
	for _, tc := range []struct {
		name        string
		first, walk int
		always      bool
	}{
		{"no walks", 0, 0, false},            // cl and tl only
		{"short walks", 1, 2, true},          // first and walk find some, cl and tl the rest
		{"long walk", 0, 1_000, true},        // walk answers
		{"first walk only", 1_000, 0, false}, // first answers
	} {
		firstPer, walkPer, walkAlways = tc.first, tc.walk, tc.always
		t.Run(tc.name, func(t *testing.T) {
			// A database each: some tests find all users of a kind.
			dbURL := throwawayDB(t)
			if _, err := open(t, dbURL).Migrate(t.Context()); err != nil {
				t.Fatal(err)
			}
			storetest.RunSearch(t, func(t *testing.T) domain.Store { return open(t, dbURL) })
		})
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
	for _, tc := range []struct {
		query   string
		indexes []string
	}{
		// A name: the sort index, bounded, then the trigram index of
		// search_tail.
		{"smith", []string{"users_sort_search_idx", "users_search_tail_trgm_idx"}},
		{"qzxvq", []string{"users_sort_search_idx", "users_search_tail_trgm_idx"}},
		{"mary jones", []string{"users_sort_search_idx", "users_search_tail_trgm_idx"}},
		// With a control character: the trigram index of search_key.
		{"mary\x01jones", []string{"users_sort_search_idx", "users_search_key_trgm_idx"}},
		{"sm", []string{"users_sort_search_idx"}},
		{"5550", []string{"users_id_c_idx"}},
		{"5", []string{"users_id_c_idx"}},
		{"5550 0179 9894", []string{"users_pkey"}},
	} {
		for _, mode := range []string{"force_generic_plan", "force_custom_plan"} {
			p := explain(tc.query, mode)
			used := map[string]bool{}
			p.walk(func(n, parent plan) {
				used[n.Index] = true
				if n.Type == "Seq Scan" {
					t.Errorf("%q (%s): sequential scan of %s", tc.query, mode, n.Relation)
				}
				// The sort index is only ever read as a range or for a
				// bounded number of rows, never walked end to end.
				if n.Index == "users_sort_search_idx" && n.Cond == "" && parent.Type != "Limit" {
					t.Errorf("%q (%s): walks the sort index unbounded", tc.query, mode)
				}
			})
			for _, idx := range tc.indexes {
				if !used[idx] {
					js, _ := json.MarshalIndent(p, "", " ")
					t.Errorf("%q (%s): does not use %s:\n%s", tc.query, mode, idx, js)
				}
			}
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

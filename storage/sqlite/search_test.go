package sqlite

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/storage/internal/sqlstore"
	"github.com/smartcard-service-centre/kiosk/storage/storetest"
)

// fillBench loads people 0..n-1 of the benchmark population in one
// transaction (users, their cards, their registrations), numbers them in
// name order for the search (renumberAll, which fills users_fts), and
// returns how long it took.
func fillBench(tb testing.TB, s *Store, n int) time.Duration {
	tb.Helper()
	ctx := tb.Context()
	start := time.Now()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback()
	prep := func(q string) *sql.Stmt {
		st, err := tx.PrepareContext(ctx, q)
		if err != nil {
			tb.Fatal(err)
		}
		return st
	}
	insUser := prep(`INSERT INTO users (id, title, given_name, family_name, email, created_at, search_key, sort_key)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`)
	insCard := prep(`INSERT INTO smartcards (serial, user_id, card_type, issued_at, cert_expiry) VALUES ($1, $2, $3, $4, $5)`)
	insReg := prep(`INSERT INTO registrations (user_id, email, failed_attempts, locked_out_at, registered_at) VALUES ($1, $2, $3, $4, $5)`)
	micros := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return sqlstore.UnixMicro(t)
	}
	for i := range n {
		p := storetest.NewBenchPerson(i)
		u, c := p.User, p.Card
		search, sort := sqlstore.UserKeys(u)
		if _, err := insUser.ExecContext(ctx, string(u.ID), u.Title, u.GivenName, u.FamilyName, u.Email, micros(u.CreatedAt), search, sort); err != nil {
			tb.Fatal(err)
		}
		if _, err := insCard.ExecContext(ctx, string(c.Serial), string(c.UserID), c.Type, micros(c.IssuedAt), micros(c.CertExpiry)); err != nil {
			tb.Fatal(err)
		}
		if r := p.Registration; r != nil {
			if _, err := insReg.ExecContext(ctx, string(r.UserID), r.Email, r.FailedAttempts, micros(r.LockedOutAt), micros(r.RegisteredAt)); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if err := renumberAll(ctx, sqlDB{tx}); err != nil {
		tb.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
	return time.Since(start)
}

// BenchmarkSearch: name and ID searches through the store's own API on
// $KIOSK_BENCH_USERS users (default 10,000), each with a card and most
// with a registration; p50 and p99 per kind of query.
func BenchmarkSearch(b *testing.B) {
	s := openTemp(b)
	n := storetest.BenchUsers(b)
	took := fillBench(b, s, n)
	b.Logf("SQLite: loaded %d users with cards and registrations in %s (one transaction, numbered for the search)", n, took.Round(time.Millisecond))
	storetest.BenchSearch(b, s, n)
}

// checkSearchIndex checks the invariant the search relies on: every
// user has a position, the positions follow name order, and users_fts
// holds exactly one row per user, at its position, with its search key.
func checkSearchIndex(t *testing.T, s *Store) {
	t.Helper()
	ctx := t.Context()
	rows, err := s.r.QueryContext(ctx, `SELECT id, search_pos, search_key FROM users ORDER BY sort_key, id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var (
		last  int64
		count int
	)
	for rows.Next() {
		var (
			id, key string
			pos     sql.NullInt64
		)
		if err := rows.Scan(&id, &pos, &key); err != nil {
			t.Fatal(err)
		}
		if !pos.Valid || pos.Int64 <= last || pos.Int64 >= maxPos {
			t.Fatalf("user %s at position %v after %d: not in name order", id, pos, last)
		}
		last, count = pos.Int64, count+1
		// The index finds the row at its position by its whole key.
		var hit int
		if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM users_fts WHERE users_fts MATCH $1 AND rowid = $2`,
			`"`+strings.ReplaceAll(key, `"`, `""`)+`"`, pos.Int64).Scan(&hit); err != nil {
			t.Fatal(err)
		}
		if hit != 1 && len([]rune(key)) >= 3 {
			t.Fatalf("user %s (%q) not in users_fts at %d", id, key, pos.Int64)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var indexed int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM users_fts`).Scan(&indexed); err != nil {
		t.Fatal(err)
	}
	if indexed != count {
		t.Fatalf("users_fts has %d rows for %d users", indexed, count)
	}
}

// TestSearchPositions: however users are written, renamed and written
// again, the numbering stays in name order and users_fts in step,
// through the renumbering that one gap worn out forces.
func TestSearchPositions(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	put := func(id int, given, family string) {
		t.Helper()
		u := domain.User{ID: domain.UserID(fmt.Sprintf("%012d", id)), GivenName: given, FamilyName: family}
		if err := s.PutUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	put(1, "First", "A")
	put(2, "Last", "Z")
	for i := range 150 { // one gap, halved again and again
		put(100+i, "Down", fmt.Sprintf("M%04d", 1000-i))
	}
	checkSearchIndex(t, s)
	for i := range 150 { // ascending, then all renamed to the front
		put(300+i, "Up", fmt.Sprintf("N%04d", i))
	}
	for i := range 150 {
		put(300+i, "Up", fmt.Sprintf("B%04d", 1000-i))
	}
	put(1, "First", "Zz") // the first user moves to the end
	put(100, "Down", "M1000")
	checkSearchIndex(t, s)
	ms, err := s.SearchUsers(ctx, "b", 1000)
	if err != nil || len(ms) != 150 || ms[0].User.FamilyName != "B0851" || ms[149].User.FamilyName != "B1000" {
		t.Fatalf("search after renames: %d found (%v), want B0851..B1000", len(ms), err)
	}
}

// TestMigrationFillsSearchIndex: users written before migration 0008
// are numbered and indexed by it.
func TestMigrationFillsSearchIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kiosk.db")
	db, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	old := &Store{w: db}
	old.Queries = sqlstore.New(&sqlstore.Dialect{Time: sqlstore.UnixMicro, Translate: translate, TimestampType: "INTEGER"},
		sqlDB{db}, sqlDB{db}, old.begin)
	ms, err := sqlstore.LoadMigrations(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(ms, func(m sqlstore.Migration) bool { return m.Name == "0008_search" })
	if i < 0 {
		t.Fatal("no migration 0008_search")
	}
	if _, err := sqlstore.Migrate(t.Context(), old.Queries, ms[:i]); err != nil {
		t.Fatal(err)
	}
	names := []string{"Jones", "Smith", "Øster", "Brown", "Smithson"}
	for n, family := range names {
		if err := old.PutUser(t.Context(), domain.User{ID: domain.UserID(fmt.Sprintf("55500000%04d", n)), GivenName: "Pat", FamilyName: family}); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkSearchIndex(t, s)
	got, err := s.SearchUsers(t.Context(), "smith", 10)
	if err != nil || len(got) != 2 || got[0].User.FamilyName != "Smith" || got[1].User.FamilyName != "Smithson" {
		t.Fatalf("search after migration: %+v %v", got, err)
	}
}

// TestSearchPlansUseIndexes: every kind of search is served by its index,
// never a scan of a whole table.
func TestSearchPlansUseIndexes(t *testing.T) {
	s := openTemp(t)
	fillBench(t, s, 2000)
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"smith", []string{"users_fts VIRTUAL TABLE INDEX", "users_search_pos_idx"}},
		{"sm", []string{"users_sort_key_idx (sort_key>? AND sort_key<?)"}},
		{"5550", []string{"sqlite_autoindex_users_1 (id>? AND id<?)"}},
		{"5550 0179 9894", []string{"sqlite_autoindex_users_1 (id=?)"}},
	} {
		stmt, args, ok := sqlstore.SearchStatement(dialect, tc.query, 50)
		if !ok {
			t.Fatalf("no statement for %q", tc.query)
		}
		rows, err := s.r.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+stmt, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		text := strings.Join(plan, "\n")
		for _, w := range tc.want {
			if !strings.Contains(text, w) {
				t.Errorf("%q: plan lacks %q:\n%s", tc.query, w, text)
			}
		}
		for _, l := range plan {
			if strings.HasPrefix(l, "SCAN ") && !strings.HasPrefix(l, "SCAN h") && !strings.Contains(l, "VIRTUAL TABLE") {
				t.Errorf("%q: scans a table: %s\n%s", tc.query, l, text)
			}
		}
	}
}

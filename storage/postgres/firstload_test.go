package postgres

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/directory"
	"github.com/smartcard-service-centre/kiosk/domain/directory/directorytest"
	"github.com/smartcard-service-centre/kiosk/storage/postgres/pgtest"
)

// TestFirstLoad: an import into an empty store by the tables' owner sets
// the indexes and foreign keys aside and puts them back exactly as they
// were; it stores what the row-by-row path (the app role's) stores; a
// refused file leaves them untouched; a store with users is never a first
// load.
func TestFirstLoad(t *testing.T) {
	f := directorytest.File{Users: 250, First: 310000000000, SerialBase: 0x4082C00000000000}
	good, err := f.WriteFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// The same file with a malformed user ID on its last line.
	text, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.csv")
	last := "12345," + strings.Repeat(",", len(directory.Columns)-1) + "\n"
	if err := os.WriteFile(bad, append(text, last...), 0o600); err != nil {
		t.Fatal(err)
	}

	owner, _ := migrated(t)
	appOwner, appDB := migrated(t)
	app := appRole(t, appOwner, appDB)

	schemaBefore, oidsBefore := schema(t, owner), setAsideOIDs(t, owner)
	if len(oidsBefore) < 6 {
		t.Fatalf("indexes and foreign keys that a first load sets aside: %v", oidsBefore)
	}

	if _, err := importFile(t, owner, bad); !errors.Is(err, domain.ErrImportRefused) {
		t.Fatalf("bad file: %v, want %v", err, domain.ErrImportRefused)
	}
	if got := setAsideOIDs(t, owner); !slices.Equal(got, oidsBefore) {
		t.Errorf("after a refused first load:\n%v\nwant the same indexes and keys as before:\n%v", got, oidsBefore)
	}
	if got := contents(t, owner); len(got) != 0 {
		t.Fatalf("a refused first load stored %d rows", len(got))
	}

	want := domain.ImportCounts{Rows: f.Rows(), Added: f.Users}
	for _, s := range []*Store{owner, app} {
		if got, err := importFile(t, s, good); err != nil || got != want {
			t.Fatalf("first load: %+v, %v; want %+v", got, err, want)
		}
	}
	if got := schema(t, owner); !slices.Equal(got, schemaBefore) {
		t.Errorf("schema after a first load differs:\n%s", diffLines(schemaBefore, got))
	}
	oidsLoaded := setAsideOIDs(t, owner)
	for i := range oidsLoaded {
		if oidsLoaded[i] == oidsBefore[i] {
			t.Errorf("%s was not rebuilt: the first load did not take its own path", oidsLoaded[i])
		}
	}
	if o, a := contents(t, owner), contents(t, app); !slices.Equal(o, a) {
		t.Errorf("a first load stored other rows than the row-by-row path:\n%s", diffLines(a, o))
	}
	m, err := owner.SearchUsers(t.Context(), "okafor", 5)
	if err != nil || len(m) == 0 {
		t.Fatalf("search after a first load: %v, %v", m, err)
	}

	// The store has users now: no first load, nothing rebuilt.
	if got, err := importFile(t, owner, good); err != nil || got != (domain.ImportCounts{Rows: f.Rows(), Unchanged: f.Users}) {
		t.Fatalf("second import: %+v, %v", got, err)
	}
	if got := setAsideOIDs(t, owner); !slices.Equal(got, oidsLoaded) {
		t.Errorf("an import into a store with users rebuilt indexes:\n%v\nwas\n%v", got, oidsLoaded)
	}
}

// TestFirstLoadNotByTheAppRole: the app role owns no table, so an empty
// store is loaded row by row and its indexes stay.
func TestFirstLoadNotByTheAppRole(t *testing.T) {
	f := directorytest.File{Users: 20, First: 320000000000, SerialBase: 0x4082C00000000000}
	path, err := f.WriteFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	owner, dbURL := migrated(t)
	before := setAsideOIDs(t, owner)
	if _, err := importFile(t, appRole(t, owner, dbURL), path); err != nil {
		t.Fatal(err)
	}
	if got := setAsideOIDs(t, owner); !slices.Equal(got, before) {
		t.Errorf("the app role's import changed indexes or keys:\n%v\nwas\n%v", got, before)
	}
}

// TestFirstLoadFallsBackWhenLocked: a transaction holding a table (a
// backup, say) sends a first load down the row-by-row path after
// firstLoadLockWait, rather than into a wait without end.
func TestFirstLoadFallsBackWhenLocked(t *testing.T) {
	f := directorytest.File{Users: 20, First: 330000000000, SerialBase: 0x4082C00000000000}
	path, err := f.WriteFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	owner, _ := migrated(t)
	before := setAsideOIDs(t, owner)
	holder, err := owner.pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback(t.Context())
	if _, err := holder.Exec(t.Context(), `LOCK TABLE smartcards IN ACCESS SHARE MODE`); err != nil {
		t.Fatal(err)
	}
	if got, err := importFile(t, owner, path); err != nil || got != (domain.ImportCounts{Rows: f.Rows(), Added: f.Users}) {
		t.Fatalf("import beside a held lock: %+v, %v", got, err)
	}
	if got := setAsideOIDs(t, owner); !slices.Equal(got, before) {
		t.Errorf("indexes or keys rebuilt though the lock was not had:\n%v\nwas\n%v", got, before)
	}
}

// migrated is the owner's store of a new, migrated database, and its URL.
func migrated(t *testing.T) (*Store, string) {
	t.Helper()
	dbURL := throwawayDB(t)
	s := open(t, dbURL)
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s, dbURL
}

// appRole is the store of a new login role with the app's rights on
// dbURL's database.
func appRole(t *testing.T, owner *Store, dbURL string) *Store {
	t.Helper()
	role, appURL := pgtest.NewRole(t, dbURL)
	if err := owner.GrantApp(t.Context(), role); err != nil {
		t.Fatal(err)
	}
	return open(t, appURL)
}

func importFile(t *testing.T, s domain.Store, path string) (domain.ImportCounts, error) {
	t.Helper()
	in, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	im := domain.DirectoryImport{Store: s, Clock: domain.SystemClock{}, Terminal: "test"}
	return im.Import(t.Context(), directory.NewReader(filepath.Base(path), in, directory.Options{}))
}

// setAsideOIDs names each index and foreign key a first load sets aside,
// with its OID: a rebuilt one has a new OID.
func setAsideOIDs(t *testing.T, s *Store) []string {
	t.Helper()
	return textRows(t, s, `
		SELECT 'index ' || i.indexrelid::regclass || ' ' || i.indexrelid::oid
		FROM pg_index i
		WHERE i.indrelid = ANY (`+loadedTables+`) AND NOT i.indisunique
			AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
		UNION ALL
		SELECT 'key ' || k.conname || ' ' || k.oid
		FROM pg_constraint k
		WHERE k.contype = 'f' AND k.conrelid = ANY (`+loadedTables+`) AND k.confrelid = ANY (`+loadedTables+`)
		ORDER BY 1`)
}

// contents is every imported row as text (created_at aside: each import
// has its own time).
func contents(t *testing.T, s *Store) []string {
	t.Helper()
	return textRows(t, s, `
		SELECT format('user %s %s %s %s %s %s %s', id, title, given_name, family_name, email, search_key, sort_key) FROM users
		UNION ALL SELECT format('position %s %s %s %s %s', id, user_id, org_code, org_name, role_name) FROM positions
		UNION ALL SELECT format('activity %s %s %s', position_id, ord, code) FROM position_activities
		UNION ALL SELECT format('card %s %s %s %s %s %s %s', serial, user_id, card_type, issued_at, cert_expiry, cancelled_at, cancel_reason) FROM smartcards
		ORDER BY 1`)
}

// diffLines lists the lines only one side has.
func diffLines(want, got []string) string {
	var b strings.Builder
	for _, l := range want {
		if !slices.Contains(got, l) {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range got {
		if !slices.Contains(want, l) {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}

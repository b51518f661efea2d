package sqlite

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/directory"
	"github.com/smartcard-service-centre/kiosk/domain/directory/directorytest"
	"github.com/smartcard-service-centre/kiosk/storage/storetest"
)

// BenchmarkImport: kiosk import into the embedded store (KIOSK_BENCH_USERS
// users, default 10,000).
func BenchmarkImport(b *testing.B) {
	storetest.BenchImport(b, func(b *testing.B) domain.Store { return openTemp(b) })
}

// TestImportKeepsSearchOrder: however an import writes users (numbered
// on a first load, numbered again after a large one, placed one by one
// after a small one), every user has a search position, in name order,
// the name search finds them, and PutUser can place a user among them.
func TestImportKeepsSearchOrder(t *testing.T) {
	s := openTemp(t)
	im := domain.DirectoryImport{Store: s, Clock: domain.SystemClock{}, Terminal: "test"}
	load := func(f directorytest.File) {
		t.Helper()
		var buf bytes.Buffer
		if err := f.Write(&buf); err != nil {
			t.Fatal(err)
		}
		got, err := im.Import(t.Context(), directory.NewReader("f.csv", &buf, directory.Options{}))
		if err != nil || got.Added != f.Users {
			t.Fatalf("import %d users: %+v %v", f.Users, got, err)
		}
	}
	check := func(what string, users int) {
		t.Helper()
		var n, unplaced, disorder int
		err := s.w.QueryRowContext(t.Context(), `
			SELECT count(*), count(*) FILTER (WHERE search_pos IS NULL),
				count(*) FILTER (WHERE prev >= search_pos)
			FROM (SELECT search_pos, lag(search_pos) OVER (ORDER BY sort_key, id) AS prev FROM users)`).Scan(&n, &unplaced, &disorder)
		if err != nil {
			t.Fatal(err)
		}
		if n != users || unplaced != 0 || disorder != 0 {
			t.Fatalf("%s: %d users, %d without a search position, %d out of name order", what, n, unplaced, disorder)
		}
		var indexed int
		if err := s.w.QueryRowContext(t.Context(), `SELECT count(*) FROM users_fts WHERE users_fts MATCH '"okafor"'`).Scan(&indexed); err != nil {
			t.Fatal(err)
		}
		var want int
		if err := s.w.QueryRowContext(t.Context(), `SELECT count(*) FROM users WHERE search_key LIKE '%okafor%'`).Scan(&want); err != nil {
			t.Fatal(err)
		}
		if indexed != want || want == 0 {
			t.Fatalf("%s: the search index has %d okafors, the table %d", what, indexed, want)
		}
	}
	first := placeOneByOne + 500
	load(directorytest.File{Users: first, First: 555200000000, SerialBase: 1 << 40})
	check("first load", first)
	load(directorytest.File{Users: placeOneByOne + 1, First: 555300000000, SerialBase: 1 << 41})
	check("large load", first+placeOneByOne+1)
	load(directorytest.File{Users: 20, First: 555400000000, SerialBase: 1 << 42})
	total := first + placeOneByOne + 1 + 20
	check("small load", total)

	// A renamed user moves in name order (placed one by one).
	id := directorytest.File{First: 555400000000}.UserID(3)
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "%s\n%s,,Aaron,Aardvark,,,,,,,,,,\n", "user_id,title,given_name,family_name,email,org_code,org_name,role_name,activity_codes,card_serial,card_type,issued,cert_expiry,cancelled", id)
	if got, err := im.Import(t.Context(), directory.NewReader("rename.csv", &buf, directory.Options{})); err != nil || got.Updated != 1 {
		t.Fatalf("rename: %+v %v", got, err)
	}
	check("rename", total)
	if err := s.PutUser(t.Context(), domain.User{ID: "555999999999", GivenName: "Zed", FamilyName: "Okafor"}); err != nil {
		t.Fatalf("PutUser after imports: %v", err)
	}
	check("PutUser", total+1)
	found, err := s.SearchUsers(t.Context(), "aardvark", 5)
	if err != nil || len(found) != 1 || found[0].User.ID != id {
		t.Fatalf("search for the renamed user: %+v %v", found, err)
	}
}

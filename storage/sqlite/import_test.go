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
	// A bulk write leaves the search index in one segment, merged. With
	// FTS5's write buffer at 8 KiB (1 MiB by default) it would otherwise
	// be in many, even for these few users.
	if _, err := s.w.ExecContext(t.Context(), `INSERT INTO users_fts (users_fts, rank) VALUES ('hashsize', 8192)`); err != nil {
		t.Fatal(err)
	}
	merged := func(what string) {
		t.Helper()
		if n := searchSegments(t, s); n != 1 {
			t.Fatalf("%s: the search index is in %d segments, want 1 (merged)", what, n)
		}
	}
	first := placeOneByOne + 500
	load(directorytest.File{Users: first, First: 555200000000, SerialBase: 1 << 40})
	check("first load", first)
	merged("first load")
	load(directorytest.File{Users: placeOneByOne + 1, First: 555300000000, SerialBase: 1 << 41})
	check("large load", first+placeOneByOne+1)
	merged("large load")
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

// searchSegments is how many segments users_fts's index is in, from its
// structure record (FTS5's own format, fts5_index.c: a 4-byte cookie, a
// 4-byte mark if version 2, then SQLite varints for the number of
// levels and of segments).
func searchSegments(t *testing.T, s *Store) int {
	t.Helper()
	var rec []byte
	if err := s.w.QueryRowContext(t.Context(), `SELECT block FROM users_fts_data WHERE id = 10`).Scan(&rec); err != nil {
		t.Fatal(err)
	}
	i := 4
	if len(rec) >= 8 && bytes.Equal(rec[4:8], []byte{0xff, 0, 0, 1}) {
		i = 8
	}
	varint := func() int {
		v := 0
		for n := 0; i < len(rec) && n < 4; n++ {
			b := rec[i]
			i++
			v = v<<7 | int(b&0x7f)
			if b < 0x80 {
				return v
			}
		}
		t.Fatalf("search index structure record %x: no varint at %d", rec, i)
		return 0
	}
	varint() // levels
	return varint()
}

package storetest

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
)

// The search tests share their database with the rest of the suite, so
// every query is made to find only users this test wrote: names carry a
// fresh tag, and text too short for a tag (one or two characters) is
// made of Hangul syllables no other test uses.

// searchTests are the suite's tests of SearchUsers and ListUsers.
var searchTests = []struct {
	name string
	fn   func(t *testing.T, s domain.Store)
}{
	{"Users/Search/ByID", testSearchByID},
	{"Users/Search/ByName", testSearchByName},
	{"Users/Search/Hostile", testSearchHostile},
	{"Users/Search/Short", testSearchShort},
	{"Users/Search/CardsAndRegistration", testSearchCarries},
	{"Users/Search/Renamed", testSearchRenamed},
	{"Users/Search/Order", testSearchOrder},
	{"Users/Search/FamilyOrder", testSearchFamilyOrder},
	{"Users/List", testListUsers},
}

// RunSearch runs the suite's search tests alone: for a store whose
// search takes other ways on other settings, to run them all (Run runs
// them too).
func RunSearch(t *testing.T, open func(t *testing.T) domain.Store) {
	for _, tc := range searchTests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

func search(t *testing.T, s domain.Store, q string, limit int) []domain.UserMatch {
	t.Helper()
	got, err := s.SearchUsers(t.Context(), q, limit)
	noErr(t, fmt.Sprintf("search %q", q), err)
	return got
}

func matchIDs(ms []domain.UserMatch) []domain.UserID {
	var out []domain.UserID
	for _, m := range ms {
		out = append(out, m.User.ID)
	}
	return out
}

func userIDs(us ...domain.User) []domain.UserID {
	var out []domain.UserID
	for _, u := range us {
		out = append(out, u.ID)
	}
	return out
}

// hangul is n random Hangul syllables (11,172 of them).
func hangul(n int) string {
	var b strings.Builder
	for range n {
		b.WriteRune(rune(0xAC00 + rand.IntN(11172)))
	}
	return b.String()
}

// nameOrder is the order name results come in: family name, then given
// name, lower-cased, byte by byte; then user ID.
func nameOrder(a, b domain.User) int {
	key := func(u domain.User) string {
		return strings.ToLower(strings.TrimSpace(u.FamilyName)) + "\x1f" + strings.ToLower(strings.TrimSpace(u.GivenName))
	}
	return cmp.Or(strings.Compare(key(a), key(b)), strings.Compare(string(a.ID), string(b.ID)))
}

func testSearchByID(t *testing.T, s domain.Store) {
	ctx := t.Context()
	tag := newTag()
	// Eight random digits, then four of the test's choosing: no other
	// user in the database shares the prefix.
	p := fmt.Sprintf("%08d", rand.Int64N(1e8))
	mk := func(suffix, family string) domain.User {
		u := domain.User{ID: domain.UserID(p + suffix), GivenName: "Test", FamilyName: family + tag,
			Email: "test.user@nhs.net", Photo: []byte("\x89PNG"), CreatedAt: stored(base)}
		noErr(t, "put user", s.PutUser(ctx, u))
		u.Photo = nil // results leave the photo out
		return u
	}
	// Names in the opposite order to the IDs: ID matches come in ID order.
	u3 := mk("0300", "Bravo")
	u9 := mk("9999", "Alpha")
	u1 := mk("0100", "Delta")
	u2 := mk("0200", "Charlie")

	id := string(u1.ID)
	equal(t, "by ID", matchIDs(search(t, s, id, 10)), userIDs(u1))
	equal(t, "by spaced ID", matchIDs(search(t, s, u1.ID.String(), 10)), userIDs(u1))
	equal(t, "by dashed, padded ID", matchIDs(search(t, s, " "+id[:4]+"-"+id[4:8]+"-"+id[8:]+" ", 10)), userIDs(u1))
	equal(t, "whole record", search(t, s, id, 10), []domain.UserMatch{{User: u1}})

	equal(t, "prefix, in ID order", matchIDs(search(t, s, p, 10)), userIDs(u1, u2, u3, u9))
	equal(t, "spaced prefix", matchIDs(search(t, s, p[:4]+" "+p[4:], 10)), userIDs(u1, u2, u3, u9))
	equal(t, "longer prefix", matchIDs(search(t, s, p+"0", 10)), userIDs(u1, u2, u3))
	equal(t, "prefix of one", matchIDs(search(t, s, p+"02", 10)), userIDs(u2))
	// A prefix ending in 9 is bounded by the next prefix up, not by
	// nothing: p+"9" must not reach p+1's IDs.
	equal(t, "prefix ending in 9", matchIDs(search(t, s, p+"9", 10)), userIDs(u9))
	equal(t, "prefix of nines", matchIDs(search(t, s, p+"999", 10)), userIDs(u9))
	equal(t, "limit", matchIDs(search(t, s, p, 2)), userIDs(u1, u2))
	equal(t, "longer than an ID", matchIDs(search(t, s, id+"0", 10)), userIDs())
	equal(t, "no such ID", matchIDs(search(t, s, p+"5555", 10)), userIDs())

	// A one-digit prefix: users in ID order, all starting with it, at
	// most the default limit (limit 0).
	d := id[:1]
	got := search(t, s, d, 0)
	if len(got) == 0 {
		t.Fatalf("prefix %s found nothing", d)
	}
	for i, m := range got {
		if !strings.HasPrefix(string(m.User.ID), d) {
			t.Fatalf("prefix %s found %s", d, m.User.ID)
		}
		if i > 0 && got[i-1].User.ID >= m.User.ID {
			t.Fatalf("prefix %s: %s before %s, want ID order", d, got[i-1].User.ID, m.User.ID)
		}
	}
}

func testSearchByName(t *testing.T, s domain.Store) {
	tag := newTag()
	u1 := putUser(t, s, "Mary", "Smith"+tag)
	u2 := putUser(t, s, "Maryanne", "Jones"+tag)
	u3 := putUser(t, s, "Élodie", "Øster"+tag)
	u4 := putUser(t, s, "Mary", "Jones"+tag)
	q := func(text string, limit int) []domain.UserID { t.Helper(); return matchIDs(search(t, s, text, limit)) }

	// Family name, then given name, byte order of the lower-cased names:
	// "mary" before "maryanne", Ø after ASCII.
	all := userIDs(u4, u2, u1, u3)
	equal(t, "by tag", q(tag, 10), all)
	equal(t, "upper-case", q(strings.ToUpper(tag), 10), all)
	equal(t, "middle of the tag", q(tag[1:7], 10), all)
	equal(t, "limit", q(tag, 2), userIDs(u4, u2))
	equal(t, "limit 1", q(tag, 1), userIDs(u4))
	equal(t, "given and family", q("mary smith"+tag, 10), userIDs(u1))
	equal(t, "across the space", q("ry jones"+tag, 10), userIDs(u4))
	equal(t, "given name part", q("ARYANNE JONES"+tag, 10), userIDs(u2))
	equal(t, "inside the family name", q("mith"+tag, 10), userIDs(u1))
	equal(t, "spaces as typed", q("  mary   smith"+tag+"  ", 10), userIDs(u1))
	equal(t, "unicode case", q("ÉLODIE ØSTER"+tag, 10), userIDs(u3))
	// The search key folds case, not accents.
	equal(t, "accents are letters", q("elodie oster"+tag, 10), userIDs())
	equal(t, "absent", q("zz"+tag+"qq", 10), userIDs())

	// A family name of several words, and one with a run of spaces: the
	// search key has single spaces (search "de la", not "de  la").
	u6 := putUser(t, s, "Ana María", "De La Cruz"+tag)
	u7 := putUser(t, s, "Tab", "Van\t\tDyke  "+tag)
	equal(t, "given name into family name", q("maría de la cruz"+tag, 10), userIDs(u6))
	equal(t, "family name from its start", q("de la cruz"+tag, 10), userIDs(u6))
	equal(t, "inside the family name", q("la cruz"+tag, 10), userIDs(u6))
	equal(t, "across both spaces", q("a de la cruz"+tag, 10), userIDs(u6))
	equal(t, "runs of spaces", q("van dyke "+tag, 10), userIDs(u7))
	equal(t, "runs of spaces, given name", q("b van dyke "+tag, 10), userIDs(u7))
	equal(t, "inside, runs of spaces", q("an dyke "+tag, 10), userIDs(u7))

	// Three characters are looked for anywhere; two only at the start of
	// the family name.
	h := hangul(3)
	u5 := putUser(t, s, "Test", "Ha"+h+"ng")
	equal(t, "three characters inside", q(h, 10), userIDs(u5))
	equal(t, "two characters inside", q(string([]rune(h)[:2]), 10), userIDs())
}

func testSearchHostile(t *testing.T, s domain.Store) {
	ctx := t.Context()
	tag := newTag()
	// search key: per%cy o'brien_"<tag>
	u := putUser(t, s, "Per%cy", `O'Brien_"`+tag)
	q := func(text string) []domain.UserID { t.Helper(); return matchIDs(search(t, s, text, 10)) }

	// LIKE wildcards, quotes and FTS5 syntax are literal text.
	equal(t, "percent inside", q("r%c"), userIDs(u))
	equal(t, "underscore and double quote", q(`n_"`+tag), userIDs(u))
	equal(t, "single quote", q(`'brien_"`+tag), userIDs(u))
	equal(t, "double quote", q(`"`+tag), userIDs(u))
	equal(t, "percent is not a wildcard", q("p%y"), userIDs())
	equal(t, "percent before tag", q("%"+tag), userIDs())
	equal(t, "underscore is not a wildcard", q("per_cy"), userIDs())
	equal(t, "underscore before tag", q("_"+tag), userIDs())
	equal(t, "backslash", q(`\`+tag), userIDs())
	equal(t, "backslash escape", q(`n\_"`+tag), userIDs())
	equal(t, "FTS OR", q(tag+`" OR "per`), userIDs())
	equal(t, "FTS prefix star", q(tag[:5]+"*"), userIDs())
	equal(t, "FTS NEAR", q("NEAR("+tag+")"), userIDs())
	equal(t, "FTS column filter", q("search_key:"+tag), userIDs())
	equal(t, "FTS NOT", q(tag+" NOT per"), userIDs())
	equal(t, "SQL injection", q("' OR '1'='1"), userIDs())
	equal(t, "drop table", q("'; DROP TABLE users;--"), userIDs())
	equal(t, "NUL", q("per\x00cy"), userIDs())
	equal(t, "broken UTF-8", q("per\xffcy"), userIDs())
	equal(t, "long", q(strings.Repeat("%_'\"", 500)), userIDs())
	equal(t, "many words", q(strings.Repeat("per%cy ", 300)+tag), userIDs())
	equal(t, "many words, not all in the name", q(strings.Repeat("x ", 20)+`per%cy o'brien_"`+tag), userIDs())
	// Control characters are text too (the store takes them in names).
	ctl := putUser(t, s, "Be\x07ll", "Ring\x01"+tag)
	equal(t, "control characters", q("e\x07ll ring\x01"+tag), userIDs(ctl))
	equal(t, "control character alone", q("\x01"+tag), userIDs(ctl))
	equal(t, "empty", q(""), userIDs())
	equal(t, "blank", q(" \t "), userIDs())
	if _, err := s.GetUser(ctx, u.ID); err != nil {
		t.Fatalf("users table damaged by search input: %v", err)
	}
}

func testSearchShort(t *testing.T, s domain.Store) {
	h := hangul(2)
	first := string([]rune(h)[:1])
	omega := hangul(1)
	a := putUser(t, s, "Zed", h+"son")
	b := putUser(t, s, "Amy", h+"berg")
	c := putUser(t, s, "Bob", first+"x") // shares only the first character
	putUser(t, s, "Cy", "x"+h)           // h inside the family name
	putUser(t, s, h, "Given")            // h as the given name
	o := putUser(t, s, "Test", "Ω"+omega+"ega")
	w := putUser(t, s, "Test", "_%"+h)
	q := func(text string, limit int) []domain.UserID { t.Helper(); return matchIDs(search(t, s, text, limit)) }

	// Fewer than three characters: the family names that start with
	// them, in name order ("x" sorts before any Hangul).
	equal(t, "two characters", q(h, 10), userIDs(b, a))
	equal(t, "one character", q(first, 10), userIDs(c, b, a))
	equal(t, "one character, limit", q(first, 2), userIDs(c, b))
	equal(t, "case-insensitive", q("ω"+omega, 10), userIDs(o))
	equal(t, "underscore starts a name", q("_", 10), userIDs(w))
	equal(t, "underscore and percent", q("_%", 10), userIDs(w))
	equal(t, "percent is not a wildcard", q("%", 10), userIDs())
	equal(t, "percent then underscore", q("%_", 10), userIDs())
	equal(t, "backslash", q(`\`, 10), userIDs())
	equal(t, "quotes", q(`'"`, 10), userIDs())
	equal(t, "highest character", q("\U0010FFFF", 10), userIDs())
	// The sort key's separator after the family name is not a name.
	putUser(t, s, "No family name"+h, "")
	equal(t, "separator", q("\x1f", 10), userIDs())
}

// testSearchCarries: each result carries the user's cards and
// registration, read in the same query, and the limit counts users.
func testSearchCarries(t *testing.T, s domain.Store) {
	ctx := t.Context()
	tag := newTag()
	put := func(family string) domain.User {
		u := domain.User{ID: newUserID(), Title: "Dr", GivenName: "Test", FamilyName: family + tag,
			Email: "test.user@nhs.net", Photo: []byte("\x89PNG photo"), CreatedAt: stored(base)}
		noErr(t, "put user", s.PutUser(ctx, u))
		return u
	}
	none, one, many := put("Alpha"), put("Bravo"), put("Charlie")

	card := func(u domain.User, issued time.Time) domain.Smartcard {
		c := domain.Smartcard{Serial: newSerial(), UserID: u.ID, Type: "PIV", IssuedAt: stored(issued),
			CertExpiry: stored(issued.AddDate(2, 0, 0)), CardAuthCert: []byte("card auth cert"),
			PIVAuthCert: []byte("piv auth cert"), RenewalsSinceOperator: 2}
		noErr(t, "put smartcard", s.PutSmartcard(ctx, c))
		return c
	}
	card(one, base)
	newest := card(many, base.AddDate(1, 0, 0))
	card(many, base.AddDate(-1, 0, 0))
	lost := card(many, base)
	noErr(t, "cancel", s.CancelSmartcard(ctx, lost.Serial, base.Add(time.Hour), "Lost"))
	noErr(t, "mark for repair", s.MarkNeedsRepair(ctx, newest.Serial))
	noErr(t, "register", s.PutRegistration(ctx, domain.Registration{UserID: one.ID, Email: "one@nhs.net",
		Answers: answers(1, 2, 3, 4), RegisteredAt: base}))
	noErr(t, "register", s.PutRegistration(ctx, domain.Registration{UserID: many.ID, Email: "many@nhs.net",
		Answers: answers(5, 6, 7, 8), RegisteredAt: base.Add(time.Minute)}))
	for range 3 {
		_, err := s.RecordFailedAttempt(ctx, many.ID, 3, base.Add(2*time.Minute))
		noErr(t, "failed attempt", err)
	}

	// What the store holds, as a result shows it: no photo, no answers,
	// no certificates; cards oldest issue first, as ListSmartcards.
	want := func(u domain.User) domain.UserMatch {
		cards, err := s.ListSmartcards(ctx, u.ID)
		noErr(t, "list smartcards", err)
		for i := range cards {
			cards[i].CardAuthCert, cards[i].PIVAuthCert = nil, nil
		}
		m := domain.UserMatch{User: u, Cards: cards}
		m.User.Photo = nil
		if r, err := s.GetRegistration(ctx, u.ID); err == nil {
			m.Registration = &domain.RegistrationStatus{RegisteredAt: r.RegisteredAt,
				FailedAttempts: r.FailedAttempts, LockedOutAt: r.LockedOutAt}
		} else if !errors.Is(err, domain.ErrNotFound) {
			t.Fatal(err)
		}
		return m
	}
	all := []domain.UserMatch{want(none), want(one), want(many)}
	if len(all[2].Cards) != 3 || !all[2].Registration.LockedOut() || all[1].Registration.LockedOut() {
		t.Fatalf("test set-up: %+v", all)
	}
	equal(t, "by name", search(t, s, tag, 10), all)
	equal(t, "by ID", search(t, s, many.ID.String(), 10), all[2:])
	equal(t, "by ID prefix", search(t, s, string(one.ID), 10), all[1:2])
	equal(t, "limit counts users, not cards", search(t, s, "charlie"+tag, 1), all[2:])
	equal(t, "limit 2", search(t, s, tag, 2), all[:2])
}

// testSearchRenamed: a renamed user is found by the new name only, in
// the new name's place.
func testSearchRenamed(t *testing.T, s domain.Store) {
	ctx := t.Context()
	tag := newTag()
	u := putUser(t, s, "Rename", "Before"+tag)
	mid := putUser(t, s, "Other", "Middle"+tag)
	q := func(text string) []domain.UserID { t.Helper(); return matchIDs(search(t, s, text, 10)) }
	equal(t, "before", q("before"+tag), userIDs(u))
	equal(t, "order before", q(tag), userIDs(u, mid))

	u.FamilyName = "Zafter" + tag
	noErr(t, "rename", s.PutUser(ctx, u))
	equal(t, "old name", q("before"+tag), userIDs())
	equal(t, "new name", q("zafter"+tag), userIDs(u))
	equal(t, "order after", q(tag), userIDs(mid, u))

	u.FamilyName = "Aafter" + tag
	noErr(t, "rename back to the front", s.PutUser(ctx, u))
	equal(t, "order at the front", q(tag), userIDs(u, mid))
	u.Email = "new.address@nhs.net"
	noErr(t, "update keeping the name", s.PutUser(ctx, u))
	equal(t, "order kept", q(tag), userIDs(u, mid))
	equal(t, "found once", q("aafter"+tag), userIDs(u))
}

// testSearchOrder: results follow name order however the users were
// written: in order, against it, into one gap again and again (which
// wears out any numbering between neighbours), with equal names, at
// random.
func testSearchOrder(t *testing.T, s domain.Store) {
	ctx := t.Context()
	tag := newTag()
	var us []domain.User
	add := func(given, family string, id domain.UserID) {
		u := domain.User{ID: id, GivenName: given, FamilyName: "Order" + tag + family, CreatedAt: stored(base)}
		noErr(t, "put user", s.PutUser(ctx, u))
		us = append(us, u)
	}
	add("First", "a", newUserID())
	add("Last", "z", newUserID())
	for i := range 80 { // each just after the one before, before "z"
		add("Up", fmt.Sprintf("m%04d", i), newUserID())
	}
	for i := 80; i > 0; i-- { // each just after "a", before the one before
		add("Down", fmt.Sprintf("k%04d", i), newUserID())
	}
	p := fmt.Sprintf("%07d", rand.Int64N(1e7))
	for i := 40; i > 0; i-- { // equal names: ID order, written against it
		add("Same", "s", domain.UserID(fmt.Sprintf("%s%05d", p, i)))
	}
	for range 80 {
		add(hangul(1), fmt.Sprintf("r%03d", rand.IntN(1000)), newUserID())
	}
	slices.SortFunc(us, nameOrder)

	equal(t, "all, in name order", matchIDs(search(t, s, "order"+tag, 1000)), userIDs(us...))
	equal(t, "first 50", matchIDs(search(t, s, "order"+tag, 50)), userIDs(us[:50]...))
	var downs []domain.User
	for _, u := range us {
		if u.GivenName == "Down" {
			downs = append(downs, u)
		}
	}
	equal(t, "written against the order", matchIDs(search(t, s, "order"+tag+"k", 1000)), userIDs(downs...))
	got := search(t, s, "same order"+tag+"s", 1000)
	if len(got) != 40 || !slices.IsSortedFunc(matchIDs(got), func(a, b domain.UserID) int { return strings.Compare(string(a), string(b)) }) {
		t.Fatalf("equal names: %d results, want 40 in ID order: %v", len(got), matchIDs(got))
	}
}

// testListUsers: the listing is the search's shape, in name order.
func testListUsers(t *testing.T, s domain.Store) {
	ctx := t.Context()
	tag := newTag()
	u1 := putUser(t, s, "Zoe", "Listed"+tag)
	u2 := putUser(t, s, "Adam", "Listed"+tag)
	c := putCard(t, s, u1.ID, base)
	all, err := s.ListUsers(ctx, 1_000_000)
	noErr(t, "list users", err)
	var users []domain.User
	var mine []domain.UserMatch
	for _, m := range all {
		users = append(users, m.User)
		if strings.HasSuffix(m.User.FamilyName, tag) {
			mine = append(mine, m)
		}
	}
	if !slices.IsSortedFunc(users, nameOrder) {
		t.Fatal("listing not in name order")
	}
	c.CardAuthCert, c.PIVAuthCert = nil, nil
	equal(t, "listed", mine, []domain.UserMatch{{User: u2}, {User: u1, Cards: []domain.Smartcard{c}}})
	first, err := s.ListUsers(ctx, 3)
	noErr(t, "list users", err)
	equal(t, "limit", first, all[:min(3, len(all))])
}

// testSearchFamilyOrder: a family name followed by a character below the
// sort key's separator (a tab, a control character) sorts before the
// same name alone, and text in the family name finds the users in that
// order at every limit (a store that searches family names apart from
// the users must keep it).
func testSearchFamilyOrder(t *testing.T, s domain.Store) {
	tag := newTag()
	var us []domain.User
	for i, f := range []string{"Lee", "Lee\tRoss", "Lee Ross", "Leea", "Lee\x01", "Lee\x1fX", "Lee", "Lee\tRoss"} {
		us = append(us, putUser(t, s, fmt.Sprintf("G%d", i%3), strings.Replace(f, "Lee", "Lee"+tag, 1)))
	}
	slices.SortFunc(us, nameOrder)
	for limit := 1; limit <= len(us); limit++ {
		equal(t, fmt.Sprintf("limit %d", limit), matchIDs(search(t, s, tag, limit)), userIDs(us[:limit]...))
	}
}

package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
)

func testUserRoundTrip(t *testing.T, s domain.Store) {
	ctx := t.Context()
	u := domain.User{
		ID: newUserID(), Title: "Dr", GivenName: "Ada", FamilyName: "Lovelace", Email: "ada.lovelace@nhs.net",
		// Every byte value, including NUL and 0xFF, must survive.
		Photo:     append([]byte("\x89PNG\r\n\x1a\n\x00"), 0xff, 0x00, 0x7f),
		CreatedAt: base,
	}
	noErr(t, "put user", s.PutUser(ctx, u))
	got, err := s.GetUser(ctx, u.ID)
	noErr(t, "get user", err)
	want := u
	want.CreatedAt = stored(base)
	equal(t, "user", got, want)
	if got.CreatedAt != base.UTC().Truncate(time.Microsecond) {
		t.Fatalf("created_at %v is not == the stored time", got.CreatedAt)
	}

	// PutUser updates by ID; zero time and no photo read back as such.
	u2 := domain.User{ID: u.ID, GivenName: "Augusta Ada", FamilyName: "King", Email: "ada.king@nhs.net"}
	noErr(t, "update user", s.PutUser(ctx, u2))
	got, err = s.GetUser(ctx, u.ID)
	noErr(t, "get updated user", err)
	equal(t, "updated user", got, u2)
}

func testUserNotFound(t *testing.T, s domain.Store) {
	_, err := s.GetUser(t.Context(), newUserID())
	isErr(t, "get unknown user", err, domain.ErrNotFound, "get user")
}

func testUserMalformed(t *testing.T, s domain.Store) {
	for _, id := range []domain.UserID{"", "12345", "12345678901x", "1234 5678 9012", "1234567890123"} {
		failsPlainly(t, "put user "+string(id), s.PutUser(t.Context(), domain.User{ID: id, GivenName: "Bad"}))
	}
}

func testSearchUsers(t *testing.T, s domain.Store) {
	ctx := t.Context()
	tag := newTag()
	u1 := putUser(t, s, "Mary", "Smith"+tag)
	u2 := putUser(t, s, "Maryanne", "Jones"+tag)
	u3 := putUser(t, s, "Élodie", "Øster"+tag)
	u4 := putUser(t, s, "Per%cy", "O'Brien_"+tag)
	other := putUser(t, s, "Test", "User"+newTag())

	search := func(q string, limit int) []domain.User {
		t.Helper()
		got, err := s.SearchUsers(ctx, q, limit)
		noErr(t, "search "+q, err)
		return got
	}
	ids := func(us []domain.User) []domain.UserID {
		var out []domain.UserID
		for _, u := range us {
			out = append(out, u.ID)
		}
		return out
	}
	want := func(us ...domain.User) []domain.UserID { return ids(us) }

	// By user ID, as printed (spaces), typed with dashes or padded.
	equal(t, "by ID", ids(search(string(u1.ID), 10)), want(u1))
	equal(t, "by spaced ID", ids(search(u1.ID.String(), 10)), want(u1))
	id := string(u1.ID)
	equal(t, "by dashed ID", ids(search(" "+id[:4]+"-"+id[4:8]+"-"+id[8:]+" ", 10)), want(u1))
	equal(t, "full user record", search(u1.ID.String(), 10), []domain.User{u1})
	found := false
	for _, u := range search(id[:7], 0) {
		found = found || u.ID == u1.ID
		if u.ID[:7] != u1.ID[:7] {
			t.Fatalf("ID prefix %s matched %s", id[:7], u.ID)
		}
	}
	if !found {
		t.Fatalf("ID prefix %s did not find %s", id[:7], u1.ID)
	}

	// By part of a name, any case, ordered by family then given name
	// (byte order of the lower-cased names: Ø sorts after ASCII).
	equal(t, "by tag", ids(search(tag, 10)), want(u2, u4, u1, u3))
	equal(t, "by upper-case tag", ids(search(strings.ToUpper(tag), 10)), want(u2, u4, u1, u3))
	equal(t, "limit", ids(search(tag, 2)), want(u2, u4))
	equal(t, "given name part", ids(search("ARYANN", 10)), want(u2))
	equal(t, "given and family", ids(search("mary  smith"+tag, 10)), want(u1))
	equal(t, "unicode case-insensitive", ids(search("ÉLODIE ØSTER", 10)), want(u3))
	equal(t, "other user", ids(search(other.FamilyName, 10)), want(other))

	// Hostile input is literal text, never a pattern or SQL.
	equal(t, "percent", ids(search("%", 10)), want(u4))
	equal(t, "underscore", ids(search("_", 10)), want(u4))
	equal(t, "quote", ids(search("o'brien", 10)), want(u4))
	equal(t, "percent in name", ids(search("r%c", 10)), want(u4))
	equal(t, "like pattern", ids(search("m%y", 10)), want())
	equal(t, "single char pattern", ids(search("M_ry", 10)), want())
	equal(t, "backslash", ids(search(`\`, 10)), want())
	equal(t, "injection", ids(search("' OR '1'='1", 10)), want())
	equal(t, "drop table", ids(search("'; DROP TABLE users;--", 10)), want())
	equal(t, "empty", ids(search("", 10)), want())
	equal(t, "blank", ids(search("   ", 10)), want())
	equal(t, "unknown ID", ids(search("0000 0000 0000", 10)), want())
	if _, err := s.GetUser(ctx, u1.ID); err != nil {
		t.Fatalf("users table damaged by search input: %v", err)
	}
	all, err := s.ListUsers(ctx, 1000)
	noErr(t, "list users", err)
	var listed []domain.User
	for _, u := range all {
		if strings.Contains(u.FamilyName, tag) || strings.Contains(u.GivenName, tag) {
			listed = append(listed, u)
		}
	}
	equal(t, "list in name order", ids(listed), want(u2, u4, u1, u3))
}

func testPositions(t *testing.T, s domain.Store) {
	ctx := t.Context()
	u := putUser(t, s, "Test", "Operator")
	add := func(p domain.Position) domain.Position {
		t.Helper()
		got, err := s.AddPosition(ctx, p)
		noErr(t, "add position", err)
		if got.ID <= 0 {
			t.Fatalf("position id %d", got.ID)
		}
		p.ID = got.ID
		equal(t, "added position", got, p)
		return got
	}
	p1 := add(domain.Position{UserID: u.ID, OrgCode: "RX1", OrgName: "Example Trust", RoleName: "Sponsor",
		ActivityCodes: []domain.ActivityCode{domain.ActivitySponsor, domain.ActivityBasicUserRole}})
	p2 := add(domain.Position{UserID: u.ID, OrgCode: "RX1", OrgName: "Example Trust", RoleName: "RA Agent",
		ActivityCodes: []domain.ActivityCode{domain.ActivityRAAIDChecker, domain.ActivityLocalSCA, domain.ActivitySponsor}})
	p3 := add(domain.Position{UserID: u.ID, OrgCode: "Y42", RoleName: "Clerk"})
	if !(p1.ID < p2.ID && p2.ID < p3.ID) {
		t.Fatalf("ids not increasing: %d %d %d", p1.ID, p2.ID, p3.ID)
	}
	got, err := s.ListPositions(ctx, u.ID)
	noErr(t, "list positions", err)
	equal(t, "positions", got, []domain.Position{p1, p2, p3})

	dup := p1
	dup.ID, dup.ActivityCodes = 0, nil
	_, err = s.AddPosition(ctx, dup)
	isErr(t, "duplicate position", err, domain.ErrConflict, "add position")
	// A duplicate activity code fails the whole position: nothing is left.
	_, err = s.AddPosition(ctx, domain.Position{UserID: u.ID, OrgCode: "Z9", RoleName: "Twice",
		ActivityCodes: []domain.ActivityCode{domain.ActivitySponsor, domain.ActivitySponsor}})
	isErr(t, "duplicate activity code", err, domain.ErrConflict, "add position")
	got, err = s.ListPositions(ctx, u.ID)
	noErr(t, "list positions", err)
	equal(t, "positions after failures", got, []domain.Position{p1, p2, p3})

	_, err = s.AddPosition(ctx, domain.Position{UserID: newUserID(), OrgCode: "RX1", RoleName: "Sponsor"})
	isErr(t, "position of unknown user", err, domain.ErrNotFound, "add position")

	other := putUser(t, s, "Test", "Other")
	noErr(t, "delete positions", s.DeletePositions(ctx, u.ID))
	got, err = s.ListPositions(ctx, u.ID)
	noErr(t, "list positions", err)
	equal(t, "after delete", len(got), 0)
	noErr(t, "delete positions again", s.DeletePositions(ctx, u.ID))
	got, err = s.ListPositions(ctx, other.ID)
	noErr(t, "list positions", err)
	equal(t, "no positions", len(got), 0)
}

package storetest

import (
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

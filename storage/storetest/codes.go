package storetest

import (
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
)

func newCode(user domain.UserID, purpose domain.CodePurpose, serial domain.CardSerial, created time.Time) domain.OneTimeCode {
	return domain.OneTimeCode{UserID: user, Purpose: purpose, Hash: []byte("hmac-sha256:" + created.String()),
		CardSerial: serial, CreatedAt: created, ExpiresAt: created.Add(domain.DefaultCodePolicy.Validity),
		MaxTries: domain.DefaultCodePolicy.MaxTries}
}

func createCode(t *testing.T, s domain.Queries, c domain.OneTimeCode) domain.OneTimeCode {
	t.Helper()
	got, err := s.CreateCode(t.Context(), c)
	noErr(t, "create code", err)
	if got.ID <= 0 {
		t.Fatalf("code id %d", got.ID)
	}
	want := c
	want.ID, want.CreatedAt, want.ExpiresAt, want.UsedAt = got.ID, stored(c.CreatedAt), stored(c.ExpiresAt), stored(c.UsedAt)
	equal(t, "created code", got, want)
	return got
}

func latest(t *testing.T, s domain.Queries, user domain.UserID, purpose domain.CodePurpose) domain.OneTimeCode {
	t.Helper()
	got, err := s.LatestCode(t.Context(), user, purpose)
	noErr(t, "latest code", err)
	return got
}

func testCodes(t *testing.T, s domain.Store) {
	ctx := t.Context()
	u := putUser(t, s, "Test", "Coder")
	other := putUser(t, s, "Test", "Bystander")
	card := putCard(t, s, u.ID, base)

	c1 := createCode(t, s, newCode(u.ID, domain.PurposeUnlock, card.Serial, base))
	equal(t, "latest unlock code", latest(t, s, u.ID, domain.PurposeUnlock), c1)
	// No card: "" reads back as "".
	r1 := createCode(t, s, newCode(u.ID, domain.PurposeRegistration, "", base.Add(time.Minute)))
	o1 := createCode(t, s, newCode(other.ID, domain.PurposeUnlock, "", base.Add(time.Minute)))
	equal(t, "unlock code untouched by a registration code", latest(t, s, u.ID, domain.PurposeUnlock), c1)

	// A newer code of the same user and purpose retires the older one.
	c2 := createCode(t, s, newCode(u.ID, domain.PurposeUnlock, card.Serial, base.Add(2*time.Minute)))
	equal(t, "latest after new code", latest(t, s, u.ID, domain.PurposeUnlock), c2)
	old, err := s.RecordCodeFailure(ctx, c1.ID)
	noErr(t, "record failure on old code", err)
	want := c1
	want.Tries, want.UsedAt = 1, c2.CreatedAt
	equal(t, "retired code", old, want)
	isErr(t, "use retired code", s.UseCode(ctx, c1.ID, base.Add(3*time.Minute)), domain.ErrCodeUsed, "use code")
	equal(t, "other purpose still live", latest(t, s, u.ID, domain.PurposeRegistration), r1)
	equal(t, "other user still live", latest(t, s, other.ID, domain.PurposeUnlock), o1)

	// Wrong entries count one at a time.
	for i := 1; i <= 2; i++ {
		got, err := s.RecordCodeFailure(ctx, c2.ID)
		noErr(t, "record code failure", err)
		want := c2
		want.Tries = i
		equal(t, "code after failure", got, want)
	}
	useAt := base.Add(3*time.Minute + 7)
	noErr(t, "use code", s.UseCode(ctx, c2.ID, useAt))
	isErr(t, "use code twice", s.UseCode(ctx, c2.ID, useAt.Add(time.Second)), domain.ErrCodeUsed, "use code")
	want = c2
	want.Tries, want.UsedAt = 2, stored(useAt)
	equal(t, "used code", latest(t, s, u.ID, domain.PurposeUnlock), want)

	_, err = s.LatestCode(ctx, newUserID(), domain.PurposeUnlock)
	isErr(t, "latest of unknown user", err, domain.ErrNotFound, "latest code")
	_, err = s.RecordCodeFailure(ctx, 1<<62)
	isErr(t, "failure on unknown code", err, domain.ErrNotFound, "record code failure")
	isErr(t, "use unknown code", s.UseCode(ctx, 1<<62, base), domain.ErrNotFound, "use code")
	_, err = s.CreateCode(ctx, newCode(u.ID, domain.PurposeUnlock, newSerial(), base.Add(time.Hour)))
	isErr(t, "code for unknown card", err, domain.ErrNotFound, "create code")
	_, err = s.CreateCode(ctx, newCode(newUserID(), domain.PurposeUnlock, "", base.Add(time.Hour)))
	isErr(t, "code for unknown user", err, domain.ErrNotFound, "create code")
	bad := newCode(u.ID, "bogus", "", base.Add(time.Hour))
	_, err = s.CreateCode(ctx, bad)
	failsPlainly(t, "unknown purpose", err)
	// Registration purpose: the retiring UPDATE runs, then the INSERT fails.
	bad = newCode(u.ID, domain.PurposeRegistration, "", base.Add(time.Hour))
	bad.ExpiresAt = bad.CreatedAt
	_, err = s.CreateCode(ctx, bad)
	failsPlainly(t, "expiry not after creation", err)
	bad = newCode(u.ID, domain.PurposeUnlock, "", time.Time{})
	_, err = s.CreateCode(ctx, bad)
	failsPlainly(t, "no creation time", err)
	// The failed creations retired nothing: each is one transaction.
	equal(t, "registration code after failures", latest(t, s, u.ID, domain.PurposeRegistration), r1)
}

// testCodeUsable: UseCode itself refuses exhausted and expired codes, so a
// stale check by the caller cannot let one through.
func testCodeUsable(t *testing.T, s domain.Store) {
	ctx := t.Context()
	u := putUser(t, s, "Test", "Coder")
	c := createCode(t, s, newCode(u.ID, domain.PurposeUnlock, "", base))
	for range domain.DefaultCodePolicy.MaxTries {
		_, err := s.RecordCodeFailure(ctx, c.ID)
		noErr(t, "record code failure", err)
	}
	isErr(t, "use exhausted code", s.UseCode(ctx, c.ID, base.Add(time.Minute)), domain.ErrCodeTriesExhausted, "use code")
	// A wrong entry past the limit is refused and not counted.
	got, err := s.RecordCodeFailure(ctx, c.ID)
	isErr(t, "failure on exhausted code", err, domain.ErrCodeTriesExhausted, "record code failure")
	if got.ID != c.ID || got.Tries != domain.DefaultCodePolicy.MaxTries {
		t.Fatalf("exhausted code after a refused entry: %+v, want %d tries", got, domain.DefaultCodePolicy.MaxTries)
	}

	c = createCode(t, s, newCode(u.ID, domain.PurposeUnlock, "", base.Add(time.Hour)))
	isErr(t, "use expired code", s.UseCode(ctx, c.ID, c.ExpiresAt), domain.ErrCodeExpired, "use code")
	latestCode := latest(t, s, u.ID, domain.PurposeUnlock)
	if latestCode.Used() {
		t.Fatal("a refused UseCode marked the code used")
	}
	noErr(t, "use code just in time", s.UseCode(ctx, c.ID, c.ExpiresAt.Add(-time.Microsecond)))
}

// testCodesCreatedAfter: the codes counted against the per-user limit are
// the user's codes of the purpose created after a time, used or not,
// oldest first, and nobody else's.
func testCodesCreatedAfter(t *testing.T, s domain.Store) {
	ctx := t.Context()
	u := putUser(t, s, "Test", "Counter")
	other := putUser(t, s, "Test", "Neighbour")
	after := func(user domain.UserID, purpose domain.CodePurpose, since time.Time) []time.Time {
		t.Helper()
		got, err := s.CodesCreatedAfter(ctx, user, purpose, since)
		noErr(t, "codes created after", err)
		return got
	}
	if got := after(u.ID, domain.PurposeUnlock, base.Add(-time.Hour)); len(got) != 0 {
		t.Fatalf("codes of a user with none: %v", got)
	}
	c1 := createCode(t, s, newCode(u.ID, domain.PurposeUnlock, "", base))
	c2 := createCode(t, s, newCode(u.ID, domain.PurposeUnlock, "", base.Add(time.Hour)))
	noErr(t, "use code", s.UseCode(ctx, c2.ID, base.Add(time.Hour+time.Minute)))
	createCode(t, s, newCode(u.ID, domain.PurposeRegistration, "", base.Add(2*time.Hour)))
	createCode(t, s, newCode(other.ID, domain.PurposeUnlock, "", base.Add(2*time.Hour)))
	c3 := createCode(t, s, newCode(u.ID, domain.PurposeUnlock, "", base.Add(3*time.Hour)))

	equal(t, "all unlock codes, oldest first, used and retired ones too",
		after(u.ID, domain.PurposeUnlock, base.Add(-time.Hour)), []time.Time{c1.CreatedAt, c2.CreatedAt, c3.CreatedAt})
	// Strictly after: a code created at since has left the window.
	equal(t, "codes after the first", after(u.ID, domain.PurposeUnlock, c1.CreatedAt), []time.Time{c2.CreatedAt, c3.CreatedAt})
	equal(t, "codes after a moment before the first", after(u.ID, domain.PurposeUnlock, c1.CreatedAt.Add(-time.Microsecond)),
		[]time.Time{c1.CreatedAt, c2.CreatedAt, c3.CreatedAt})
	equal(t, "registration codes", after(u.ID, domain.PurposeRegistration, base.Add(-time.Hour)), []time.Time{stored(base.Add(2 * time.Hour))})
	equal(t, "codes of another user", after(other.ID, domain.PurposeUnlock, base.Add(-time.Hour)), []time.Time{stored(base.Add(2 * time.Hour))})
	if got := after(u.ID, domain.PurposeUnlock, c3.CreatedAt); len(got) != 0 {
		t.Fatalf("codes after the newest: %v", got)
	}
	if got := after(newUserID(), domain.PurposeUnlock, base.Add(-time.Hour)); len(got) != 0 {
		t.Fatalf("codes of an unknown user: %v", got)
	}
}

package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
)

// testChallenge: a draw of unlock questions stands until it is answered,
// and right answers never undo a lock-out.
func testChallenge(t *testing.T, s domain.Store) {
	ctx := t.Context()
	u := putUser(t, s, "Test", "Challenged")
	r := domain.Registration{UserID: u.ID, Email: "test.challenged@nhs.net", Answers: answers(1, 2, 3, 4), RegisteredAt: stored(base)}
	noErr(t, "put registration", s.PutRegistration(ctx, r))
	draw := func(want []domain.QuestionID, proposed ...domain.QuestionID) {
		t.Helper()
		got, err := s.DrawChallenge(ctx, u.ID, proposed)
		noErr(t, "draw challenge", err)
		equal(t, "challenge", got, want)
	}
	first := []domain.QuestionID{3, 1}
	draw(first, first...)
	draw(first, 2, 4, 1) // a second draw gets the first
	_, err := s.RecordFailedAttempt(ctx, u.ID, 3, base)
	noErr(t, "record failed attempt", err)
	draw([]domain.QuestionID{2, 4, 1}, 2, 4, 1) // answered: a new draw stands
	noErr(t, "pass challenge", s.PassChallenge(ctx, u.ID))
	got, err := s.GetRegistration(ctx, u.ID)
	noErr(t, "get registration", err)
	if got.FailedAttempts != 0 {
		t.Fatalf("pass challenge left %d failed attempts", got.FailedAttempts)
	}
	draw([]domain.QuestionID{4, 3}, 4, 3)
	noErr(t, "replace registration", s.PutRegistration(ctx, r))
	draw([]domain.QuestionID{1, 2}, 1, 2) // new answers, new draw

	// Locked out (by another kiosk, say): right answers change nothing.
	for range 3 {
		_, err := s.RecordFailedAttempt(ctx, u.ID, 3, base.Add(time.Minute))
		noErr(t, "record failed attempt", err)
	}
	err = s.PassChallenge(ctx, u.ID)
	if !errors.Is(err, domain.ErrLockedOut) {
		t.Fatalf("pass challenge when locked out: %v, want ErrLockedOut", err)
	}
	got, err = s.GetRegistration(ctx, u.ID)
	noErr(t, "get registration", err)
	if !got.LockedOut() || got.FailedAttempts != 3 {
		t.Fatalf("lock-out undone: %+v", got)
	}
	isErr(t, "pass challenge of unregistered user", s.PassChallenge(ctx, newUserID()), domain.ErrNotFound, "pass challenge")
	_, err = s.DrawChallenge(ctx, newUserID(), first)
	isErr(t, "draw for unregistered user", err, domain.ErrNotFound, "draw challenge")
}

// testRecordRenewal: a renewal changes only what it renews, and never
// revives a cancelled card.
func testRecordRenewal(t *testing.T, s domain.Store) {
	ctx := t.Context()
	u := putUser(t, s, "Test", "Renewer")
	c := putCard(t, s, u.ID, base)
	c.RenewalsSinceOperator, c.NeedsRepair = 1, true
	noErr(t, "put smartcard", s.PutSmartcard(ctx, c))
	expiry := base.AddDate(2, 0, 0)
	cert, pivCert := []byte{0x30, 0x01, 0x02}, []byte{0x30, 0x01, 0x0a}
	noErr(t, "record renewal", s.RecordRenewal(ctx, c.Serial, domain.RenewalRecord{CertExpiry: expiry, CardAuthCert: cert, PIVAuthCert: pivCert}))
	got, err := s.GetSmartcard(ctx, c.Serial)
	noErr(t, "get smartcard", err)
	want := c
	want.IssuedAt, want.CertExpiry, want.CardAuthCert, want.PIVAuthCert, want.RenewalsSinceOperator = stored(c.IssuedAt), stored(expiry), cert, pivCert, 2
	want.CancelledAt, want.NeedsRepair = stored(c.CancelledAt), false
	equal(t, "renewed card", got, want)

	// An operator's renewal (or repair) starts the count again.
	noErr(t, "record operator renewal", s.RecordRenewal(ctx, c.Serial, domain.RenewalRecord{CertExpiry: expiry, CardAuthCert: cert, PIVAuthCert: pivCert, Operator: true}))
	got, err = s.GetSmartcard(ctx, c.Serial)
	noErr(t, "get smartcard", err)
	want.RenewalsSinceOperator = 0
	equal(t, "card renewed by an operator", got, want)

	c.CancelledAt, c.CancelReason, c.CertExpiry = base.Add(time.Hour), "Lost", got.CertExpiry
	c.RenewalsSinceOperator, c.CardAuthCert, c.NeedsRepair = 2, cert, false
	noErr(t, "cancel", s.PutSmartcard(ctx, c))
	err = s.RecordRenewal(ctx, c.Serial, domain.RenewalRecord{CertExpiry: expiry.AddDate(1, 0, 0), CardAuthCert: []byte{9}, Operator: true})
	if !errors.Is(err, domain.ErrCardCancelled) {
		t.Fatalf("renewal of a cancelled card: %v, want ErrCardCancelled", err)
	}
	got, err = s.GetSmartcard(ctx, c.Serial)
	noErr(t, "get smartcard", err)
	if got.Active() || got.RenewalsSinceOperator != 2 || !got.CertExpiry.Equal(stored(expiry)) {
		t.Fatalf("cancelled card changed by a renewal: %+v", got)
	}
	isErr(t, "renewal of unknown card", s.RecordRenewal(ctx, newSerial(), domain.RenewalRecord{CertExpiry: expiry, CardAuthCert: cert}),
		domain.ErrNotFound, "record renewal")
}

// testNeedsRepair: a card is marked for repair, and a recorded renewal
// clears the mark.
func testNeedsRepair(t *testing.T, s domain.Store) {
	ctx := t.Context()
	u := putUser(t, s, "Test", "Repairee")
	c := putCard(t, s, u.ID, base)
	noErr(t, "mark for repair", s.MarkNeedsRepair(ctx, c.Serial))
	got, err := s.GetSmartcard(ctx, c.Serial)
	noErr(t, "get smartcard", err)
	want := c
	want.NeedsRepair = true
	equal(t, "card marked for repair", got, want)
	noErr(t, "mark again", s.MarkNeedsRepair(ctx, c.Serial))
	isErr(t, "mark unknown card", s.MarkNeedsRepair(ctx, newSerial()), domain.ErrNotFound, "mark card for repair")
}

// testCancelSmartcard: a cancellation is recorded once and never
// overwritten.
func testCancelSmartcard(t *testing.T, s domain.Store) {
	ctx := t.Context()
	u := putUser(t, s, "Test", "Canceller")
	c := putCard(t, s, u.ID, base)
	at := base.Add(time.Hour)
	noErr(t, "cancel smartcard", s.CancelSmartcard(ctx, c.Serial, at, "Stolen"))
	got, err := s.GetSmartcard(ctx, c.Serial)
	noErr(t, "get smartcard", err)
	want := c
	want.CancelledAt, want.CancelReason = stored(at), "Stolen"
	equal(t, "cancelled card", got, want)

	isErr(t, "cancel twice", s.CancelSmartcard(ctx, c.Serial, at.Add(time.Hour), "Lost"), domain.ErrCardCancelled, "cancel smartcard")
	got, err = s.GetSmartcard(ctx, c.Serial)
	noErr(t, "get smartcard", err)
	equal(t, "first cancellation kept", got, want)
	isErr(t, "cancel unknown card", s.CancelSmartcard(ctx, newSerial(), at, "Lost"), domain.ErrNotFound, "cancel smartcard")
	if err := s.CancelSmartcard(ctx, putCard(t, s, u.ID, base).Serial, at, ""); err == nil {
		t.Fatal("cancelled without a reason")
	}
}

package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
)

func testRegistrations(t *testing.T, s domain.Store) {
	ctx := t.Context()
	u := putUser(t, s, "Test", "Registrant")
	r := domain.Registration{UserID: u.ID, Email: "test.registrant@nhs.net", Answers: answers(7, 2, 19, 4), RegisteredAt: base}
	noErr(t, "put registration", s.PutRegistration(ctx, r))
	got, err := s.GetRegistration(ctx, u.ID)
	noErr(t, "get registration", err)
	want := r
	want.RegisteredAt = stored(base)
	equal(t, "registration (answers in order)", got, want)
	if got.LockedOut() {
		t.Fatal("zero LockedOutAt read back as locked out")
	}

	// Insert or replace: everything, answers included, is replaced.
	r2 := domain.Registration{UserID: u.ID, Email: "new.address@nhs.uk", Answers: answers(20, 1, 5, 6),
		FailedAttempts: 3, LockedOutAt: base.Add(time.Minute), RegisteredAt: base.Add(time.Second)}
	noErr(t, "replace registration", s.PutRegistration(ctx, r2))
	got, err = s.GetRegistration(ctx, u.ID)
	noErr(t, "get registration", err)
	want = r2
	want.LockedOutAt, want.RegisteredAt = stored(r2.LockedOutAt), stored(r2.RegisteredAt)
	equal(t, "replaced registration", got, want)

	// A bad replacement leaves the old registration whole.
	bad := r2
	bad.Email, bad.Answers = "other@nhs.net", answers(1, 1, 2, 3)
	isErr(t, "question twice", s.PutRegistration(ctx, bad), domain.ErrConflict, "put registration")
	got, err = s.GetRegistration(ctx, u.ID)
	noErr(t, "get registration", err)
	equal(t, "registration after failed replace", got, want)

	_, err = s.GetRegistration(ctx, newUserID())
	isErr(t, "unknown registration", err, domain.ErrNotFound, "get registration")
	isErr(t, "registration of unknown user", s.PutRegistration(ctx, domain.Registration{UserID: newUserID(), Email: "x@nhs.net"}),
		domain.ErrNotFound, "put registration")
	failsPlainly(t, "negative attempts", s.PutRegistration(ctx, domain.Registration{UserID: u.ID, Email: "x@nhs.net", FailedAttempts: -1}))
}

func testFailedAttempts(t *testing.T, s domain.Store) {
	ctx := t.Context()
	u := putUser(t, s, "Test", "Forgetful")
	r := domain.Registration{UserID: u.ID, Email: "test.forgetful@nhs.net", Answers: answers(1, 2, 3, 4), RegisteredAt: stored(base)}
	noErr(t, "put registration", s.PutRegistration(ctx, r))
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Minute) }
	for i := 1; i <= 5; i++ {
		got, err := s.RecordFailedAttempt(ctx, u.ID, 3, at(i))
		want := r
		want.FailedAttempts = min(i, 3) // the count stops at the limit
		if i >= 3 {
			want.LockedOutAt = stored(at(3)) // set once, when the limit is reached
		}
		if i > 3 {
			// Past the limit the attempt is refused, not counted.
			isErr(t, "attempt past the limit", err, domain.ErrLockedOut, "record failed attempt")
		} else {
			noErr(t, "record failed attempt", err)
		}
		equal(t, "registration after attempt", got, want)
	}
	noErr(t, "reset", s.ResetFailedAttempts(ctx, u.ID))
	got, err := s.GetRegistration(ctx, u.ID)
	noErr(t, "get registration", err)
	equal(t, "registration after reset", got, r)

	_, err = s.RecordFailedAttempt(ctx, newUserID(), 3, base)
	isErr(t, "attempt of unregistered user", err, domain.ErrNotFound, "record failed attempt")
	isErr(t, "reset of unregistered user", s.ResetFailedAttempts(ctx, newUserID()), domain.ErrNotFound, "reset failed attempts")
}

func testPending(t *testing.T, s domain.Store) {
	ctx := t.Context()
	u := putUser(t, s, "Test", "Pending")
	p := domain.PendingRegistration{UserID: u.ID, Email: "test.pending@nhs.net", Answers: answers(11, 3, 17, 9), CreatedAt: base}
	noErr(t, "put pending", s.PutPendingRegistration(ctx, p))
	got, err := s.GetPendingRegistration(ctx, u.ID)
	noErr(t, "get pending", err)
	want := p
	want.CreatedAt = stored(base)
	equal(t, "pending registration", got, want)

	p2 := domain.PendingRegistration{UserID: u.ID, Email: "second.try@gov.uk", Answers: answers(4, 3, 2, 1)}
	noErr(t, "replace pending", s.PutPendingRegistration(ctx, p2))
	got, err = s.GetPendingRegistration(ctx, u.ID)
	noErr(t, "get pending", err)
	equal(t, "replaced pending registration", got, p2)
	if _, err := s.GetRegistration(ctx, u.ID); err == nil {
		t.Fatal("a pending registration made a registration")
	}

	noErr(t, "delete pending", s.DeletePendingRegistration(ctx, u.ID))
	_, err = s.GetPendingRegistration(ctx, u.ID)
	isErr(t, "deleted pending", err, domain.ErrNotFound, "get pending registration")
	isErr(t, "delete again", s.DeletePendingRegistration(ctx, u.ID), domain.ErrNotFound, "delete pending registration")
	isErr(t, "pending of unknown user", s.PutPendingRegistration(ctx, domain.PendingRegistration{UserID: newUserID(), Email: "x@nhs.net"}),
		domain.ErrNotFound, "put pending registration")
}

// answerSets are a registration's answer sets for questions qs, with
// made-up hashes (the store keeps them; it never checks them).
func answerSets(qs ...int) []domain.AnswerSet {
	var ids []domain.QuestionID
	for _, q := range qs {
		ids = append(ids, domain.QuestionID(q))
	}
	var out []domain.AnswerSet
	for i, set := range domain.DrawableSets(ids) {
		out = append(out, domain.AnswerSet{Questions: set, Hash: fmt.Sprintf("$argon2id$v=19$m=19456,t=2,p=1$salt%d$set%d", i, i)})
	}
	return out
}

// testAnswerSets: a registration's answer sets come back as stored, in
// order; registering again with sets replaces per-answer hashes (an
// older registration) and the other way round; a pending registration
// keeps its sets until confirmed; a set stored twice is refused and
// leaves the registration whole.
func testAnswerSets(t *testing.T, s domain.Store) {
	ctx := t.Context()
	u := putUser(t, s, "Test", "Setter")
	old := domain.Registration{UserID: u.ID, Email: "test.setter@nhs.net", Answers: answers(7, 2, 19, 4), RegisteredAt: stored(base)}
	noErr(t, "put registration with answers", s.PutRegistration(ctx, old))

	r := domain.Registration{UserID: u.ID, Email: "test.setter@nhs.net", Sets: answerSets(20, 3, 11, 5), RegisteredAt: stored(base.Add(time.Hour))}
	if len(r.Sets) != 11 {
		t.Fatalf("%d answer sets for 4 questions, want 11", len(r.Sets))
	}
	noErr(t, "register again with answer sets", s.PutRegistration(ctx, r))
	got, err := s.GetRegistration(ctx, u.ID)
	noErr(t, "get registration", err)
	equal(t, "registration with answer sets (the answers replaced)", got, r)
	noErr(t, "registration read back is valid", domain.ValidateAnswers(got.Answers, got.Sets))

	// Failed attempts and their reset keep the sets.
	_, err = s.RecordFailedAttempt(ctx, u.ID, 3, base.Add(2*time.Hour))
	noErr(t, "record failed attempt", err)
	noErr(t, "reset", s.ResetFailedAttempts(ctx, u.ID))
	got, err = s.GetRegistration(ctx, u.ID)
	noErr(t, "get registration", err)
	equal(t, "registration after a failed attempt and reset", got, r)

	bad := r
	bad.Email, bad.Sets = "other@nhs.net", append(answerSets(1, 2, 3, 4), answerSets(1, 2, 3, 4)[0])
	isErr(t, "a set twice", s.PutRegistration(ctx, bad), domain.ErrConflict, "put registration")
	got, err = s.GetRegistration(ctx, u.ID)
	noErr(t, "get registration", err)
	equal(t, "registration after failed replace", got, r)

	// A set the store could not read back is refused: fewer than two
	// questions, or a question that is none.
	for _, qs := range [][]domain.QuestionID{nil, {5}, {0, 5}} {
		bad := r
		bad.Sets = append(slices.Clone(r.Sets[1:]), domain.AnswerSet{Questions: qs, Hash: "h"})
		failsPlainly(t, fmt.Sprintf("answer set of questions %v", qs), s.PutRegistration(ctx, bad))
	}
	got, err = s.GetRegistration(ctx, u.ID)
	noErr(t, "get registration", err)
	equal(t, "registration after refused sets", got, r)

	back := old
	back.RegisteredAt = stored(base.Add(3 * time.Hour))
	noErr(t, "put registration with answers again", s.PutRegistration(ctx, back))
	got, err = s.GetRegistration(ctx, u.ID)
	noErr(t, "get registration", err)
	equal(t, "registration with answers (the sets replaced)", got, back)

	p := domain.PendingRegistration{UserID: u.ID, Email: "test.setter@nhs.uk", Sets: answerSets(1, 9, 14, 6), CreatedAt: stored(base)}
	noErr(t, "put pending", s.PutPendingRegistration(ctx, p))
	gotP, err := s.GetPendingRegistration(ctx, u.ID)
	noErr(t, "get pending", err)
	equal(t, "pending registration with answer sets", gotP, p)
	got, err = s.GetRegistration(ctx, u.ID)
	noErr(t, "get registration", err)
	equal(t, "registration beside a pending one", got, back)
	noErr(t, "delete pending", s.DeletePendingRegistration(ctx, u.ID))
}

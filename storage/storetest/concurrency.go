package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
)

const racers = 20

// race runs fn from racers goroutines released together.
func race(fn func(i int)) {
	var (
		start = make(chan struct{})
		wg    sync.WaitGroup
	)
	for i := range racers {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}

// testConcurrentFailedAttempts: two kiosks (here twenty callers on two
// connection pools) counting at once lose no attempt, never count past
// the limit, and lock the user out exactly once; the attempts past the
// limit are refused with ErrLockedOut.
func (st *suite) testConcurrentFailedAttempts(t *testing.T, s domain.Store) {
	ctx := t.Context()
	kiosks := st.pair(t, s)
	u := putUser(t, s, "Test", "Racer")
	r := domain.Registration{UserID: u.ID, Email: "test.racer@nhs.net", Answers: answers(1, 2, 3, 4)}
	noErr(t, "put registration", s.PutRegistration(ctx, r))
	const limit = 3
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Second) }
	var (
		results [racers]domain.Registration
		errs    [racers]error
	)
	race(func(i int) { results[i], errs[i] = kiosks[i%2].RecordFailedAttempt(ctx, u.ID, limit, at(i)) })
	var counts []int
	var lockedAt time.Time
	refused := 0
	for i, got := range results {
		if errors.Is(errs[i], domain.ErrLockedOut) {
			refused++
			continue
		}
		noErr(t, "record failed attempt", errs[i])
		counts = append(counts, got.FailedAttempts)
		if got.FailedAttempts == limit {
			lockedAt = stored(at(i)) // the call that reached the limit
		}
	}
	slices.Sort(counts)
	if !slices.Equal(counts, []int{1, 2, 3}) || refused != racers-limit {
		t.Fatalf("counts returned %v and %d refused, want each of 1..%d once and %d refused", counts, refused, limit, racers-limit)
	}
	for i, got := range results {
		var want time.Time
		if got.FailedAttempts >= limit {
			want = lockedAt
		}
		if got.LockedOutAt != want {
			t.Fatalf("call %d (%d attempts, %v) saw lock-out %v, want %v", i, got.FailedAttempts, errs[i], got.LockedOutAt, want)
		}
	}
	final, err := s.GetRegistration(ctx, u.ID)
	noErr(t, "get registration", err)
	if final.FailedAttempts != limit || final.LockedOutAt != lockedAt {
		t.Fatalf("final %d attempts locked at %v, want %d at %v", final.FailedAttempts, final.LockedOutAt, limit, lockedAt)
	}
}

// testConcurrentCodeFailures: wrong codes typed at once on two kiosks
// count up to the code's limit and no further; the rest are refused with
// ErrCodeTriesExhausted.
func (st *suite) testConcurrentCodeFailures(t *testing.T, s domain.Store) {
	ctx := t.Context()
	kiosks := st.pair(t, s)
	u := putUser(t, s, "Test", "Racer")
	c := createCode(t, s, newCode(u.ID, domain.PurposeUnlock, "", base))
	var (
		results [racers]domain.OneTimeCode
		errs    [racers]error
	)
	race(func(i int) { results[i], errs[i] = kiosks[i%2].RecordCodeFailure(ctx, c.ID) })
	var tries []int
	for i, got := range results {
		if errors.Is(errs[i], domain.ErrCodeTriesExhausted) {
			continue
		}
		noErr(t, "record code failure", errs[i])
		tries = append(tries, got.Tries)
	}
	slices.Sort(tries)
	want := make([]int, 0, c.MaxTries)
	for i := range c.MaxTries {
		want = append(want, i+1)
	}
	if !slices.Equal(tries, want) {
		t.Fatalf("tries returned %v, want %v (the rest refused)", tries, want)
	}
	if got := latest(t, s, u.ID, domain.PurposeUnlock); got.Tries != c.MaxTries {
		t.Fatalf("final tries %d, want %d", got.Tries, c.MaxTries)
	}
}

// testConcurrentUseCode: of twenty kiosks entering the same code at once,
// exactly one gets in. A lost race needs unlucky timing, so it is run for
// several codes.
func testConcurrentUseCode(t *testing.T, s domain.Store) {
	ctx := t.Context()
	u := putUser(t, s, "Test", "Racer")
	for round := range 5 {
		created := base.Add(time.Duration(round) * time.Hour)
		c := createCode(t, s, newCode(u.ID, domain.PurposeUnlock, "", created))
		var errs [racers]error
		race(func(i int) { errs[i] = s.UseCode(ctx, c.ID, created.Add(time.Duration(i+1)*time.Second)) })
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, domain.ErrCodeUsed):
				t.Fatalf("use code: %v, want nil or ErrCodeUsed", err)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d of %d concurrent UseCode calls succeeded, want exactly 1", round, ok, racers)
		}
		if !latest(t, s, u.ID, domain.PurposeUnlock).Used() {
			t.Fatal("code not marked used")
		}
	}
}

// testConcurrentCancel: operators cancelling one card at once (on two
// connection pools) cancel it once; the first reason stands.
func (st *suite) testConcurrentCancel(t *testing.T, s domain.Store) {
	ctx := t.Context()
	terminals := st.pair(t, s)
	u := putUser(t, s, "Test", "Racer")
	c := putCard(t, s, u.ID, base)
	var errs [racers]error
	race(func(i int) {
		errs[i] = terminals[i%2].CancelSmartcard(ctx, c.Serial, base.Add(time.Duration(i+1)*time.Second), fmt.Sprint("Other: racer ", i))
	})
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("racers %d and %d both cancelled the card", winner, i)
		case err == nil:
			winner = i
		default:
			isErr(t, fmt.Sprint("racer ", i), err, domain.ErrCardCancelled, "cancel smartcard")
		}
	}
	if winner < 0 {
		t.Fatal("no racer cancelled the card")
	}
	got, err := s.GetSmartcard(ctx, c.Serial)
	noErr(t, "get smartcard", err)
	if got.CancelReason != fmt.Sprint("Other: racer ", winner) || !got.CancelledAt.Equal(stored(base.Add(time.Duration(winner+1)*time.Second))) {
		t.Fatalf("cancelled as %q at %v, want racer %d's", got.CancelReason, got.CancelledAt, winner)
	}
}

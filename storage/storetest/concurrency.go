package storetest

import (
	"errors"
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

// testConcurrentFailedAttempts: two kiosks (here twenty callers) counting
// at once lose no attempt and lock the user out exactly once.
func testConcurrentFailedAttempts(t *testing.T, s domain.Store) {
	ctx := t.Context()
	u := putUser(t, s, "Test", "Racer")
	r := domain.Registration{UserID: u.ID, Email: "test.racer@nhs.net", Answers: answers(1, 2, 3, 4)}
	noErr(t, "put registration", s.PutRegistration(ctx, r))
	const limit = 3
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Second) }
	var (
		results [racers]domain.Registration
		errs    [racers]error
	)
	race(func(i int) { results[i], errs[i] = s.RecordFailedAttempt(ctx, u.ID, limit, at(i)) })
	var counts []int
	var lockedAt time.Time
	for i, got := range results {
		noErr(t, "record failed attempt", errs[i])
		counts = append(counts, got.FailedAttempts)
		if got.FailedAttempts == limit {
			lockedAt = stored(at(i)) // the call that reached the limit
		}
	}
	slices.Sort(counts)
	for i, c := range counts {
		if c != i+1 {
			t.Fatalf("counts returned %v, want each of 1..%d once", counts, racers)
		}
	}
	for _, got := range results {
		var want time.Time
		if got.FailedAttempts >= limit {
			want = lockedAt
		}
		if got.LockedOutAt != want {
			t.Fatalf("attempt %d saw lock-out %v, want %v", got.FailedAttempts, got.LockedOutAt, want)
		}
	}
	final, err := s.GetRegistration(ctx, u.ID)
	noErr(t, "get registration", err)
	if final.FailedAttempts != racers || final.LockedOutAt != lockedAt {
		t.Fatalf("final %d attempts locked at %v, want %d at %v", final.FailedAttempts, final.LockedOutAt, racers, lockedAt)
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

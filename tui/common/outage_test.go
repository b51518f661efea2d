package common

import (
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
)

// The store being away is said as temporary, and ends nothing: not the
// visit (Fatal) and not "Service not available" (a fault). A change made
// but not recorded is still said as that, whatever the store said.
func TestExplainStoreUnavailable(t *testing.T) {
	err := fmt.Errorf("look up smartcard: %w", fmt.Errorf("%w: connection refused", domain.ErrStoreUnavailable))
	ex := noService.Explain(err)
	if ex.Title != "Temporarily unavailable" || ex.Fatal || ex.Fault || IsServiceFault(err) {
		t.Fatalf("Explain(%v) = %+v: want temporarily unavailable, neither fatal nor a fault", err, ex)
	}
	if !IsUnavailable(err) || IsUnavailable(errors.New("sql: database is closed")) {
		t.Fatal("IsUnavailable does not follow domain.ErrStoreUnavailable")
	}
	if !IsUnavailable(TryTimedOut()) {
		t.Fatal("a try that timed out is not taken as the store still away")
	}
	delayed := fmt.Errorf("%w: %w", domain.ErrRecordDelayed, domain.ErrStoreUnavailable)
	if ex := noService.Explain(delayed); ex.Title != "Done, but not yet recorded" {
		t.Fatalf("Explain(%v) = %+v: a change made must be said as made", delayed, ex)
	}
}

// Tries again wait 1 s, 2 s, 4 s, then 5 s for ever.
func TestBackoff(t *testing.T) {
	c := &Common{}
	var got []time.Duration
	for n := range 6 {
		got = append(got, c.Backoff(n))
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second, 5 * time.Second}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("backoff %v, want %v", got, want)
	}
	c.RetryBase = 10 * time.Millisecond
	if d := c.Backoff(10); d != 50*time.Millisecond {
		t.Fatalf("backoff capped at %v, want 5 × the base", d)
	}
}

// A Retrier's tick is due once, only while it waits with no try in
// flight; the store coming back makes a try due at once; Stop says
// whether a try was still in flight.
func TestRetrier(t *testing.T) {
	c := &Common{Calls: NewCalls(time.Second), Log: slog.New(slog.DiscardHandler)}
	v := NewVisit(t.Context(), 1, c.Calls)
	var r Retrier
	if r.Due(StoreBackMsg{}) {
		t.Fatal("due before it waits")
	}
	r.Wait(c, domain.ErrStoreUnavailable)
	if !c.StoreDown {
		t.Fatal("the store is not marked away at once")
	}
	tick := RetryMsg{&r, r.gen}
	if !r.Due(tick) || !r.Due(StoreBackMsg{}) {
		t.Fatal("not due while waiting")
	}
	var other Retrier
	if other.Due(tick) {
		t.Fatal("another Retrier's tick is due")
	}
	r.Try(v, nil, nil) // not run: the Cmd is dropped
	if r.Due(tick) || r.Due(StoreBackMsg{}) {
		t.Fatal("due with a try in flight, or on a spent tick")
	}
	if !r.Stop() || r.Waiting() {
		t.Fatal("Stop does not report the try in flight, or still waits")
	}
	r.Wait(c, domain.ErrStoreUnavailable)
	if r.Stop() {
		t.Fatal("Stop reports a try in flight between tries")
	}
}

package tui_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/selfservice"
	"github.com/smartcard-service-centre/kiosk/tui"
	"github.com/smartcard-service-centre/kiosk/tui/common"
	"github.com/smartcard-service-centre/kiosk/tui/components"
	"github.com/smartcard-service-centre/kiosk/tui/tuitest"
)

// awayStore is the store as the service sees it, which a test can take
// away (tuitest.AwayStore); while down, reading a registration fails too.
type awayStore struct {
	tuitest.AwayStore
	// hang: while down, reading a registration answers only when its
	// context ends, as a hung database does; hung counts those reads.
	hang atomic.Bool
	hung atomic.Int64
}

func (a *awayStore) GetRegistration(ctx context.Context, id domain.UserID) (domain.Registration, error) {
	if a.Down.Load() && a.hang.Load() {
		a.hung.Add(1)
		<-ctx.Done()
		return domain.Registration{}, fmt.Errorf("%w: %w", domain.ErrStoreUnavailable, ctx.Err())
	}
	if err := a.Away(); err != nil {
		return domain.Registration{}, err
	}
	return a.Store.GetRegistration(ctx, id)
}

// withAway gives the fixture's service a store that can go away.
func withAway(a **awayStore) func(*selfservice.Config) {
	return func(cfg *selfservice.Config) {
		*a = &awayStore{AwayStore: tuitest.AwayStore{Store: cfg.Store}}
		cfg.Store = *a
	}
}

// fastOutage makes the kiosk notice the store going and coming back, and
// try again, within tens of milliseconds.
var fastOutage = tui.WithOutageTimings(50*time.Millisecond, 20*time.Millisecond, 20*time.Millisecond)

// refusedMore waits until the store has refused more calls than n: the
// kiosk is trying again by itself.
func refusedMore(t *testing.T, a *awayStore, n int64) {
	t.Helper()
	eventually(t, fmt.Sprintf("more than %d calls to the store away", n), func() bool { return a.Refused.Load() > n })
}

// The store goes away before a card is inserted: the start screen and
// the banner say so, the card inserted waits (said as temporarily
// unavailable, never as a fault to pull the card for) and is identified
// by itself once the store is back, without being reinserted. At 80×24.
func TestStoreAwayAtCardIdentification(t *testing.T) {
	t.Parallel()
	var away *awayStore
	fx := newFixture(t, withAway(&away))
	card := fx.add(testPerson())
	k := fx.start(80, 24, fastOutage)
	k.waitFor("Insert your Smartcard into the reader to begin.")

	away.Down.Store(true)
	k.waitFor(components.StoreDownText, "temporarily unavailable", "Insert your Smartcard all the same")
	fx.readers.Insert(card)
	s := k.waitFor(common.Unavailable.Title, "We cannot reach the Smartcard Service Centre's records at the moment.",
		"this screen carries on by itself", "You do not need to remove your Smartcard.", components.StoreDownText)
	for _, bad := range []string{"Service not available", "Please remove", "remove card finish"} {
		if strings.Contains(flat(s), bad) {
			t.Fatalf("the store away is said as %q:\n%s", bad, s)
		}
	}
	// Tried again in the background, not once and given up.
	refusedMore(t, away, away.Refused.Load()+3)

	away.Down.Store(false)
	k.waitFor("Hello, Mr Test Person", "What would you like to do?")
	k.waitGone(components.StoreDownText)
	if !strings.Contains(k.logText(), `level=ERROR msg="store unavailable`) || !strings.Contains(k.logText(), "store available again") {
		t.Fatalf("the outage and the return are not in the log:\n%s", k.logText())
	}
}

// Starting Smartcard Unlock with the store away carries on by itself when
// it is back (StartUnlock only reads). The answers then sent while it is
// away are not sent again by themselves, since the domain may have
// counted a failed attempt: they stay typed, and Enter sends them once
// the banner has gone. No attempt is counted, and one code is sent.
func TestStoreAwayDuringUnlock(t *testing.T) {
	t.Parallel()
	var away *awayStore
	fx := newFixture(t, withAway(&away))
	p := testPerson()
	card := fx.add(p)
	k := fx.start(100, 40, fastOutage)
	fx.readers.Insert(card)
	k.waitFor("What would you like to do?")
	k.press("enter")
	k.waitFor("Start")

	away.Down.Store(true)
	k.press("enter")
	k.waitFor(common.Unavailable.Title, "this screen carries on by itself", "Smartcard Unlock will then start", components.StoreDownText)
	refusedMore(t, away, away.Refused.Load()+2)
	away.Down.Store(false)
	k.waitFor("To confirm your identity")
	k.waitGone(components.StoreDownText)

	away.Down.Store(true)
	k.answer(p.Answers, false)
	k.waitFor("Temporarily unavailable: we cannot reach the Smartcard Service Centre's records at the moment.",
		"Nothing you typed has been lost", "When the message at the bottom of the screen has gone, press Enter to try again.",
		components.StoreDownText)
	away.Down.Store(false)
	k.waitGone(components.StoreDownText)
	k.waitFor("The Smartcard Service Centre is available again. Nothing you typed has been lost: press Enter to try again.")
	// Not sent again by itself: still the questions, a moment later.
	time.Sleep(200 * time.Millisecond)
	s := k.settle()
	if !strings.Contains(flat(s), "To confirm your identity") || strings.Contains(flat(s), "Smartcard Unlock Code") {
		t.Fatalf("the answers were sent again without the holder:\n%s", s)
	}
	k.press("enter") // the answers are still typed
	k.waitFor("Smartcard Unlock Code", "Once you receive the code")
	reg, err := fx.store.GetRegistration(t.Context(), p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if reg.FailedAttempts != 0 {
		t.Fatalf("%d failed attempts recorded, want none: the outage counted against the holder", reg.FailedAttempts)
	}
	if n := fx.countMail("Smartcard Unlock Code"); n != 1 {
		t.Fatalf("%d codes emailed, want 1", n)
	}
}

// Esc while Smartcard Unlock waits for the store goes back to the menu,
// as before, between tries or with one in flight (given up, and waited
// for); the visit goes on.
func TestStoreAwayBackToTheMenu(t *testing.T) {
	t.Parallel()
	var away *awayStore
	fx := newFixture(t, withAway(&away))
	card := fx.add(testPerson())
	k := fx.start(100, 40, fastOutage)
	fx.readers.Insert(card)
	for _, inFlight := range []bool{false, true} {
		k.waitFor("What would you like to do?")
		k.press("enter")
		k.waitFor("Start")
		away.Down.Store(true)
		k.press("enter")
		k.waitFor(common.Unavailable.Title, "esc back")
		if inFlight {
			n := away.hung.Load()
			away.hang.Store(true)
			eventually(t, "a try in flight", func() bool { return away.hung.Load() > n })
		}
		k.press("esc")
		k.waitFor("What would you like to do?")
		away.hang.Store(false)
		away.Down.Store(false)
		k.waitGone(components.StoreDownText)
	}
	k.press("enter")
	k.waitFor("Start")
	k.press("enter")
	k.waitFor("To confirm your identity")
}

// The idle timeout still ends a visit waiting for the store: trying
// again is no sign of life.
func TestIdleTimeoutWhileStoreAway(t *testing.T) {
	t.Parallel()
	var away *awayStore
	fx := newFixture(t, withAway(&away))
	card := fx.add(testPerson())
	k := fx.start(100, 32, fastOutage)
	away.Down.Store(true)
	fx.readers.Insert(card)
	k.waitFor(common.Unavailable.Title, "this screen carries on by itself")
	refusedMore(t, away, away.Refused.Load()+3)
	fx.clock.Advance(tui.DefaultIdleTimeout + time.Second)
	k.waitFor("Your session ended because there was no activity")
	// The visit is over: the store coming back starts nothing by itself.
	away.Down.Store(false)
	k.waitGone(components.StoreDownText)
	s := k.settle()
	if strings.Contains(flat(s), "Hello, Mr Test Person") {
		t.Fatalf("the timed-out visit went on when the store came back:\n%s", s)
	}
}

package tui_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/storage/sqlite"
	"github.com/smartcard-service-centre/kiosk/tui"
)

// tui.Run returns only once the calls still running have finished, so
// the store the caller then closes still takes the record of an unlock
// that happened on the card as the kiosk was stopping.
func TestRunWaitsForCallsInFlight(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := testPerson()
	card := fx.add(p)
	entered, release := make(chan struct{}), make(chan struct{})
	card.Hook = func(op string) {
		if op == "Unlock" {
			close(entered)
			<-release // a card that ignores the kiosk stopping
		}
	}
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	k := fx.run(ctx, 100, 40)
	fx.readers.Insert(card)
	k.toNewPasscode(p.Answers)
	k.typeText("2468")
	k.press("enter")
	k.typeText("2468")
	k.press("enter")
	await(t, "the unlock to reach the card", entered)
	stop()
	// The card answers once the kiosk is waiting for it (or, were it not
	// to wait, once the store is closed).
	eventually(t, "the kiosk to stop", func() bool {
		select {
		case <-k.closed:
			return true
		default:
			return strings.Contains(k.logText(), "waiting for domain calls to finish")
		}
	})
	close(release)
	select {
	case err := <-k.done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Run did not return")
	}
	if !card.PINIs("2468") {
		t.Fatal("the card was not unlocked")
	}
	store, err := sqlite.Open(t.Context(), fx.path, sqlite.WithAuditChain(fx.keys))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	evs, err := store.ListAudit(t.Context(), domain.AuditFilter{Action: domain.AuditSelfUnlock})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(evs, func(e domain.AuditEvent) bool { return e.Outcome == domain.OutcomeSuccess }) {
		t.Fatalf("the unlock that happened is not in the audit log: %+v\nkiosk log:\n%s", evs, k.logText())
	}
}

// A call that ignores its deadline ends the visit: the kiosk does not
// stay busy, with the idle timeout held off and the typing on screen.
func TestStuckCallEndsTheVisit(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := unblocked()
	card := fx.add(p)
	stuck := make(chan struct{})
	t.Cleanup(func() { close(stuck) })
	card.Hook = func(op string) {
		if op == "ChangePasscode" {
			<-stuck
		}
	}
	k := fx.start(100, 40, tui.WithTimings(2*time.Second, 0))
	signIn(t, k, card, p.PIN)
	k.press("2")
	k.waitFor("Current Passcode")
	k.typeText(p.PIN)
	k.press("tab")
	k.typeText("2468")
	k.press("tab")
	k.typeText("2468")
	k.press("enter")
	k.waitFor("Please wait")
	s := k.waitFor("the kiosk stopped getting an answer", "insert it again to check",
		"Remove your Smartcard to finish, or press Enter to start again.")
	for _, bad := range []string{"Please wait", "Change passcode", "Mr Test Person"} {
		if strings.Contains(s, bad) {
			t.Fatalf("the stuck visit is still on screen (%q):\n%s", bad, s)
		}
	}
}

// With no reader, the kiosk logs the failure once and then only changes,
// not every retry.
func TestReaderFailureLoggedOnce(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	fx.readers.FailEvents(fmt.Errorf("establish context: %w", domain.ErrReaderUnavailable))
	k := fx.start(100, 32, tui.WithTimings(0, 10*time.Millisecond))
	k.waitFor("The card reader service is not available at the moment")
	eventually(t, "several retries", func() bool { return fx.readers.Subscriptions() >= 5 })
	if n := strings.Count(k.logText(), `msg="card reader"`); n != 1 {
		t.Fatalf("reader failure logged %d times:\n%s", n, k.logText())
	}
	fx.readers.FailEvents(nil)
	k.waitFor("Insert your Smartcard into the reader to begin.")
	eventually(t, "the recovery in the log", func() bool {
		return strings.Contains(k.logText(), "card reader available again")
	})
}

// A program from NewProgram without a Context ends its card event
// subscription when it ends.
func TestProgramEndsItsSubscription(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := tui.NewProgram(tui.Options{Service: fx.svc, Readers: fx.readers, Now: fx.clock.Now},
		tea.WithInput(&bytes.Buffer{}), tea.WithOutput(io.Discard), tea.WithWindowSize(100, 32), tea.WithoutSignals())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := p.Run(); err != nil {
			t.Errorf("Run = %v", err)
		}
	}()
	eventually(t, "the subscription", func() bool { return fx.readers.Subscribers() == 1 })
	p.Quit()
	await(t, "the program to end", done)
	eventually(t, "the subscription to end", func() bool { return fx.readers.Subscribers() == 0 })
}

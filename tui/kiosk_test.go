package tui_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/internal/sstest"
	"github.com/smartcard-service-centre/kiosk/tui"
)

func TestIdleTimeoutCountsDownAndWipes(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := testPerson()
	card := fx.add(p)
	k := fx.start(100, 40)
	k.typeVisibleAnswer(fx, card, "Secretanswer")

	fx.clock.Advance(95 * time.Second)
	k.waitFor("Are you still there? This screen will close and clear in 25 seconds.", "any key carry on")
	// The key that answers the warning does not also type.
	k.typeText("x")
	k.waitGone("Are you still there?")
	k.typeText("y")
	s := k.waitFor("Secretanswery")
	if strings.Contains(s, "Secretanswerx") {
		t.Fatalf("the key dismissing the warning was typed:\n%s", s)
	}

	fx.clock.Advance(121 * time.Second)
	s = k.waitFor("Your session ended because there was no activity, and everything you typed was cleared.",
		"Remove your Smartcard to finish, or press Enter to start again.")
	if strings.Contains(s, "Secretanswer") || strings.Contains(s, "Hello, Mr Test Person") {
		t.Fatalf("the timed-out visit is still on screen:\n%s", s)
	}
	// The card is still in: Enter starts a fresh visit.
	k.press("enter")
	k.pressStart()
	s = k.waitFor("To confirm your identity")
	if strings.Contains(s, "Secretanswer") {
		t.Fatalf("typed answer survived the timeout:\n%s", s)
	}
}

func TestNoWayOutForThePublic(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	card := fx.add(testPerson())
	k := fx.start(100, 32)
	k.waitFor("Insert your Smartcard")
	k.press("ctrl+c", "esc", "ctrl+z", "ctrl+\\", "ctrl+d", "q")
	k.tm.Send(tea.InterruptMsg{}) // SIGINT when input is not a terminal
	k.tm.Send(tea.SuspendMsg{})
	fx.readers.Insert(card)
	k.waitFor("Hello, Mr Test Person")
	k.press("ctrl+c", "esc")
	k.waitFor("What would you like to do?")
}

func TestAllowExitLetsCtrlCQuit(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	k := fx.start(100, 32, func(o *tui.Options) { o.AllowExit = true })
	k.waitFor("ctrl+c quit (development)")
	k.press("ctrl+c")
	k.tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))
}

func TestTooSmallAndResize(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	k := fx.start(50, 15)
	k.waitFor("This window is too small", "at least 60 × 20 characters (it is 50 × 15 now)")
	k.resize(80, 24)
	k.waitFor("Welcome to the Smartcard Service Centre", "Insert your Smartcard")
	k.resize(120, 40)
	s := k.waitUntil("the header to span 120 columns", func(s string) bool { return headerWidth(s) == 119 })
	k.waitFor("Welcome to the Smartcard Service Centre", "Insert your Smartcard", "No Smartcard in the reader")
	if strings.Contains(s, "too small") {
		t.Fatalf("still too small:\n%s", s)
	}
	k.resize(59, 30)
	k.waitFor("This window is too small")
}

// headerWidth is how far the title bar reaches (its right text ends one
// column before the edge).
func headerWidth(s string) int {
	line, _, _ := strings.Cut(s, "\n")
	return len([]rune(strings.TrimRight(line, " ")))
}

func (k *kiosk) resize(w, h int) {
	k.screen() // take what was drawn at the old size first
	k.emu.Resize(w, h)
	k.last = ""
	k.tm.Send(tea.WindowSizeMsg{Width: w, Height: h})
}

func TestCardProblems(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		card func(fx *fixture, p sstest.Holder) *sstest.Card // what goes in the reader
		want []string
	}{
		{"cancelled", func(fx *fixture, p sstest.Holder) *sstest.Card {
			p.Cancelled, p.Reason = true, "Lost\x1b]52;c;ZXZpbA==\x07"
			return fx.add(p)
		}, []string{
			"Smartcard cancelled", "This Smartcard has been cancelled (reason: Lost) and can no longer be used.",
			"contact your Registration Authority for a replacement card"}},
		{"unknown", func(_ *fixture, p sstest.Holder) *sstest.Card {
			return sstest.NewCard(p.Serial, p.PIN, p.PUK)
		}, []string{
			"Smartcard not recognised", "This Smartcard is not known to the Smartcard Service Centre."}},
		{"not genuine", func(fx *fixture, p sstest.Holder) *sstest.Card {
			fx.add(p)
			return sstest.NewCard(p.Serial, p.PIN, p.PUK) // the same serial, another key
		}, []string{
			"Smartcard could not be verified", "could not confirm that this is a genuine Smartcard"}},
		{"reader unavailable", func(fx *fixture, p sstest.Holder) *sstest.Card {
			fx.readers.FailOpen(domain.ErrReaderUnavailable)
			return fx.add(p)
		}, []string{
			"Card reader not available", "The card reader service is not available at the moment", "Staff have been told."}},
		{"database unavailable", func(fx *fixture, p sstest.Holder) *sstest.Card {
			card := fx.add(p)
			fx.store.Close() // the database goes away
			return card
		}, []string{
			"Service not available", "Please try again in a few minutes."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fx := newFixture(t)
			card := tc.card(fx, testPerson())
			k := fx.start(100, 32)
			k.waitFor("Insert your Smartcard")
			fx.readers.Insert(card)
			want := append(tc.want, "remove card finish")
			k.waitFor(want...)
			k.press("enter", "esc")
			fx.readers.Insert(nil)
			k.waitFor("Insert your Smartcard")
			if bytes.Contains(k.raw.Bytes(), []byte("ZXZpbA")) {
				t.Fatal("a control sequence from the database reached the terminal")
			}
		})
	}
}

func TestLockedOutCardIsTurnedAway(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := testPerson()
	p.FailedAttempts, p.LockedOut = 3, true
	card := fx.add(p)
	k := fx.start(100, 32)
	fx.readers.Insert(card)
	k.pressStart()
	k.waitFor("After 3 failed attempts you cannot continue here. Please visit the IT booth to reset your Smartcard passcode.")
}

func TestHostileNamesAreNotDrawn(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := testPerson()
	p.Given = "\x1b]0;pwned\x07Ev\x1b[2Jil"
	p.Family = "Per\x1b[31mson\u202e"
	card := fx.add(p)
	k := fx.start(100, 32)
	fx.readers.Insert(card)
	k.waitFor("Hello, Mr Evil Person", "Mr Evil Person · locked")
	for _, bad := range []string{"pwned", "\x1b[31m", "\u202e"} {
		if bytes.Contains(k.raw.Bytes(), []byte(bad)) {
			t.Fatalf("%q from the database reached the terminal", bad)
		}
	}
}

func TestReaderEventsUnavailable(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	fx.readers.FailEvents(fmt.Errorf("establish context: %w", domain.ErrReaderUnavailable))
	k := fx.start(100, 32)
	k.waitFor("The card reader service is not available at the moment", "Staff have been told.", "Card reader not available")
}

// Golden screens at a fixed size and clock; run with -update to rewrite.
func TestGoldenScreens(t *testing.T) {
	t.Parallel()
	shot := func(t *testing.T, s string) {
		t.Helper()
		golden.RequireEqual(t, []byte(s+"\n"))
	}
	t.Run("welcome", func(t *testing.T) {
		t.Parallel()
		fx := newFixture(t)
		k := fx.start(80, 24)
		shot(t, k.waitFor("Insert your Smartcard"))
	})
	t.Run("too small", func(t *testing.T) {
		t.Parallel()
		fx := newFixture(t)
		k := fx.start(58, 18)
		shot(t, k.waitFor("too small"))
	})
	t.Run("home", func(t *testing.T) {
		t.Parallel()
		fx := newFixture(t)
		card := fx.add(testPerson())
		k := fx.start(80, 24)
		fx.readers.Insert(card)
		shot(t, k.waitFor("What would you like to do?"))
	})
	t.Run("unlock intro", func(t *testing.T) {
		t.Parallel()
		fx := newFixture(t)
		card := fx.add(testPerson())
		k := fx.start(80, 24)
		fx.readers.Insert(card)
		k.waitFor("What would you like to do?")
		k.press("enter")
		shot(t, k.waitFor("Start"))
	})
	t.Run("unlocked", func(t *testing.T) {
		t.Parallel()
		fx := newFixture(t)
		p := testPerson()
		card := fx.add(p)
		k := fx.start(100, 40)
		fx.readers.Insert(card)
		k.toNewPasscode(p.Answers)
		k.typeText("2468")
		k.press("enter")
		k.typeText("2468")
		k.press("enter")
		k.waitFor("Your Smartcard has been successfully unlocked.")
		k.resize(80, 24)
		shot(t, k.waitUntil("a repaint at 80×24", func(s string) bool {
			return headerWidth(s) == 79 && strings.Contains(s, "successfully unlocked")
		}))
	})
	t.Run("profile", func(t *testing.T) {
		t.Parallel()
		fx := newFixture(t)
		p := unblocked()
		card := fx.add(p)
		k := fx.start(80, 30)
		shot(t, signIn(t, k, card, p.PIN))
	})
	t.Run("locked out", func(t *testing.T) {
		t.Parallel()
		fx := newFixture(t)
		p := testPerson()
		p.FailedAttempts, p.LockedOut = 3, true
		card := fx.add(p)
		k := fx.start(80, 24)
		fx.readers.Insert(card)
		k.pressStart()
		shot(t, k.waitFor("After 3 failed attempts"))
	})
}

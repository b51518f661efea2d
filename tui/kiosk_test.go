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
	"github.com/smartcard-service-centre/kiosk/domain/selfservice/sstest"
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
			"Card reader not available", "try again in a minute"}},
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
	k.waitFor("The Smartcard reader is not available at the moment.", "Card reader not available")
}

func TestDemoPanels(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := testPerson()
	other := unblocked()
	other.ID, other.Given, other.Serial = "555000000011", "Other", "4082A00100000011"
	tray := &testTray{fx: fx, in: -1,
		labels: []string{"Mr Test Person — locked, registered", "Mr Other Person — active"},
		cards:  []*sstest.Card{fx.add(p), fx.add(other)}}
	k := fx.start(130, 44, func(o *tui.Options) {
		o.Tray, o.Mailbox = tray, testMailbox{fx}
		o.IdleTimeout = time.Hour
	})
	k.waitFor("Demo card tray", "F1 Mr Test Person — locked", "F2 Mr Other Person — active",
		"Demo: the card holder's email inbox", "No emails yet.", "f1–f12 demo card in/out")

	k.press("f2")
	k.waitFor("Hello, Mr Other Person", "▶ F2")
	k.press("alt+1") // swaps the cards
	k.waitFor("Hello, Mr Test Person", "▶ F1")
	k.pressStart()
	k.answer(p.Answers, false)
	k.waitFor("We have sent a Smartcard Unlock Code")
	code := fx.latestCode("Smartcard Unlock Code")
	s := k.waitFor("Smartcard Unlock Code", "To t•••@nhs.net", code)
	// The code shows only in the mailbox panel, to the right.
	col := func(line, x string) int {
		i := strings.Index(line, x)
		if i < 0 {
			return -1
		}
		return len([]rune(line[:i]))
	}
	panelCol := -1
	for _, line := range strings.Split(s, "\n") {
		if c := col(line, "Demo card tray"); c >= 0 {
			panelCol = c
		}
	}
	for _, line := range strings.Split(s, "\n") {
		if c := col(line, code); c >= 0 && c < panelCol-2 {
			t.Fatalf("code drawn outside the mailbox panel:\n%s", s)
		}
	}
	if strings.Contains(s, p.Email) {
		t.Fatalf("full email address drawn:\n%s", s)
	}
	k.press("f10")
	k.waitGone("Demo card tray")
	k.press("f9")
	k.press("f10")
	k.waitFor("Demo card tray", "there is no demo card on that key")
}

// Every card of a full demo tray is on a key, the last two past F10.
func TestEveryTrayCardHasAKey(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	tray := &testTray{fx: fx, in: -1}
	for i := range 12 {
		serial := domain.CardSerial(fmt.Sprintf("4082A001000000%02d", i+1))
		tray.labels = append(tray.labels, fmt.Sprintf("Demo card %d", i+1))
		tray.cards = append(tray.cards, sstest.NewCard(serial, "1357", "24680135"))
	}
	k := fx.start(130, 44, func(o *tui.Options) { o.Tray = tray })
	k.waitFor("F9 Demo card 9", "F11 Demo card 10", "F12 Demo card 11", "– Demo card 12")
	k.press("f11")
	k.waitFor("▶ F11 Demo card 10", "Smartcard not recognised")
	k.press("f12")
	k.waitFor("▶ F12 Demo card 11")
	k.press("alt+0")
	k.waitFor("▶ F11 Demo card 10")
	k.press("alt+-")
	k.waitFor("▶ F12 Demo card 11")
	k.press("alt+-")
	k.waitGone("▶")
}

func TestDemoPanelsOnNarrowTerminal(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	tray := &testTray{fx: fx, in: -1, labels: []string{"Mr Test Person — locked"}, cards: []*sstest.Card{fx.add(testPerson())}}
	k := fx.start(80, 24, func(o *tui.Options) { o.Tray = tray })
	s := k.waitFor("Insert your Smartcard", "f10 demo panels")
	if strings.Contains(s, "Demo card tray") {
		t.Fatalf("panels shown by default on a narrow terminal:\n%s", s)
	}
	k.press("f10")
	k.waitFor("Demo card tray", "F1 Mr Test Person")
	k.press("f1")
	k.waitFor("▶ F1")
	k.press("f10")
	k.waitFor("Hello, Mr Test Person")
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

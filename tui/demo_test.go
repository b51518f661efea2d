package tui_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/internal/sstest"
	"github.com/smartcard-service-centre/kiosk/tui"
	"github.com/smartcard-service-centre/kiosk/tui/demo"
)

// oneCardTray is a demo tray holding the locked, registered test person's
// card on F1.
func oneCardTray(fx *fixture) *testTray {
	return &testTray{fx: fx, in: -1, labels: []string{"Mr Test Person — locked"}, cards: []*sstest.Card{fx.add(testPerson())}}
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
	k := fx.startDemo(130, 44, demo.Options{Tray: tray, Mailbox: testMailbox{fx}},
		func(o *tui.Options) { o.IdleTimeout = time.Hour })
	k.waitFor("Demo card tray", "F1 Mr Test Person — locked", "F2 Mr Other Person — active",
		"Demo: the card holder's email inbox", "No emails yet.", "f1–f12 demo card in/out")

	k.press("f2")
	k.waitFor("Hello, Mr Other Person", "▶ F2")
	k.press("alt+1") // swaps the cards
	k.waitFor("Hello, Mr Test Person", "▶ F1")
	k.pressStart()
	k.answer(p.Answers, false)
	k.waitFor("a Smartcard Unlock Code to your registered email address")
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
	k := fx.startDemo(130, 44, demo.Options{Tray: tray})
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
	k := fx.startDemo(80, 24, demo.Options{Tray: oneCardTray(fx)})
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

// Demo tray keys act one at a time, in the order pressed: F1 then F2
// leaves card 2 in, however long card 1 takes to move.
func TestTrayKeysActInOrder(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	other := unblocked()
	other.ID, other.Given, other.Serial = "555000000011", "Other", "4082A00100000011"
	slow := make(chan struct{})
	tray := &testTray{fx: fx, in: -1, hold: map[int]chan struct{}{0: slow},
		labels: []string{"Mr Test Person", "Mr Other Person"},
		cards:  []*sstest.Card{fx.add(testPerson()), fx.add(other)}}
	k := fx.startDemo(130, 44, demo.Options{Tray: tray})
	k.waitFor("Demo card tray", "F2 Mr Other Person")
	k.press("f1", "f2", "f10")
	k.waitGone("Demo card tray") // the demo has taken both tray keys
	close(slow)
	eventually(t, "both cards to move", func() bool { return len(tray.moves()) == 2 })
	k.press("f10")
	k.waitFor("▶ F2 Mr Other Person", "Hello, Mr Other Person")
	if got := tray.moves(); !slices.Equal(got, []int{0, 1}) {
		t.Fatalf("tray toggled %v, want [0 1]", got)
	}
	if s := k.settle(); strings.Contains(s, "▶ F1") {
		t.Fatalf("the tray shows an older state:\n%s", s)
	}
}

// The kiosk is told the room the demo leaves it: the width beside the
// panels, the height above the demo's keys; or, on a terminal too small
// for both, all of it.
func TestDemoGivesTheKioskItsShare(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	k := fx.startDemo(130, 44, demo.Options{Tray: oneCardTray(fx), Mailbox: testMailbox{fx}})
	s := k.waitFor("Demo card tray", "Insert your Smartcard")
	// 130 columns less the panels' 43 and the 2 at the right edge: the
	// kiosk's title bar ends where the panels begin.
	if got := headerWidth(s); got != 84 {
		t.Fatalf("the kiosk's header reaches column %d, want 84 (a kiosk 85 wide):\n%s", got, s)
	}
	if last := lastLine(s); !strings.Contains(last, "f1–f12 demo card in/out") || !strings.Contains(last, "f10 demo panels") {
		t.Fatalf("the demo's keys are not on the last line %q:\n%s", last, s)
	}
	k.press("f10")
	k.waitUntil("the kiosk to take the width of the hidden panels", func(s string) bool {
		return headerWidth(s) == 129 && !strings.Contains(s, "Demo card tray")
	})

	k.resize(80, 20) // no room for the kiosk and the demo's keys: the kiosk alone
	s = k.waitUntil("the kiosk alone", func(s string) bool {
		return headerWidth(s) == 79 && !strings.Contains(s, "f10 demo panels")
	})
	if strings.Contains(s, "too small") {
		t.Fatalf("the kiosk was given less than the terminal:\n%s", s)
	}
	k.resize(59, 30)
	k.waitFor("This window is too small", "(it is 59 × 30 now)")
	k.resize(80, 21)
	// Still toggled from the default, which on a narrow terminal covers
	// the kiosk with the panels.
	k.waitFor("Demo card tray", "f10 demo panels")
	k.press("f10")
	s = k.waitFor("Insert your Smartcard", "f10 demo panels")
	if strings.Contains(s, "too small") {
		t.Fatalf("the kiosk was given too little room:\n%s", s)
	}
}

// On a narrow terminal the panels cover the kiosk: keys and pastes reach
// none of its screens, yet still count as someone there, answering the
// idle warning.
func TestDemoPanelsCoverTheScreen(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	k := fx.startDemo(80, 24, demo.Options{Tray: oneCardTray(fx)})
	k.waitFor("Insert your Smartcard")
	k.press("f1")
	k.pressStart()
	k.waitFor("To confirm your identity")
	k.press("ctrl+t")
	k.typeText("Abc")
	k.waitFor("Abc")
	for _, input := range []func(){
		func() { k.typeText("xy"); k.press("tab") }, // tab would move on, hiding the answer
		func() { k.send(tea.PasteMsg{Content: "z"}) },
	} {
		fx.clock.Advance(95 * time.Second)
		k.waitFor("Are you still there?")
		k.press("f10")
		s := k.waitFor("Demo card tray", "▶ F1")
		if strings.Contains(s, "Abc") || strings.Contains(s, "carry on") {
			t.Fatalf("the covered screen or its keys are shown:\n%s", s)
		}
		input()
		k.press("f10")
		s = k.waitFor("To confirm your identity")
		if strings.Contains(s, "Are you still there?") {
			t.Fatalf("input at the panels did not answer the idle warning:\n%s", s)
		}
		if !strings.Contains(s, "┃ Abc ") {
			t.Fatalf("input reached the covered screen:\n%s", s)
		}
	}
}

// The kiosk's lifecycle is the same inside the demo: a tray key's card
// starts a visit, the idle timeout ends it, and Ctrl+C (with AllowExit)
// ends the program.
func TestDemoKeepsTheKioskLifecycle(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	k := fx.startDemo(130, 44, demo.Options{Tray: oneCardTray(fx)}, func(o *tui.Options) { o.AllowExit = true })
	k.waitFor("Insert your Smartcard", "ctrl+c quit (development)")
	k.press("f1")
	k.pressStart()
	k.waitFor("To confirm your identity")
	fx.clock.Advance(95 * time.Second)
	k.waitFor("Are you still there? This screen will close and clear in 25 seconds.")
	fx.clock.Advance(30 * time.Second)
	k.waitFor("Your session ended because there was no activity", "▶ F1")
	k.press("f1")
	k.waitFor("Insert your Smartcard")
	k.press("ctrl+c")
	k.tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))
}

// demo.Run runs the program as tui.Run does, and Ctrl+C (with
// AllowExit) ends it through the demo.
func TestDemoRun(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	tray := oneCardTray(fx)
	run := func(ctx context.Context, o tui.Options, extra ...tea.ProgramOption) error {
		return demo.Run(ctx, o, demo.Options{Tray: tray, Mailbox: testMailbox{fx}}, extra...)
	}
	k := fx.runWith(t.Context(), 130, 44, run, func(o *tui.Options) { o.AllowExit = true })
	k.waitFor("Demo card tray", "No emails yet.", "Insert your Smartcard")
	k.press("f1")
	k.waitFor("Hello, Mr Test Person", "▶ F1")
	k.press("ctrl+c")
	select {
	case err := <-k.done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Ctrl+C did not end the demo")
	}
}

// The kiosk alone has no demo: no panels, no demo keys on offer, and the
// keys the demo would take are the kiosk's, which no screen acts on.
func TestKioskAloneHasNoDemo(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	card := fx.add(testPerson())
	k := fx.start(130, 44)
	fx.readers.Insert(card)
	k.waitFor("What would you like to do?")
	k.press("f10", "alt+m", "f1", "alt+1", "f12")
	s := k.settle()
	for _, x := range []string{"Demo", "demo", "f10", "f1–f12", "▶"} {
		if strings.Contains(s, x) {
			t.Fatalf("the kiosk alone shows %q:\n%s", x, s)
		}
	}
	if headerWidth(s) != 129 || !strings.Contains(s, "┃ 1  Smartcard Unlock") {
		t.Fatalf("the kiosk alone does not fill the terminal, or a demo key moved its menu:\n%s", s)
	}
}

// lastLine is the last line of the screen that is not blank.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n "), "\n")
	return lines[len(lines)-1]
}

package tui_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/internal/sstest"
	"github.com/smartcard-service-centre/kiosk/tui"
	"github.com/smartcard-service-centre/kiosk/tui/demo"
	"github.com/smartcard-service-centre/kiosk/tui/tuitest"
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
		"Demo: the holder's email inbox", "No emails yet.", "f1–f12 demo card in/out")

	k.press("f2")
	k.waitFor("Hello, Mr Other Person", "▶F2")
	k.press("alt+1") // swaps the cards
	k.waitFor("Hello, Mr Test Person", "▶F1")
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
	k.waitFor("▶F11 Demo card 10", "Smartcard not recognised")
	k.press("f12")
	k.waitFor("▶F12 Demo card 11")
	k.press("alt+0")
	k.waitFor("▶F11 Demo card 10")
	k.press("alt+-")
	k.waitFor("▶F12 Demo card 11")
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
	k.waitFor("Demo card tray", "F1 Mr Test Person", "f10 back to the kiosk")
	k.press("f1")
	k.waitFor("▶F1")
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
	k.waitFor("▶F2 Mr Other Person", "Hello, Mr Other Person")
	if got := tray.moves(); !slices.Equal(got, []int{0, 1}) {
		t.Fatalf("tray toggled %v, want [0 1]", got)
	}
	if s := k.settle(); strings.Contains(s, "▶F1") {
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
	// The kiosk gets the 80 columns its screens are laid out for, the
	// panels 48 and the 2 at the right edge the rest: the kiosk's title
	// bar ends where the panels begin.
	if got := headerWidth(s); got != 79 {
		t.Fatalf("the kiosk's header reaches column %d, want 79 (a kiosk 80 wide):\n%s", got, s)
	}
	if last := lastLine(s); !strings.Contains(last, "f1–f12 demo card in/out") || !strings.Contains(last, "f10 hide demo panels") {
		t.Fatalf("the demo's keys are not on the last line %q:\n%s", last, s)
	}
	k.press("f10")
	k.waitUntil("the kiosk to take the width of the hidden panels", func(s string) bool {
		return headerWidth(s) == 129 && !strings.Contains(s, "Demo card tray") && strings.Contains(lastLine(s), "f10 show demo panels")
	})

	k.resize(80, 20) // no room for the kiosk and the demo's keys: the kiosk alone
	s = k.waitUntil("the kiosk alone", func(s string) bool {
		return headerWidth(s) == 79 && !strings.Contains(s, "f10")
	})
	if strings.Contains(s, "too small") {
		t.Fatalf("the kiosk was given less than the terminal:\n%s", s)
	}
	k.resize(59, 30)
	k.waitFor("This window is too small", "(it is 59 × 30 now)")
	k.resize(80, 21)
	// Still toggled from the default, which on a narrow terminal covers
	// the kiosk with the panels.
	k.waitFor("Demo card tray", "f10 back to the kiosk")
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
		s := k.waitFor("Demo card tray", "▶F1")
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
	k.waitFor("Your session ended because there was no activity", "▶F1")
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
	k.waitFor("Hello, Mr Test Person", "▶F1")
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

// holderTray is a test tray whose cards say whose they are and the
// holders' addresses, as the demo's own tray does.
type holderTray struct {
	*testTray
	holders []string
	mail    [][]string
}

func (t holderTray) Cards() []demo.TrayCard {
	cards := t.testTray.Cards()
	for i := range cards {
		cards[i].Holder, cards[i].Mail = t.holders[i], t.mail[i]
	}
	return cards
}

// personTray holds the locked, registered test person's card on F1 and,
// on F2, Ms Grace Hughes's (not registered), labelled as the demo labels
// them.
func personTray(fx *fixture) holderTray {
	grace := testPerson()
	grace.ID, grace.Title, grace.Given, grace.Family, grace.Serial = "555000000037", "Ms", "Grace", "Hughes", "4082A00100000037"
	grace.Email, grace.Answers = "grace.hughes@nhs.net", nil
	return holderTray{
		testTray: &testTray{fx: fx, in: -1,
			labels: []string{"Mr Test Person · locked", "Ms Grace Hughes · unregistered"},
			cards:  []*sstest.Card{fx.add(testPerson()), fx.add(grace)}},
		holders: []string{"Mr Test Person", "Ms Grace Hughes"},
		mail:    [][]string{{"test.person@nhs.net"}, {"grace.hughes@nhs.net"}},
	}
}

// answerInTurn answers the questions of the unlock one at a time, each
// when its field has the cursor (the thick border), as someone would on a
// screen too short to show them all at once; Enter on the last one sends
// them.
func (k *kiosk) answerInTurn(answers map[domain.QuestionID]string) {
	k.t.Helper()
	byText := map[string]string{}
	for id, a := range answers {
		text, _ := domain.QuestionText(id)
		byText[text] = a
	}
	done := map[string]bool{}
	k.waitFor("Security questions")
	for len(done) < 4 {
		var q string
		s := k.waitUntil("the next question or the end of the questions", func(s string) bool {
			q = tuitest.FocusedQuestion(s, byText)
			return !strings.Contains(s, "Security questions") || q != "" && !done[q]
		})
		if !strings.Contains(s, "Security questions") {
			break
		}
		done[q] = true
		k.typeText(byText[q])
		k.press("enter")
	}
	if len(done) < 2 {
		k.t.Fatalf("%d questions asked, want 2–4", len(done))
	}
}

// column is where x starts on line, in cells; -1 if it is not there.
func column(line, x string) int {
	i := strings.Index(line, x)
	if i < 0 {
		return -1
	}
	return len([]rune(line[:i]))
}

// lineWith is the first line of s showing x, and its number; -1 if none.
func lineWith(s, x string) (string, int) {
	for i, l := range strings.Split(s, "\n") {
		if strings.Contains(l, x) {
			return l, i
		}
	}
	return "", -1
}

// The README's walkthrough at 100×30: the kiosk (60 columns, its least)
// beside the panels, whose labels fit whole; the unlock code shows in the
// inbox beside the kiosk without scrolling, and the card is unlocked.
func TestDemoReadmeUnlockAt100x30(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	tray := personTray(fx)
	k := fx.startDemo(100, 30, demo.Options{Tray: tray, Mailbox: testMailbox{fx}}, func(o *tui.Options) { o.IdleTimeout = time.Hour })
	s := k.waitFor("Insert your Smartcard", "Demo card tray", "Demo: the holder's email inbox", "All mail (no card in) · none yet",
		"f1–f12 demo card in/out", "f10 hide demo panels", "alt+↑/↓ scroll inbox",
		"F1 Mr Test Person · locked", "F2 Ms Grace Hughes · unregistered") // the tray is read in the background
	if got := headerWidth(s); got != 59 {
		t.Fatalf("the kiosk's header reaches column %d, want 59 (a kiosk 60 wide beside the panels):\n%s", got, s)
	}
	for _, label := range []string{"F1  Mr Test Person · locked", "F2  Ms Grace Hughes · unregistered"} {
		if l, _ := lineWith(s, label); column(l, label) != 62 {
			t.Fatalf("tray label %q not whole on its line in the panel:\n%s", label, s)
		}
	}
	k.press("f1")
	k.waitFor("Hello, Mr Test Person", "▶F1", "Mail to Mr Test Person · none yet")
	k.pressStart()
	k.answerInTurn(testPerson().Answers)
	k.waitFor("Send a new code", "Mail to Mr Test Person · 1 email")
	code := fx.latestCode("Smartcard Unlock Code")
	s = k.waitFor("Code: " + code)
	l, at := lineWith(s, "Code: "+code)
	if c := column(l, "Code: "); c < 60 {
		t.Fatalf("the code is drawn at column %d, inside the kiosk's 60:\n%s", c, s)
	}
	if subject, _ := lineWith(s, "Smartcard Unlock Code"); at < 1 || !strings.Contains(strings.Split(s, "\n")[at-1], "│ Smartcard Unlock Code") {
		t.Fatalf("the inbox does not show the subject just above the code (%q):\n%s", subject, s)
	}
	k.typeText(code)
	k.press("enter")
	k.waitFor("Reset Smartcard Passcode")
	k.typeText("Kx9!a")
	k.press("enter")
	k.typeText("Kx9!a")
	k.press("enter")
	k.waitFor("Your Smartcard has been successfully unlocked.", "Mail to Mr Test Person · 2 emails", "Your Smartcard has been unlocked")
}

// At 80×24 the kiosk has the terminal (less the demo's keys) and one key
// switches to the panels, which then have it to themselves: the tray and
// the inbox side by side, the inbox scrolled by the bare arrows; the same
// key goes back. The walkthrough works so.
func TestDemoAt80x24(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	tray := personTray(fx)
	k := fx.startDemo(80, 24, demo.Options{Tray: tray, Mailbox: testMailbox{fx}}, func(o *tui.Options) { o.IdleTimeout = time.Hour })
	s := k.waitFor("Insert your Smartcard", "f10 demo panels")
	if strings.Contains(s, "Demo card tray") || headerWidth(s) != 79 {
		t.Fatalf("at 80×24 the kiosk does not have the width to itself:\n%s", s)
	}
	k.press("f10")
	s = k.waitFor("Demo card tray", "F2 Ms Grace Hughes · unregistered", "f10 back to the kiosk", "↑/↓ scroll inbox")
	if l, _ := lineWith(s, "Demo card tray"); !strings.Contains(l, "Demo: the holder's email inbox") {
		t.Fatalf("the tray and the inbox are not side by side:\n%s", s)
	}
	k.press("f1")
	k.waitFor("▶F1", "Mail to Mr Test Person")
	k.press("f10")
	k.pressStart()
	k.answerInTurn(testPerson().Answers)
	k.waitFor("Send a new code", "f10 demo panels")
	code := fx.latestCode("Smartcard Unlock Code")
	k.press("f10")
	k.waitFor("Code: "+code, "↓ more below: ↑/↓")
	// The panels have the keys: the inbox scrolls, and the kiosk's code
	// screen, covered, keeps the cursor in the code (typed below).
	k.press("down")
	s = k.waitGone("Code: " + code)
	if !strings.Contains(s, "↑↓ more: ↑/↓") && !strings.Contains(s, "↑ more above: ↑/↓") {
		t.Fatalf("nothing says there is more above:\n%s", s)
	}
	k.press("up")
	k.waitFor("Code: " + code)
	k.press("f10")
	s = k.waitFor("Send a new code")
	if strings.Contains(s, code) || strings.Contains(s, "Demo card tray") {
		t.Fatalf("the kiosk's screen shows the code or the panels:\n%s", s)
	}
	k.typeText(code)
	k.press("enter")
	k.waitFor("Reset Smartcard Passcode")
}

// The inbox shows the newest mail first, its code right under its
// subject; older mail is below, reached by scrolling with the keys its
// last line and the help name.
func TestDemoInboxShowsTheNewestCodeFirst(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	tray := personTray(fx)
	k := fx.startDemo(100, 30, demo.Options{Tray: tray, Mailbox: testMailbox{fx}}, func(o *tui.Options) { o.IdleTimeout = time.Hour })
	k.waitFor("Insert your Smartcard")
	k.press("f1")
	k.pressStart()
	k.answerInTurn(testPerson().Answers)
	k.waitFor("Send a new code")
	first := fx.latestCode("Smartcard Unlock Code")
	k.waitFor("Code: " + first)
	k.press("ctrl+r")
	var second string
	eventually(t, "a second code", func() bool {
		mails, err := fx.openMail(t.Context(), 5)
		second = ""
		if err == nil && len(mails) == 2 {
			second = fx.latestCode("Smartcard Unlock Code")
		}
		return second != ""
	})
	s := k.waitFor("Mail to Mr Test Person · 2 emails", "Code: "+second, "↓ more below: alt+↑/↓", "alt+↑/↓ scroll inbox")
	lines := strings.Split(s, "\n")
	_, at := lineWith(s, "Code: "+second)
	if !strings.Contains(lines[at-1], "│ Smartcard Unlock Code") || !strings.Contains(lines[at+1], "│ To t•••@nhs.net") {
		t.Fatalf("want the subject, the code, then the rest:\n%s", s)
	}
	if strings.Contains(s, first) {
		t.Fatalf("the older code shows above the newest mail's end:\n%s", s)
	}
	s = k.scrollUntil(tea.KeyPressMsg{Code: tea.KeyDown, Mod: tea.ModAlt}, "Code: "+first)
	if strings.Contains(s, "Code: "+second) || !strings.Contains(s, "↑↓ more") && !strings.Contains(s, "↑ more above") {
		t.Fatalf("scrolled to the older code: the newer still shows, or nothing says there is more above:\n%s", s)
	}
	if cs, _ := lineWith(s, "┏━━━┓"); cs == "" {
		t.Fatalf("the kiosk's code field lost the cursor while the inbox scrolled:\n%s", s)
	}
	k.scrollUntil(tea.KeyPressMsg{Code: tea.KeyUp, Mod: tea.ModAlt}, "Code: "+second)
	k.waitFor("↓ more below: alt+↑/↓")
}

// scrollUntil presses key until the screen shows want, each time waiting
// for the screen to change; a key that changes nothing fails the test.
func (k *kiosk) scrollUntil(key tea.KeyPressMsg, want string) string {
	k.t.Helper()
	for range 30 {
		before := k.screen()
		if strings.Contains(before, want) {
			return before
		}
		k.send(key)
		k.waitUntil(fmt.Sprintf("%s to scroll towards %q", key, want), func(s string) bool { return s != before })
	}
	k.t.Fatalf("%q not reached", want)
	return ""
}

// listMailbox is a mailbox a test delivers to.
type listMailbox struct {
	mu      sync.Mutex
	mails   []domain.Mail // newest first
	updates chan struct{}
}

func newListMailbox() *listMailbox { return &listMailbox{updates: make(chan struct{}, 1)} }

// deliver puts a mail with code to addr at the top.
func (b *listMailbox) deliver(to, code string) {
	b.mu.Lock()
	m := domain.Mail{ID: int64(len(b.mails) + 1), To: to, Subject: "Smartcard Unlock Code", CreatedAt: start,
		Body: "Hello\n\n" + code + "\n\nThis code is valid for 15 minutes.\n"}
	b.mails = append([]domain.Mail{m}, b.mails...)
	b.mu.Unlock()
	select {
	case b.updates <- struct{}{}:
	default:
	}
}

func (b *listMailbox) Recent(context.Context) ([]domain.Mail, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.mails), nil
}

func (b *listMailbox) Updates() <-chan struct{} { return b.updates }

// The inbox shows the mail of the holder whose card is in the reader: to
// their addresses on record, and to a new address while their card was in
// (a registration code); with no card in, everyone's.
func TestDemoInboxFollowsTheCardInTheReader(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	box := newListMailbox()
	box.deliver("grace.hughes@nhs.net", "111111")
	box.deliver("test.person@nhs.net", "222222")
	k := fx.startDemo(100, 30, demo.Options{Tray: personTray(fx), Mailbox: box}, func(o *tui.Options) { o.IdleTimeout = time.Hour })
	k.waitFor("All mail (no card in) · 2 emails", "Code: 222222")
	k.press("f2")
	s := k.waitFor("Mail to Ms Grace Hughes · 1 email", "Code: 111111")
	if strings.Contains(s, "222222") {
		t.Fatalf("Ms Grace Hughes's inbox shows Mr Test Person's code:\n%s", s)
	}
	box.deliver("g.hughes@nhs.uk", "333333") // an address on no card's record, while her card is in
	k.waitFor("Mail to Ms Grace Hughes · 2 emails", "Code: 333333")
	k.press("f1")
	s = k.waitFor("Mail to Mr Test Person · 1 email", "Code: 222222")
	if strings.Contains(s, "111111") || strings.Contains(s, "333333") {
		t.Fatalf("Mr Test Person's inbox shows another holder's code:\n%s", s)
	}
	k.press("f1")
	k.waitFor("All mail (no card in) · 3 emails", "Code: 333333")
	k.press("f2")
	k.waitFor("Mail to Ms Grace Hughes · 2 emails", "Code: 333333")
}

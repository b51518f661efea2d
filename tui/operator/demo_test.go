package operator_test

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/teatest/v2"
	"github.com/charmbracelet/x/vt"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/internal/sstest"
	"github.com/smartcard-service-centre/kiosk/tui/demo"
	"github.com/smartcard-service-centre/kiosk/tui/operator"
)

// twoReaderTray is the demo's card tray beside both fake readers, as
// `kiosk operator --readers sim` has it beside the simulated ones.
type twoReaderTray struct {
	mu     sync.Mutex
	fx     *fixture
	labels []string
	cards  []*sstest.Card
	in     []domain.ReaderRole
}

func newTwoReaderTray(fx *fixture, labels []string, cards ...*sstest.Card) *twoReaderTray {
	return &twoReaderTray{fx: fx, labels: labels, cards: cards, in: make([]domain.ReaderRole, len(cards))}
}

func (tr *twoReaderTray) Cards() []demo.TrayCard {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := make([]demo.TrayCard, len(tr.cards))
	for i := range tr.cards {
		out[i] = demo.TrayCard{Label: tr.labels[i], In: tr.in[i]}
	}
	return out
}

func (tr *twoReaderTray) Toggle(i int, r domain.ReaderRole) error {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if i < 0 || i >= len(tr.cards) {
		return fmt.Errorf("no card %d", i)
	}
	was := tr.in[i]
	if was != "" {
		tr.fx.readers.InsertInto(was, nil)
		tr.in[i] = ""
		if was == r {
			return nil
		}
	}
	for j, in := range tr.in {
		if in == r {
			tr.fx.readers.InsertInto(r, nil)
			tr.in[j] = ""
		}
	}
	tr.fx.readers.InsertInto(r, tr.cards[i])
	tr.in[i] = r
	return nil
}

// startDemo starts the operator terminal inside the demo, as `kiosk
// operator --readers sim` runs it: the real program, read through a
// terminal emulator.
func (fx *fixture) startDemo(width, height int, d demo.Options) *terminal {
	t := fx.t
	t.Helper()
	term := &terminal{t: t, emu: vt.NewEmulator(width, height), log: &syncBuffer{}}
	go func() { _, _ = io.Copy(io.Discard, term.emu) }()
	o := operator.Options{Service: fx.svc, Readers: fx.readers, Now: fx.clock.Now, Context: t.Context(),
		Log: slog.New(slog.NewTextHandler(term.log, nil))}
	d.Context = t.Context()
	popts := append(operator.ProgramOptions(o), tea.WithColorProfile(colorprofile.Ascii),
		tea.WithEnvironment([]string{"TERM=xterm-256color"}))
	term.tm = teatest.NewTestModel(t, demo.NewOperator(operator.New(o), d),
		teatest.WithInitialTermSize(width, height), teatest.WithProgramOptions(popts...))
	t.Cleanup(func() {
		_ = term.tm.Quit()
		term.tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
		if t.Failed() {
			t.Logf("log:\n%s", term.log.String())
		}
	})
	return term
}

func fkey(n int, mod tea.KeyMod) tea.KeyPressMsg {
	return tea.KeyPressMsg{Code: tea.KeyF1 + rune(n-1), Mod: mod}
}

// The demo around the operator terminal: Shift+F-keys (or Alt+Q…) put a
// card in the operator's reader, F-keys in the card holder's; the tray
// shows which card is in which reader, and a card moved to the other
// reader leaves the first.
func TestOperatorDemoTray(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	own, held := fx.add(helen()), fx.add(testPerson())
	tray := newTwoReaderTray(fx, []string{"Mr Test Person — locked", "Mrs Helen Carter — Sponsor"}, held, own)
	k := fx.startDemo(130, 44, demo.Options{Tray: tray})
	k.waitFor(operator.InsertText, "Demo card tray", "Operator's reader: empty", "Holder's reader: empty",
		"F1 Mr Test Person — locked", "F2 Mrs Helen Carter — Sponsor",
		"Holder's reader: f1–f12 or alt+1…0, -",
		"Operator's reader: shift+f1–f12 (or alt+q…p, =)",
		"f1–f12 card in/out, holder's reader • shift+f1–f12 card in/out, operator's reader • f10 hide demo panels")

	k.tm.Send(fkey(2, tea.ModShift)) // Helen's card in the operator's reader
	k.waitFor("Enter your Smartcard passcode", "Operator's reader: Mrs Helen Carter", "▶F2 Mrs Helen Carter")
	k.typeText("5093")
	k.press("enter")
	k.waitFor("Dashboard", "Hi, Mrs Helen Carter", "● Your Smartcard 4082A00100000087")
	k.press("enter")
	k.waitFor(operator.InsertHolderText)
	k.tm.Send(fkey(1, 0)) // Mr Test Person's card in the holder's reader
	k.waitFor("Mr Test Person: 5550 0179 9894", "Smartcard Details", "(locked)",
		"Holder's reader: Mr Test Person", "● Second reader: card holder's Smartcard")

	// Mr Test Person's card moved to the operator's reader: it leaves the
	// holder's reader, and Helen's leaves hers, which logs her out; his
	// locked card cannot log in.
	k.tm.Send(tea.KeyPressMsg{Code: 'q', Mod: tea.ModAlt})
	s := k.waitFor("Operator's reader: Mr Test Person", "Holder's reader: empty", "Smartcard locked", "▶F1 Mr Test Person")
	if strings.Contains(s, "Hi, Mrs Helen Carter") || strings.Contains(s, "▶F2") {
		t.Fatalf("Helen's card is still in, or she is still logged in:\n%s", s)
	}
}

// demo.RunOperator runs the program as operator.Run does, with keys as
// the bytes a terminal sends: Shift+F1 puts Helen's card in the
// operator's reader, and Ctrl+C (with AllowExit) ends the program through
// the demo.
func TestOperatorDemoRun(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	own := fx.add(helen())
	tray := newTwoReaderTray(fx, []string{"Mrs Helen Carter — Sponsor"}, own)
	in, keys := io.Pipe()
	t.Cleanup(func() { keys.Close() })
	out := &syncBuffer{}
	o := operator.Options{Service: fx.svc, Readers: fx.readers, Now: fx.clock.Now, AllowExit: true}
	done := make(chan error, 1)
	go func() {
		done <- demo.RunOperator(t.Context(), o, demo.Options{Tray: tray},
			tea.WithInput(in), tea.WithOutput(out), tea.WithWindowSize(130, 44), tea.WithoutSignals(),
			tea.WithColorProfile(colorprofile.Ascii), tea.WithEnvironment([]string{"TERM=xterm-256color"}))
	}()
	emu := vt.NewEmulator(130, 44)
	go func() { _, _ = io.Copy(io.Discard, emu) }()
	read := 0
	waitFor := func(texts ...string) {
		t.Helper()
		deadline := time.Now().Add(waitLimit)
		for {
			all := out.String()
			_, _ = emu.Write([]byte(strings.ReplaceAll(all[read:], "\n", "\r\n")))
			read = len(all)
			s := flat(emu.String())
			ok := true
			for _, x := range texts {
				ok = ok && strings.Contains(s, x)
			}
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %q; the screen shows:\n%s", texts, emu.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	typeBytes := func(b string) {
		t.Helper()
		if _, err := keys.Write([]byte(b)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor("Demo card tray", operator.InsertText)
	typeBytes("\x1b[1;2P") // Shift+F1
	waitFor("Enter your Smartcard passcode", "Operator's reader: Mrs Helen Carter")
	typeBytes("5093\r")
	waitFor("Dashboard", "Hi, Mrs Helen Carter")
	typeBytes("\x03") // Ctrl+C
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("RunOperator = %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Ctrl+C did not end the demo")
	}
}

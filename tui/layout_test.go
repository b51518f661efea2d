package tui_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain/selfservice"
	"github.com/smartcard-service-centre/kiosk/tui"
)

// lines splits a screen into its rows, trailing blanks trimmed.
func lines(s string) []string {
	out := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range out {
		out[i] = strings.TrimRight(out[i], " ")
	}
	return out
}

// The idle warning is the last 30 s of any timeout, however short, and
// it takes the status bar's place: the screen above it does not move.
func TestIdleCountdownInTheStatusBar(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	card := fx.add(testPerson())
	k := fx.start(80, 24, func(o *tui.Options) { o.IdleTimeout = tui.MinIdleTimeout })
	k.typeVisibleAnswer(fx, card, "Secretanswer")

	fx.clock.Advance(tui.MinIdleTimeout - 31*time.Second)
	s := k.settle()
	if strings.Contains(s, "Are you still there?") {
		t.Fatalf("the warning shows with 31 s left:\n%s", s)
	}
	before := lines(s)
	fx.clock.Advance(2 * time.Second)
	s = k.waitFor("Are you still there? This screen will close and clear in 29 seconds.")
	after := lines(s)
	if len(after) != len(before) {
		t.Fatalf("screen went from %d to %d lines:\n%s", len(before), len(after), s)
	}
	status := after[len(after)-2]
	if !strings.Contains(status, "Are you still there?") {
		t.Fatalf("the warning is not in the status bar (the line above the help):\n%s", s)
	}
	if strings.Contains(s, "Smartcard 4082A001132F2817") {
		t.Fatalf("the status bar shows the card and the warning:\n%s", s)
	}
	for i, want := range before[:len(before)-3] { // all but the bottom gap, status and help
		if after[i] != want {
			t.Fatalf("line %d moved when the warning came:\nbefore %q\nafter  %q", i+1, want, after[i])
		}
	}
	if !strings.Contains(after[len(after)-1], "any key carry on") {
		t.Fatalf("the help does not say how to carry on:\n%s", s)
	}
}

func TestIdleTimeoutShorterThanTheCountdownIsRefused(t *testing.T) {
	t.Parallel()
	o := tui.Options{IdleTimeout: 20 * time.Second}
	err := o.Validate()
	if err == nil || !strings.Contains(err.Error(), "idle timeout 20s is shorter than 1m0s") {
		t.Fatalf("Validate = %v, want the short idle timeout refused", err)
	}
}

// The seeds write both "IT Booth" and "IT booth"; the kiosk says one.
func TestOneSpellingOfTheITBooth(t *testing.T) {
	t.Parallel()
	spelling := regexp.MustCompile(`(?i)\bit booth\b`)
	for _, dir := range []string{"../domain", "../tui", "../mail"} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range spelling.FindAllString(string(b), -1) {
				if m != "IT booth" {
					t.Errorf("%s says %q; the kiosk writes \"IT booth\"", path, m)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// At 80×24, the kiosk's minimum, the longest screen (four security
// questions) shows the 3-attempts warning, every field, Next and the
// whole key help, without scrolling.
func TestQuestionsFit80x24(t *testing.T) {
	t.Parallel()
	// A random source of constant 2s draws 2+2 = 4 questions.
	fx := newFixture(t, func(c *selfservice.Config) { c.Rand = constReader(2) })
	p := testPerson()
	card := fx.add(p)
	k := fx.start(80, 24)
	k.waitFor("Insert your Smartcard")
	fx.readers.Insert(card)
	k.pressStart()
	s := k.waitFor("To confirm your identity")
	for _, want := range []string{
		"Security questions",
		"You should not attempt to unlock another staff member's card",
		"after 3 failed attempts at answering your security questions",
		"visit the IT booth",
		"1. ", "2. ", "3. ", "4. ", "Next",
		"tab/↓ next field • enter next • ctrl+t show/hide • esc back to the menu",
	} {
		if !strings.Contains(flat(s), want) {
			t.Errorf("at 80×24 the questions screen does not show %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "more below") {
		t.Errorf("the questions screen scrolls at 80×24:\n%s", s)
	}
	if n := len(lines(s)); n > 24 {
		t.Errorf("%d lines on a 24-line terminal", n)
	}
	// With room to spare, the screen keeps its title line and full boxes.
	k.resize(100, 40)
	s = k.waitFor("Smartcard Service Centre Self-service kiosk")
	if !strings.Contains(s, "╭") || strings.Contains(s, "›") {
		t.Errorf("at 100×40 the questions screen is still compact:\n%s", s)
	}
}

// constReader reads as an endless run of one byte.
type constReader byte

func (r constReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

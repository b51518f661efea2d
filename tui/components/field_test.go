package components

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/smartcard-service-centre/kiosk/tui/theme"
)

func typeInto(f Field, s string) Field {
	for _, r := range s {
		f, _ = f.Update(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	return f
}

// Reset zeroes the runes typed where they lie, as CodeField.Reset does,
// including those already deleted.
func TestFieldResetWipesTheBuffer(t *testing.T) {
	f := NewField("Passcode", true, 16)
	f.Focus()
	f = typeInto(f, "s3cret")
	f, _ = f.Update(tea.KeyPressMsg{Code: tea.KeyBackspace})
	buf := f.value[:cap(f.value)]
	f = typeInto(f, "XYZ")
	if &f.value[:cap(f.value)][0] != &buf[0] {
		t.Fatal("typing moved the buffer: the old copy cannot be wiped")
	}
	f.Reset()
	for i, r := range buf {
		if r != 0 {
			t.Fatalf("rune %d still holds %q after Reset", i, r)
		}
	}
	if f.Value() != "" {
		t.Fatalf("Value after Reset = %q", f.Value())
	}
}

// Nothing CleanText would change is taken: no control characters, line
// breaks or bidirectional controls, typed or pasted.
func TestFieldRefusesWhatCleanTextWouldChange(t *testing.T) {
	f := NewField("Answer", false, 64)
	f.Focus()
	f = typeInto(f, "a\u202eb\tc")
	f, _ = f.Update(tea.PasteMsg{Content: "d\u2066e\u200f\x1b[31mf\r\n"})
	if got := f.Value(); got != "abcde[31mf" {
		t.Fatalf("field holds %q", got)
	}
}

// The visible part fits the box whatever the characters' widths, with
// the cursor in view.
func TestFieldLineFitsItsWidth(t *testing.T) {
	th := theme.New(true)
	for _, s := range []string{
		strings.Repeat("東", 40),
		strings.Repeat("e\u0301", 60),
		strings.Repeat("❤️", 30) + "🇬🇧🇬🇧👍🏽",
		strings.Repeat("a東", 25),
		"\u200b\u200bx",
	} {
		for _, masked := range []bool{false, true} {
			f := NewField("", masked, 200)
			f.Focus()
			f = typeInto(f, s)
			for _, move := range []string{"", "home", "right", "right", "end", "left"} {
				if move != "" {
					f, _ = f.Update(tea.KeyPressMsg{Code: keyCode(move)})
				}
				for _, w := range []int{8, 13, 40} {
					if got := ansi.StringWidth(f.line(th, w)); got > w {
						t.Errorf("%q (masked %v, after %q) drawn %d cells wide in %d", s, masked, move, got, w)
					}
				}
			}
		}
	}
}

func keyCode(name string) rune {
	return map[string]rune{"home": tea.KeyHome, "end": tea.KeyEnd, "left": tea.KeyLeft, "right": tea.KeyRight}[name]
}

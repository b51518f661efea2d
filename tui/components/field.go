// Package components holds the pieces screens are built from: labelled
// fields (plain and masked), the code field, the question form, the new
// passcode pair, menus, buttons, and the bars and panels around screens.
package components

import (
	"strings"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/smartcard-service-centre/kiosk/tui/theme"
)

// Mask is the character passcodes are drawn with.
const Mask = '•'

// Field is a labelled one-line input with a line of feedback under it.
type Field struct {
	Label string
	// Feedback is shown under the field: an error when Bad, else a tick.
	Feedback string
	Bad      bool

	input  textinput.Model
	masked bool
}

// NewField returns an empty field. A masked field shows • for each
// character typed: for passcodes.
func NewField(label string, masked bool, limit int) Field {
	in := textinput.New()
	in.Prompt = ""
	in.CharLimit = limit
	// No clipboard on a public terminal: ctrl+v would read the kiosk's
	// clipboard, which may hold the previous person's text.
	in.KeyMap.Paste.SetEnabled(false)
	in.KeyMap.AcceptSuggestion.SetEnabled(false)
	if masked {
		in.EchoMode = textinput.EchoPassword
		in.EchoCharacter = Mask
	}
	return Field{Label: label, input: in, masked: masked}
}

// Focus puts the cursor in the field.
func (f *Field) Focus() tea.Cmd { return f.input.Focus() }

// Blur takes the cursor out of the field.
func (f *Field) Blur() { f.input.Blur() }

// Focused reports whether the field has the cursor.
func (f Field) Focused() bool { return f.input.Focused() }

// Value is what was typed.
func (f Field) Value() string { return f.input.Value() }

// Reset wipes what was typed and the feedback.
func (f *Field) Reset() {
	f.input.Reset()
	f.Feedback, f.Bad = "", false
}

// Update passes keys to the input when it has the cursor. Pasted text is
// taken as typed, less any control characters.
func (f Field) Update(msg tea.Msg) (Field, tea.Cmd) {
	if p, ok := msg.(tea.PasteMsg); ok {
		msg = tea.PasteMsg{Content: printable(p.Content)}
	}
	var cmd tea.Cmd
	f.input, cmd = f.input.Update(msg)
	return f, cmd
}

// View draws the label, the boxed input and the feedback, width wide.
func (f Field) View(th *theme.Theme, width int) string {
	in := f.input
	in.SetStyles(th.Input)
	box := th.Field
	switch {
	case f.input.Focused():
		box = th.FieldFocused
	case f.Bad && f.Feedback != "":
		box = th.FieldError
	}
	inner := max(8, min(width, 44)-box.GetHorizontalFrameSize())
	in.SetWidth(inner - 1) // the cursor takes a cell after the text
	parts := []string{}
	if f.Label != "" {
		parts = append(parts, th.Label.Render(f.Label))
	}
	parts = append(parts, box.Width(inner+box.GetHorizontalFrameSize()).Render(in.View()))
	if f.Feedback != "" {
		st, mark := th.Success, "✓ "
		if f.Bad {
			st, mark = th.Error, "✗ "
		}
		parts = append(parts, st.Width(width).Render(mark+f.Feedback))
	}
	return lipgloss.JoinVertical(lipgloss.Left, parts...)
}

// printable drops control characters (and so escape sequences' ESC) from
// pasted text.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return -1
		}
		return r
	}, s)
}

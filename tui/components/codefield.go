package components

import (
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/smartcard-service-centre/kiosk/tui/theme"
)

// CodeField takes an emailed code: digits only, a fixed number of them,
// drawn as boxes so the holder sees how many are left to type.
type CodeField struct {
	Label    string
	Feedback string
	Bad      bool

	digits []rune
	size   int
}

// NewCodeField returns an empty field for codes of size digits.
func NewCodeField(label string, size int) CodeField {
	return CodeField{Label: label, size: size}
}

// Value is the digits typed.
func (c CodeField) Value() string { return string(c.digits) }

// Complete reports whether every digit has been typed.
func (c CodeField) Complete() bool { return len(c.digits) == c.size }

// Reset wipes the digits and the feedback.
func (c *CodeField) Reset() {
	clear(c.digits)
	c.digits = c.digits[:0]
	c.Feedback, c.Bad = "", false
}

// Update takes digits and backspace. Spaces and dashes, which people copy
// from emails, are skipped; so is anything else.
func (c CodeField) Update(msg tea.Msg) (CodeField, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		switch msg.String() {
		case "backspace", "ctrl+h":
			if n := len(c.digits); n > 0 {
				c.digits = c.digits[:n-1]
			}
			return c, nil
		case "ctrl+u":
			c.Reset()
			return c, nil
		}
		c.add(msg.Text)
	case tea.PasteMsg:
		c.add(msg.Content)
	}
	return c, nil
}

func (c *CodeField) add(s string) {
	for _, r := range s {
		if r >= '0' && r <= '9' && len(c.digits) < c.size {
			c.digits = append(c.digits, r)
		}
	}
}

// View draws one box per digit.
func (c CodeField) View(th *theme.Theme, width int, focused bool) string {
	cells := make([]string, c.size)
	for i := range cells {
		ch := " "
		if i < len(c.digits) {
			ch = string(c.digits[i])
		}
		st := th.DigitBox
		if focused && i == len(c.digits) {
			st = th.DigitBoxFocused
		}
		cells[i] = st.Render(ch)
	}
	parts := []string{}
	if c.Label != "" {
		parts = append(parts, th.Label.Render(c.Label))
	}
	parts = append(parts, lipgloss.JoinHorizontal(lipgloss.Top, cells...))
	if c.Feedback != "" {
		st, mark := th.Success, "✓ "
		if c.Bad {
			st, mark = th.Error, "✗ "
		}
		parts = append(parts, st.Width(width).Render(mark+c.Feedback))
	}
	return strings.Join(parts, "\n")
}

// Package components holds the pieces screens are built from: labelled
// fields (plain and masked), the code field, the question form, the new
// passcode pair, menus, buttons, and the bars around screens.
package components

import (
	"slices"
	"strings"
	"unicode/utf8"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/tui/theme"
)

// Mask is the character passcodes are drawn with.
const Mask = '•'

// defaultLimit bounds a field made without a limit.
const defaultLimit = 256

// Field is a labelled one-line input with a line of feedback under it.
// It keeps what is typed in a rune buffer of its own (rather than a
// textinput) so that Reset can wipe it and the visible part is measured
// in terminal cells.
type Field struct {
	Label string
	// Feedback is shown under the field: an error when Bad, else a tick.
	Feedback string
	Bad      bool

	value    []rune // capacity fixed at limit, so typing never moves it
	pos      int    // the cursor, in runes
	limit    int
	masked   bool
	revealed bool // a masked field shown as typed, until it loses the cursor
	focused  bool
}

// NewField returns an empty field taking up to limit characters. A masked
// field shows • for each character typed: for passcodes and answers.
// (There is no paste from the clipboard: on a public terminal it may hold
// the previous person's text. Text the terminal pastes is typed.)
func NewField(label string, masked bool, limit int) Field {
	if limit <= 0 {
		limit = defaultLimit
	}
	return Field{Label: label, masked: masked, limit: limit, value: make([]rune, 0, limit)}
}

// Focus puts the cursor in the field.
func (f *Field) Focus() tea.Cmd {
	f.focused = true
	return nil
}

// Blur takes the cursor out of the field, and masks it again.
func (f *Field) Blur() {
	f.focused = false
	f.revealed = false
}

// Focused reports whether the field has the cursor.
func (f Field) Focused() bool { return f.focused }

// Value is what was typed.
func (f Field) Value() string { return string(f.value) }

// ToggleReveal shows a masked field as typed, or masks it again.
func (f *Field) ToggleReveal() {
	if f.masked {
		f.revealed = !f.revealed
	}
}

// Revealed reports whether a masked field is shown as typed.
func (f Field) Revealed() bool { return f.masked && f.revealed }

// Reset wipes what was typed and the feedback. The runes are zeroed where
// they lie (the buffer never moves, see NewField), as CodeField does;
// strings made from them (Value, what was drawn) cannot be wiped, Go
// strings being immutable, and live until the collector reuses them.
func (f *Field) Reset() {
	clear(f.value[:cap(f.value)])
	f.value = f.value[:0]
	f.pos = 0
	f.revealed = false
	f.Feedback, f.Bad = "", false
}

// Update edits the field when it has the cursor: typed and pasted text,
// backspace and delete, the arrows, Home and End, and the usual Ctrl keys
// (Ctrl+U, Ctrl+K, Ctrl+W).
func (f Field) Update(msg tea.Msg) (Field, tea.Cmd) {
	if !f.focused {
		return f, nil
	}
	switch msg := msg.(type) {
	case tea.PasteMsg:
		f.insert(msg.Content)
	case tea.KeyPressMsg:
		switch msg.String() {
		case "backspace", "ctrl+h":
			start := f.prev(f.pos)
			f.value = slices.Delete(f.value, start, f.pos) // Delete zeroes what it drops
			f.pos = start
		case "delete", "ctrl+d":
			f.value = slices.Delete(f.value, f.pos, f.next(f.pos))
		case "left", "ctrl+b":
			f.pos = f.prev(f.pos)
		case "right", "ctrl+f":
			f.pos = f.next(f.pos)
		case "home", "ctrl+a":
			f.pos = 0
		case "end", "ctrl+e":
			f.pos = len(f.value)
		case "ctrl+u":
			f.value = slices.Delete(f.value, 0, f.pos)
			f.pos = 0
		case "ctrl+k":
			f.value = slices.Delete(f.value, f.pos, len(f.value))
		case "ctrl+w", "alt+backspace":
			i := f.pos
			for i > 0 && f.value[i-1] == ' ' {
				i--
			}
			for i > 0 && f.value[i-1] != ' ' {
				i--
			}
			f.value = slices.Delete(f.value, i, f.pos)
			f.pos = i
		default:
			f.insert(msg.Text)
		}
	}
	return f, nil
}

// insert adds text at the cursor, up to the limit. A rune that
// domain.CleanText would change is dropped: control characters (and so
// escape sequences' ESC), line breaks, and bidirectional controls, which
// can make what is shown differ from what is stored.
func (f *Field) insert(s string) {
	for _, r := range s {
		if len(f.value) >= f.limit {
			return
		}
		if one := string(r); domain.CleanText(one) != one {
			continue
		}
		f.value = slices.Insert(f.value, f.pos, r) // within capacity: in place
		f.pos++
	}
}

// clusters splits the runes into grapheme clusters (what a reader sees as
// one character): the rune offset each starts at and its width in cells,
// measured as lipgloss measures the box around it.
func clusters(rs []rune) (starts, widths []int) {
	buf := make([]byte, 0, len(rs)*utf8.UTFMax)
	for _, r := range rs {
		buf = utf8.AppendRune(buf, r)
	}
	defer clear(buf) // it holds what was typed
	at := 0
	for b := buf; len(b) > 0; {
		c, w := ansi.FirstGraphemeCluster(b, ansi.GraphemeWidth)
		if len(c) == 0 {
			break
		}
		starts = append(starts, at)
		widths = append(widths, w)
		at += utf8.RuneCount(c)
		b = b[len(c):]
	}
	return starts, widths
}

// prev is where the character before rune offset i starts.
func (f Field) prev(i int) int {
	starts, _ := clusters(f.value)
	for k := len(starts) - 1; k >= 0; k-- {
		if starts[k] < i {
			return starts[k]
		}
	}
	return 0
}

// next is where the character after the one at rune offset i starts.
func (f Field) next(i int) int {
	starts, _ := clusters(f.value)
	for _, s := range starts {
		if s > i {
			return s
		}
	}
	return len(f.value)
}

// line draws the field's text in width cells: the part around the cursor
// when it does not all fit. Widths are measured per grapheme cluster in
// cells, so wide and combining characters never push it onto a second
// line.
func (f Field) line(th *theme.Theme, width int) string {
	starts, widths := clusters(f.value)
	n := len(starts)
	hidden := f.masked && !f.revealed
	if hidden {
		for i := range widths {
			widths[i] = 1 // one • per character
		}
	}
	cur := -1 // the cluster under the cursor; n: after the text
	if f.focused {
		cur = n
		for i, s := range starts {
			if s >= f.pos {
				cur = i
				break
			}
		}
	}
	cell := func(i int) int {
		switch {
		case i == n:
			return 1
		case i == cur:
			return max(1, widths[i]) // a zero-width character still shows the cursor
		}
		return widths[i]
	}
	// Start at the beginning unless that leaves the cursor out of view.
	first, used := 0, 0
	for i := 0; i <= cur; i++ {
		used += cell(i)
	}
	for used > width && first < cur {
		used -= cell(first)
		first++
	}
	text := th.Input.Blurred.Text
	if f.focused {
		text = th.Input.Focused.Text
	}
	text = text.Inline(true)
	cursor := lipgloss.NewStyle().Foreground(th.Input.Cursor.Color).Reverse(true)
	var before, after strings.Builder
	var under string
	last := n - 1
	if cur == n {
		last = n
	}
	used = 0
	for i := first; i <= last && used+cell(i) <= width; i++ {
		used += cell(i)
		var s string
		switch {
		case i == n:
			s = " "
		case hidden:
			s = string(Mask)
		default:
			end := len(f.value)
			if i+1 < n {
				end = starts[i+1]
			}
			s = string(f.value[starts[i]:end])
		}
		switch {
		case i < cur || cur < 0:
			before.WriteString(s)
		case i > cur:
			after.WriteString(s)
		case i < n && widths[i] == 0:
			under = " "
			after.WriteString(s)
		default:
			under = s
		}
	}
	out := text.Render(before.String())
	if under != "" {
		out += cursor.Render(under)
	}
	return out + text.Render(after.String())
}

// View draws the label, the boxed input and the feedback, width wide.
func (f Field) View(th *theme.Theme, width int) string {
	box := th.Field
	switch {
	case f.focused:
		box = th.FieldFocused
	case f.Bad && f.Feedback != "":
		box = th.FieldError
	}
	inner := max(8, min(width, 44)-box.GetHorizontalFrameSize())
	parts := []string{}
	if f.Label != "" {
		parts = append(parts, th.Label.Render(f.Label))
	}
	parts = append(parts, box.Width(inner+box.GetHorizontalFrameSize()).Render(f.line(th, inner)))
	if f.Feedback != "" {
		st, mark := th.Success, "✓ "
		if f.Bad {
			st, mark = th.Error, "✗ "
		}
		parts = append(parts, st.Width(width).Render(mark+f.Feedback))
	}
	return lipgloss.JoinVertical(lipgloss.Left, parts...)
}

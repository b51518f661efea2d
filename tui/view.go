package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/smartcard-service-centre/kiosk/tui/common"
	"github.com/smartcard-service-centre/kiosk/tui/components"
	"github.com/smartcard-service-centre/kiosk/tui/theme"
)

// Layout constants: the demo panels sit beside the screen only on wide
// terminals; on narrow ones F10 shows them instead of the screen.
const (
	sideMinWidth = 100
	margin       = 2
)

// View draws the kiosk in the alternate screen.
func (m *Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = "Smartcard Service Centre"
	return v
}

func (m *Model) tooSmall() bool { return m.width < MinWidth || m.height < MinHeight }

func (m *Model) hasPanels() bool { return m.opts.Tray != nil || m.opts.Mailbox != nil }

// panels says where the demo panels go: beside the screen, instead of
// it, or nowhere.
func (m *Model) panels() (side, overlay bool) {
	if !m.hasPanels() {
		return false, false
	}
	if m.width >= sideMinWidth {
		return !m.panelsFlip, false
	}
	return false, m.panelsFlip
}

func (m *Model) panelWidth() int { return min(48, m.width/3) }

// layout tells the screens how much room they have.
func (m *Model) layout() {
	w := m.width - 2*margin
	if side, _ := m.panels(); side {
		w -= m.panelWidth() + margin
	}
	m.c.Width = max(20, w)
}

func (m *Model) render() string {
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
	th := m.c.Theme
	if m.tooSmall() {
		msg := fmt.Sprintf("This window is too small for the Smartcard Service Centre.\n\nPlease make it at least %d × %d characters (it is %d × %d now).",
			MinWidth, MinHeight, m.width, m.height)
		box := lipgloss.NewStyle().Width(max(1, min(m.width-2, 50))).Render(msg)
		return lipgloss.Place(m.width, m.height, lipgloss.Center, lipgloss.Center, box)
	}

	header := m.header()
	var bottom []string
	if m.countdown > 0 {
		bottom = append(bottom, components.Countdown(th, m.countdown, m.width-2*margin))
	}
	bottom = append(bottom,
		components.StatusBar(th, m.cardState(), m.width-2*margin),
		components.HelpBar(th, m.helpKeys(), m.width-2*margin))
	bottomBlock := indent(strings.Join(bottom, "\n"), margin)

	// header, gap, title, gap … gap, bottom
	bodyH := max(1, m.height-lipgloss.Height(header)-4-lipgloss.Height(bottomBlock))
	side, overlay := m.panels()

	// The screen's title and body, or on a narrow terminal with the demo
	// panels toggled on, the panels instead.
	var main string
	mainW := m.c.Width
	if overlay {
		mainW = m.width - 2*margin
		main = m.panelColumn(mainW, bodyH+2)
	} else {
		f := m.screen.View()
		title := th.Title.Render(ansi.Truncate(f.Title, mainW, "…"))
		main = title + "\n\n" + crop(th, f, mainW, bodyH)
	}
	main = lipgloss.NewStyle().Width(mainW).Height(bodyH + 2).MaxHeight(bodyH + 2).Render(main)
	if side {
		main = lipgloss.JoinHorizontal(lipgloss.Top, main, strings.Repeat(" ", margin), m.panelColumn(m.panelWidth(), bodyH+2))
	}
	return header + "\n\n" + indent(main, margin) + "\n\n" + bottomBlock
}

func (m *Model) header() string {
	th := m.c.Theme
	left := th.Header.Render("Smartcard Service Centre")
	right := th.HeaderRight.Render("Self-service kiosk")
	gap := max(0, m.width-lipgloss.Width(left)-lipgloss.Width(right))
	fill := th.HeaderRight.Padding(0).Render(strings.Repeat(" ", gap))
	return ansi.Truncate(left+fill+right, m.width, "")
}

func (m *Model) cardState() components.CardState {
	s := components.CardState{ReaderDown: m.readerDown, Present: m.cardPresent}
	if v := m.visit; v != nil {
		s.Holder, s.Serial, s.Locked = v.Holder.Name, v.Holder.Serial, v.Holder.Blocked
		if v.Busy() {
			s.Busy = m.spinner.View()
		}
	}
	return s
}

func (m *Model) helpKeys() []key.Binding {
	if m.countdown > 0 {
		return []key.Binding{key.NewBinding(key.WithKeys("any"), key.WithHelp("any key", "carry on"))}
	}
	var keys []key.Binding
	if _, overlay := m.panels(); !overlay && !m.tooSmall() {
		keys = append(keys, m.screen.Help()...) // only a screen in view takes keys
	}
	if m.opts.Tray != nil {
		keys = append(keys, m.c.Keys.Tray)
	}
	if m.hasPanels() {
		keys = append(keys, m.c.Keys.Panels)
	}
	if m.opts.AllowExit {
		keys = append(keys, m.c.Keys.Quit)
	}
	return keys
}

// panelColumn stacks the demo tray above the demo mailbox.
func (m *Model) panelColumn(width, height int) string {
	th := m.c.Theme
	var parts []string
	if m.opts.Tray != nil {
		entries := make([]components.TrayEntry, len(m.tray))
		for i, c := range m.tray {
			k := "–" // no key reaches it
			if i < len(common.TrayKeys) {
				k = strings.ToUpper(common.TrayKeys[i][0])
			}
			entries[i] = components.TrayEntry{Key: k, Label: c.Label, Inserted: c.Inserted}
		}
		parts = append(parts, components.TrayPanel(th, entries, m.trayNote, width))
	}
	if m.opts.Mailbox != nil {
		used := 0
		for _, p := range parts {
			used += lipgloss.Height(p)
		}
		if left := height - used; left >= 5 {
			parts = append(parts, components.MailboxPanel(th, m.mails, width, left))
		}
	}
	return lipgloss.NewStyle().MaxHeight(height).Render(strings.Join(parts, "\n"))
}

// crop fits a screen body into height lines, keeping the focused lines
// in view and saying when there is more above or below.
func crop(th *theme.Theme, f common.Frame, width, height int) string {
	lines := strings.Split(f.Body, "\n")
	if len(lines) <= height {
		return f.Body
	}
	// Unscrolled, the last line says there is more; scrolled, the first
	// line says so too.
	room, start := max(1, height-1), 0
	if f.Focus >= 0 {
		if end := max(f.FocusEnd, f.Focus+1); end > room {
			room = max(1, height-2)
			start = max(1, min(end-room, f.Focus, len(lines)-room))
		}
	}
	var out []string
	if start > 0 {
		out = append(out, th.Muted.Render(ansi.Truncate("↑ more above", width, "")))
	}
	out = append(out, lines[start:min(len(lines), start+room)]...)
	if start+room < len(lines) {
		out = append(out, th.Muted.Render(ansi.Truncate("↓ more below", width, "")))
	}
	return strings.Join(out, "\n")
}

// indent shifts every line right by n spaces.
func indent(s string, n int) string {
	pad := strings.Repeat(" ", n)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = pad + l
	}
	return strings.Join(lines, "\n")
}

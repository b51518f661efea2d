package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/smartcard-service-centre/kiosk/tui/common"
	"github.com/smartcard-service-centre/kiosk/tui/components"
	"github.com/smartcard-service-centre/kiosk/tui/theme"
)

// margin is the blank columns either side of the screen.
const margin = 2

// View draws the kiosk in the alternate screen.
func (m *Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = "Smartcard Service Centre"
	return v
}

func (m *Model) tooSmall() bool { return m.width < MinWidth || m.height < MinHeight }

// layout tells the screens how much room they have.
func (m *Model) layout() {
	m.c.Width = max(20, m.width-2*margin)
}

func (m *Model) render() string {
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
	th := m.c.Theme
	if m.tooSmall() {
		return common.TooSmall(m.width, m.height, MinWidth, MinHeight)
	}

	header := m.header()
	var bottom []string
	if m.countdown > 0 {
		bottom = append(bottom, components.Countdown(th, m.countdown, m.width-2*margin))
	}
	bottom = append(bottom,
		components.StatusBar(th, m.cardState(), m.width-2*margin),
		components.HelpBar(th, m.helpKeys(), m.width-2*margin))
	bottomBlock := common.Indent(strings.Join(bottom, "\n"), margin)

	// header, gap, title, gap … gap, bottom
	bodyH := max(1, m.height-lipgloss.Height(header)-4-lipgloss.Height(bottomBlock))
	f := m.screen.View()
	title := th.Title.Render(ansi.Truncate(f.Title, m.c.Width, "…"))
	main := title + "\n\n" + crop(th, f, m.c.Width, bodyH)
	main = lipgloss.NewStyle().Width(m.c.Width).Height(bodyH + 2).MaxHeight(bodyH + 2).Render(main)
	return header + "\n\n" + common.Indent(main, margin) + "\n\n" + bottomBlock
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
	if !m.blurred && !m.tooSmall() {
		keys = append(keys, m.screen.Help()...) // only a screen in view takes keys
	}
	if m.opts.AllowExit {
		keys = append(keys, m.c.Keys.Quit)
	}
	return keys
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

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

// layout tells the screens how much room they have, and makes the themes
// for the terminal's background.
func (m *Model) layout() {
	m.c.Width = max(20, m.width-2*margin)
	m.c.Theme = theme.New(!m.light)
	m.compactTheme = m.c.Theme.Compact()
}

func (m *Model) render() string {
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
	th := m.c.Theme
	if m.tooSmall() {
		return common.TooSmall(m.width, m.height, MinWidth, MinHeight)
	}

	// The idle warning takes the status bar's place: always the same line,
	// never a block pushing the screen up.
	status := components.StatusBar(th, m.cardState(), m.width-2*margin)
	if m.countdown > 0 {
		status = components.Countdown(th, m.countdown, m.width-2*margin)
	}
	bottomBlock := common.Indent(status+"\n"+components.HelpBar(th, m.helpKeys(), m.width-2*margin), margin)

	// header, gap, title, gap … gap, bottom
	bodyH := max(1, m.height-1-4-lipgloss.Height(bottomBlock))
	f := m.screen.View()
	if strings.Count(f.Body, "\n")+1 > bodyH {
		// Too long for the screen (the security questions at 80×24): the
		// title moves into the header and input boxes take one line each;
		// what still does not fit scrolls with the focus.
		full := m.c.Theme
		m.c.Theme = m.compactTheme
		f = m.screen.View()
		m.c.Theme = full
		header := m.header(f.Title)
		bodyH += 2
		main := lipgloss.NewStyle().Width(m.c.Width).Height(bodyH).MaxHeight(bodyH).Render(common.Crop(th, f, m.c.Width, bodyH))
		return header + "\n\n" + common.Indent(main, margin) + "\n\n" + bottomBlock
	}
	title := th.Title.Render(ansi.Truncate(f.Title, m.c.Width, "…"))
	main := title + "\n\n" + common.Crop(th, f, m.c.Width, bodyH)
	main = lipgloss.NewStyle().Width(m.c.Width).Height(bodyH + 2).MaxHeight(bodyH + 2).Render(main)
	return m.header("") + "\n\n" + common.Indent(main, margin) + "\n\n" + bottomBlock
}

// header is the product's name, then title (when compact), and on the
// right the kiosk's kind when there is room for it.
func (m *Model) header(title string) string {
	th := m.c.Theme
	left := th.Header.Render("Smartcard Service Centre")
	if title != "" {
		left = th.Header.Render("Smartcard Service Centre ›") + th.Header.PaddingLeft(0).Render(title)
	}
	right := th.HeaderRight.Render("Self-service kiosk")
	if lipgloss.Width(left)+lipgloss.Width(right) > m.width {
		right = ""
	}
	gap := max(0, m.width-lipgloss.Width(left)-lipgloss.Width(right))
	fill := th.HeaderRight.Padding(0).Render(strings.Repeat(" ", gap))
	return ansi.Truncate(left+fill+right, m.width, "")
}

func (m *Model) cardState() components.CardState {
	s := components.CardState{ReaderDown: m.readerDown, StoreDown: m.c.StoreDown, Present: m.cardPresent}
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

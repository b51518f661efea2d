package operator

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/tui"
	"github.com/smartcard-service-centre/kiosk/tui/common"
	"github.com/smartcard-service-centre/kiosk/tui/components"
)

// margin is the blank columns either side of the screen.
const margin = 2

// View draws the terminal in the alternate screen.
func (m *Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = "Smartcard Service Centre — operator terminal"
	return v
}

func (m *Model) tooSmall() bool { return m.width < tui.MinWidth || m.height < tui.MinHeight }

func (m *Model) render() string {
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
	th := m.c.Theme
	if m.tooSmall() {
		return common.TooSmall(m.width, m.height, tui.MinWidth, tui.MinHeight)
	}
	header := m.header()
	bottom := common.Indent(strings.Join([]string{
		th.StatusBar.Width(m.c.Width).MaxHeight(1).Render(m.status()),
		components.HelpBar(th, m.helpKeys(), m.c.Width),
	}, "\n"), margin)
	bodyH := max(1, m.height-lipgloss.Height(header)-4-lipgloss.Height(bottom))
	f := m.screen.View()
	title := th.Title.Render(ansi.Truncate(f.Title, m.c.Width, "…"))
	main := title + "\n\n" + common.Crop(th, f, m.c.Width, bodyH)
	main = lipgloss.NewStyle().Width(m.c.Width).Height(bodyH + 2).MaxHeight(bodyH + 2).Render(main)
	return header + "\n\n" + common.Indent(main, margin) + "\n\n" + bottom
}

// header is the product's name, and once logged in seed 000 Fig 10's
// "Hi, <name> | <role> for <organisation> | Change | Logout".
func (m *Model) header() string {
	th := m.c.Theme
	left := th.Header.Render("Smartcard Service Centre")
	right := "Operator terminal"
	if s := m.s; s != nil && s.ready() {
		name, role, change := domain.CleanText(s.op.Name), domain.CleanText(s.op.Role.String()), len(s.op.Roles) > 1
		right = HeaderText(name, role, change)
		// On a narrow terminal the operator's own header matters more than
		// the product's name, and Change and Logout must stay in sight:
		// the role is shortened in the middle of the line instead.
		if lipgloss.Width(left)+lipgloss.Width(th.HeaderRight.Render(right)) > m.width {
			left = ""
			over := lipgloss.Width(th.HeaderRight.Render(right)) - m.width
			if over > 0 {
				role = ansi.Truncate(role, max(1, ansi.StringWidth(role)-over), "…")
				right = HeaderText(name, role, change)
			}
		}
	}
	r := th.HeaderRight.Render(domain.CleanText(right))
	gap := max(0, m.width-lipgloss.Width(left)-lipgloss.Width(r))
	fill := th.HeaderRight.Padding(0).Render(strings.Repeat(" ", gap))
	return ansi.Truncate(left+fill+r, m.width, "")
}

// HeaderText is the logged-in header: "Change" only when there is
// another role to change to.
func HeaderText(name, role string, change bool) string {
	parts := []string{"Hi, " + name, role}
	if change {
		parts = append(parts, "Change")
	}
	return strings.Join(append(parts, "Logout"), " | ")
}

// status is the status line: the store's banner while it is away, then
// what is in each reader.
func (m *Model) status() string {
	line := m.readers()
	if m.c.StoreDown {
		// First: on one line, it is what must not be cut off.
		line = components.StoreDown(m.c.Theme) + " · " + line
	}
	return line
}

// readers says what is in each reader, or that they cannot be used.
func (m *Model) readers() string {
	if m.down {
		return "⚠ Card readers not available"
	}
	own := "○ Your reader: empty"
	if m.opIn {
		own = "● Your Smartcard"
		if s := m.s; s != nil && s.op.Serial != "" {
			own += " " + string(s.op.Serial)
		}
	}
	holder := "○ Second reader: empty"
	if m.holderIn {
		holder = "● Second reader: card holder's Smartcard"
	}
	line := own + " · " + holder
	if m.busy() {
		line = m.spinner.View() + " Please wait… do not remove either Smartcard   " + line
	}
	return line
}

func (m *Model) helpKeys() []key.Binding {
	var keys []key.Binding
	if !m.blurred && !m.tooSmall() {
		keys = append(keys, m.screen.Help()...)
	}
	if s := m.s; s != nil && s.ready() {
		if len(s.op.Roles) > 1 {
			keys = append(keys, m.c.Keys.Role)
		}
		keys = append(keys, m.c.Keys.Logout)
	}
	if m.opts.AllowExit {
		keys = append(keys, m.c.Keys.Quit)
	}
	return keys
}

package demo

import (
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/tui"
	"github.com/smartcard-service-centre/kiosk/tui/common"
	"github.com/smartcard-service-centre/kiosk/tui/components"
)

// Layout (here "the kiosk" is the product the demo wraps: the kiosk or
// the operator terminal, which share the minimum size): the panels stand
// beside the kiosk on a terminal that leaves the kiosk its minimum width
// and the panels theirs (100 columns); on a narrower one the Panels key
// switches between the kiosk and the panels, which then have the screen
// to themselves, the tray and the inbox side by side where they fit. The
// demo's keys take the last line.
const (
	// panelMinWidth fits the tray's labels on one line beside their keys
	// ("▶F12 Ms Grace Hughes · unregistered") and an email readably.
	panelMinWidth = 38
	panelMaxWidth = 48
	// kioskWide is the width the kiosk's screens are laid out for: beside
	// the panels the kiosk gets up to this before the panels grow.
	kioskWide    = 80
	margin       = 2 // blank columns at the terminal's edges, as the kiosk leaves
	sideMinWidth = tui.MinWidth + panelMinWidth + margin
	panelTop     = 2 // level with the kiosk's screen title, below its header
	// inboxMinHeight shows an email's subject and code below the inbox's
	// heading; a smaller inbox is left out.
	inboxMinHeight = 6
)

// arrangement is how the kiosk and the panels share the terminal.
type arrangement int

const (
	alone   arrangement = iota // the kiosk on the whole terminal: nothing to show, or no room
	above                      // the kiosk above the demo's keys, the panels hidden
	beside                     // the panels beside the kiosk
	instead                    // the panels instead of the kiosk
)

// layout is how the terminal is shared out.
type layout struct {
	a      arrangement
	bar    string // the demo's keys ("" alone)
	kw, kh int    // the kiosk's room
	// The panels' room (none unless beside or instead), and the boxes
	// in it.
	pw, ph int
	boxes
}

// boxes are the tray and the inbox in the panels' room.
type boxes struct {
	tray           string // the tray drawn; "" without one
	row            bool   // the tray and the inbox side by side
	inboxW, inboxH int    // frame included; 0 when the inbox is not shown
}

func (m *Model) layout() layout {
	l := layout{a: alone, kw: m.width, kh: m.height}
	if !m.hasPanels() || m.width < tui.MinWidth {
		return l
	}
	a := above
	switch {
	case m.width >= sideMinWidth && !m.flip:
		a = beside
	case m.width < sideMinWidth && m.flip:
		a = instead
	}
	bar := components.HelpBar(m.th, m.help(a), m.width-2*margin)
	h := m.height - lipgloss.Height(bar)
	if h < tui.MinHeight {
		// Too small for the kiosk with the demo: the kiosk alone says so.
		return l
	}
	l.a, l.bar, l.kh = a, bar, h
	switch a {
	case beside:
		l.pw = max(panelMinWidth, min(panelMaxWidth, m.width-margin-kioskWide))
		l.kw = m.width - l.pw - margin
	case instead:
		l.pw = m.width - 2*margin
	}
	if l.pw > 0 {
		l.ph = h - panelTop
		l.boxes = m.arrange(l.pw, l.ph)
	}
	return l
}

// arrange places the tray and the inbox in width × height: side by side
// when both fit, else the inbox under the tray in the height left.
func (m *Model) arrange(width, height int) boxes {
	var b boxes
	trayW := min(width, panelMaxWidth) // wider would only add blank space
	if m.o.Tray != nil && m.o.Mailbox != nil && width >= 2*panelMinWidth {
		b.row = true
		trayW = max(panelMinWidth, min(panelMaxWidth, width/2))
	}
	if m.o.Tray != nil {
		b.tray = m.trayBox(trayW)
	}
	if m.o.Mailbox != nil {
		b.inboxW, b.inboxH = width, height
		switch {
		case b.row:
			b.inboxW = width - trayW
		case b.tray != "":
			b.inboxH = height - lipgloss.Height(b.tray)
		}
		if b.inboxH < inboxMinHeight {
			b.inboxW, b.inboxH = 0, 0
		}
	}
	return b
}

// View draws the kiosk's view with the panels and the demo's keys.
func (m *Model) View() tea.View {
	v := m.product.View()
	l := m.layout()
	var top string
	switch l.a {
	case alone:
		return v
	case beside:
		panels := strings.Repeat("\n", panelTop) + m.drawPanels(l)
		top = lipgloss.JoinHorizontal(lipgloss.Top, fit(v.Content, l.kh), panels)
	case instead:
		top = strings.Repeat("\n", panelTop) + common.Indent(m.drawPanels(l), margin)
	default:
		top = v.Content
	}
	v.Content = fit(top, l.kh) + "\n" + common.Indent(l.bar, margin)
	return v
}

// drawPanels draws the tray and the inbox in the panels' room.
func (m *Model) drawPanels(l layout) string {
	var parts []string
	if l.tray != "" {
		parts = append(parts, l.tray)
	}
	if l.inboxH > 0 {
		parts = append(parts, m.inboxBox(l.inboxW, l.inboxH, l.a))
	}
	out := strings.Join(parts, "\n")
	if l.row {
		out = lipgloss.JoinHorizontal(lipgloss.Top, parts...)
	}
	return lipgloss.NewStyle().MaxHeight(l.ph).Render(out)
}

// help lists the demo's keys on offer in arrangement a; the Panels key
// says where it goes from here.
func (m *Model) help(a arrangement) []key.Binding {
	panels := m.keys.Panels
	switch {
	case a == beside:
		panels.SetHelp(panels.Help().Key, "hide demo panels")
	case a == instead && m.keys.Operator.Enabled():
		panels.SetHelp(panels.Help().Key, "back to the terminal")
	case a == instead:
		panels.SetHelp(panels.Help().Key, "back to the kiosk")
	case m.width >= sideMinWidth:
		panels.SetHelp(panels.Help().Key, "show demo panels")
	}
	out := []key.Binding{m.keys.Tray, m.keys.Operator, panels} // the help bar skips a disabled one
	if a == beside || a == instead {
		up, _ := m.inboxKeys(a)
		out = append(out, up)
	}
	return out
}

// inboxKeys are the keys that scroll the inbox in arrangement a: while
// the panels cover the kiosk, the bare arrows too.
func (m *Model) inboxKeys(a arrangement) (up, down key.Binding) {
	up, down = m.keys.InboxUp, m.keys.InboxDown
	if a == instead {
		up.SetKeys(slices.Concat(up.Keys(), []string{"up"})...)
		down.SetKeys(slices.Concat(down.Keys(), []string{"down"})...)
		up.SetHelp("↑/↓", up.Help().Desc)
	}
	return up, down
}

// trayBox draws the tray width wide.
func (m *Model) trayBox(width int) string {
	entries := make([]trayEntry, len(m.cards))
	for i, c := range m.cards {
		k := "–" // no key reaches it
		if i < len(trayKeys) {
			k = strings.ToUpper(trayKeys[i].holder)
		}
		entries[i] = trayEntry{Key: k, Label: c.Label, Holder: c.Holder, In: c.In}
	}
	return trayPanel(m.th, m.trayKeysHelp(), entries, m.note, width, m.keys.Operator.Enabled())
}

// trayKeysHelp says which keys move cards to which reader, from the key
// map: one entry per reader the keys reach.
func (m *Model) trayKeysHelp() []readerKeys {
	both := m.keys.Operator.Enabled()
	var out []readerKeys
	for _, b := range []struct {
		k    key.Binding
		r    domain.ReaderRole
		what string
	}{{m.keys.Tray, domain.ReaderHolder, "Holder's reader"}, {m.keys.Operator, domain.ReaderOperator, "Operator's reader"}} {
		if !b.k.Enabled() {
			continue
		}
		if !both {
			b.what = "Card in/out" // the kiosk's only reader
		}
		out = append(out, readerKeys{what: b.what, keys: b.k.Help().Key, alt: altKeys(b.r)})
	}
	return out
}

// inboxParts are the inbox panel's heading and mail lines, width wide
// (frame included), and how many mail lines it shows height tall.
func (m *Model) inboxParts(width, height int) (head, lines []string, rows int) {
	inner := max(10, width-m.th.Panel.GetHorizontalFrameSize())
	holder, mails := m.inbox.shown(m.cards, m.mails)
	head = inboxHead(m.th, holder, len(mails), inner)
	lines = mailLines(m.th, mails, inner)
	return head, lines, height - m.th.Panel.GetVerticalFrameSize() - len(head)
}

// inboxBox draws the inbox panel, scrolled.
func (m *Model) inboxBox(width, height int, a arrangement) string {
	head, lines, rows := m.inboxParts(width, height)
	up, _ := m.inboxKeys(a)
	return inboxPanel(m.th, head, lines, m.inbox.offset, rows, up.Help().Key, width)
}

// fit makes s exactly h lines long.
func fit(s string, h int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n")
}

package demo

import (
	"fmt"
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
// beside the kiosk on a terminal at least
// sideMinWidth wide; on a narrower one the Panels key shows them instead
// of the kiosk. The demo's keys take the last line.
const (
	sideMinWidth = 100
	margin       = 2 // blank columns at the terminal's edges, as the kiosk leaves
	panelTop     = 2 // level with the kiosk's screen title, below its header
	barHeight    = 1
)

// arrangement is how the kiosk and the panels share the terminal.
type arrangement int

const (
	alone   arrangement = iota // the kiosk on the whole terminal: nothing to show, or no room
	above                      // the kiosk above the demo's keys, the panels hidden
	beside                     // the panels beside the kiosk
	instead                    // the panels instead of the kiosk
)

func (m *Model) arrangement() arrangement {
	switch {
	case !m.hasPanels(), m.width < tui.MinWidth, m.height-barHeight < tui.MinHeight:
		// Too small for the kiosk with the demo: the kiosk alone says so.
		return alone
	case m.width >= sideMinWidth && !m.flip:
		return beside
	case m.width < sideMinWidth && m.flip:
		return instead
	}
	return above
}

func (m *Model) panelWidth() int { return min(48, m.width/3) }

// kioskSize is the room the kiosk gets in arrangement a.
func (m *Model) kioskSize(a arrangement) (width, height int) {
	switch a {
	case alone:
		return m.width, m.height
	case beside:
		return m.width - m.panelWidth() - margin, m.height - barHeight
	}
	return m.width, m.height - barHeight
}

// View draws the kiosk's view with the panels and the demo's keys.
func (m *Model) View() tea.View {
	v := m.product.View()
	a := m.arrangement()
	_, h := m.kioskSize(a)
	var top string
	switch a {
	case alone:
		return v
	case beside:
		panels := strings.Repeat("\n", panelTop) + m.panelColumn(m.panelWidth(), h-panelTop)
		top = lipgloss.JoinHorizontal(lipgloss.Top, fit(v.Content, h), panels)
	case instead:
		top = strings.Repeat("\n", panelTop) + common.Indent(m.panelColumn(m.width-2*margin, h-panelTop), margin)
	default:
		top = v.Content
	}
	bar := components.HelpBar(m.th, m.help(), m.width-2*margin)
	v.Content = fit(top, h) + "\n" + common.Indent(bar, margin)
	return v
}

// help lists the demo's keys on offer.
func (m *Model) help() []key.Binding {
	return []key.Binding{m.keys.Tray, m.keys.Operator, m.keys.Panels} // the help bar skips a disabled one
}

// panelColumn stacks the tray above the mailbox.
func (m *Model) panelColumn(width, height int) string {
	var parts []string
	if m.o.Tray != nil {
		entries := make([]trayEntry, len(m.cards))
		for i, c := range m.cards {
			k := "–" // no key reaches it
			if i < len(trayKeys) {
				k = strings.ToUpper(trayKeys[i].holder)
			}
			entries[i] = trayEntry{Key: k, Label: c.Label, In: c.In}
		}
		parts = append(parts, trayPanel(m.th, m.trayKeysHelp(), entries, m.note, width, m.keys.Operator.Enabled()))
	}
	if m.o.Mailbox != nil {
		used := 0
		for _, p := range parts {
			used += lipgloss.Height(p)
		}
		if left := height - used; left >= 5 {
			parts = append(parts, mailboxPanel(m.th, m.mails, width, left))
		}
	}
	return lipgloss.NewStyle().MaxHeight(height).Render(strings.Join(parts, "\n"))
}

// trayKeysHelp says which keys move cards to which reader, from the key
// map: one line per reader the keys reach.
func (m *Model) trayKeysHelp() []string {
	var out []string
	for _, b := range []struct {
		k key.Binding
		r domain.ReaderRole
	}{{m.keys.Tray, domain.ReaderHolder}, {m.keys.Operator, domain.ReaderOperator}} {
		if b.k.Enabled() {
			h := b.k.Help()
			out = append(out, fmt.Sprintf("%s (or %s): %s", h.Key, altKeys(b.r), h.Desc))
		}
	}
	return out
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

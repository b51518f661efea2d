package components

import (
	"fmt"
	"strconv"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/smartcard-service-centre/kiosk/tui/common"
	"github.com/smartcard-service-centre/kiosk/tui/theme"
)

// MenuItem is one choice: a title and a line saying what it does.
type MenuItem struct {
	Title string
	Desc  string
}

// Menu is a vertical list of choices, chosen with ↑/↓ and Enter or the
// item's number.
type Menu struct {
	Items  []MenuItem
	Cursor int
	keys   common.KeyMap
}

// NewMenu returns a menu with the first item selected.
func NewMenu(keys common.KeyMap, items ...MenuItem) Menu {
	return Menu{Items: items, keys: keys}
}

// Update moves the selection; chosen is the index picked, or -1.
func (m Menu) Update(msg tea.Msg) (Menu, int) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok || len(m.Items) == 0 {
		return m, -1
	}
	switch {
	case key.Matches(k, m.keys.Up, m.keys.Prev):
		m.Cursor = (m.Cursor + len(m.Items) - 1) % len(m.Items)
	case key.Matches(k, m.keys.Down, m.keys.Next):
		m.Cursor = (m.Cursor + 1) % len(m.Items)
	case key.Matches(k, m.keys.Enter):
		return m, m.Cursor
	default:
		if n, err := strconv.Atoi(k.String()); err == nil && n >= 1 && n <= len(m.Items) {
			m.Cursor = n - 1
			return m, n - 1
		}
	}
	return m, -1
}

// View adds the items to d, marking the selected one.
func (m Menu) View(d *common.Doc, th *theme.Theme, width int) {
	for i, it := range m.Items {
		st := th.MenuItem
		if i == m.Cursor {
			st = th.MenuItemActive
		}
		title := fmt.Sprintf("%d  %s", i+1, it.Title)
		block := lipgloss.JoinVertical(lipgloss.Left, th.Strong.Render(title), th.Muted.PaddingLeft(3).Width(max(10, width-2)).Render(it.Desc))
		if i == m.Cursor {
			d.Focus(st.Render(block))
		} else {
			d.Add(st.Render(block))
		}
	}
}

// Button draws a button; the active one is the one Enter presses.
func Button(th *theme.Theme, label string, active bool) string {
	if active {
		return th.ButtonActive.Render(label)
	}
	return th.Button.Render(label)
}

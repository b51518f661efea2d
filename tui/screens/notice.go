// Package screens holds one model per kiosk screen. Screens call the
// domain only through Visit.Do and change screen by returning the next
// one from Update.
package screens

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/smartcard-service-centre/kiosk/tui/common"
)

// Next builds the screen to go to; screens are built fresh so nothing
// typed earlier survives.
type Next func() (common.Screen, tea.Cmd)

// Notice tells the holder what happened and what to do next. With a next
// screen, Enter goes there; without one (a fatal outcome) the only way on
// is to remove the card.
type Notice struct {
	c      *common.Common
	ex     common.Explanation
	next   Next
	action string
}

// NewNotice explains err. action names where Enter goes ("back to the
// menu"); next nil means nowhere.
func NewNotice(c *common.Common, err error, action string, next Next) *Notice {
	ex := c.Explain(err)
	if ex.Fatal {
		next = nil
	}
	return &Notice{c: c, ex: ex, next: next, action: action}
}

// NewMessage shows a given explanation, e.g. a success or a refusal
// worded by the screen.
func NewMessage(c *common.Common, ex common.Explanation, action string, next Next) *Notice {
	return &Notice{c: c, ex: ex, next: next, action: action}
}

func (n *Notice) Init() tea.Cmd { return nil }

func (n *Notice) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok && n.next != nil {
		if key.Matches(k, n.c.Keys.Enter, n.c.Keys.Back) {
			return n.next()
		}
	}
	return n, nil
}

func (n *Notice) View() common.Frame {
	th, w := n.c.Theme, n.c.ContentWidth()
	var d common.Doc
	d.Add(th.Notice.Width(w).Render(th.Strong.Render(n.ex.What)))
	if n.ex.Next != "" {
		d.Gap()
		d.Add(para(th.Text, w, n.ex.Next))
	}
	if n.next == nil && !strings.Contains(strings.ToLower(n.ex.Next), "remove") {
		d.Gap()
		d.Add(para(th.Muted, w, "Remove your Smartcard to finish."))
	}
	return d.Frame(n.ex.Title)
}

// Finished says nothing more can be done: pulling the card is expected.
func (n *Notice) Finished() bool { return n.next == nil }

func (n *Notice) Help() []key.Binding {
	if n.next == nil {
		return []key.Binding{common.Hint("remove card", "finish")}
	}
	return []key.Binding{common.WithHelp(n.c.Keys.Enter, n.action)}
}

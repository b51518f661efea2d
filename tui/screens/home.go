package screens

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/smartcard-service-centre/kiosk/tui/common"
	"github.com/smartcard-service-centre/kiosk/tui/components"
)

// Home greets the identified card holder and offers the two services.
type Home struct {
	c    *common.Common
	v    *common.Visit
	menu components.Menu
}

// NewHome returns the holder's menu.
func NewHome(c *common.Common, v *common.Visit) (common.Screen, tea.Cmd) {
	return &Home{c: c, v: v, menu: components.NewMenu(c.Keys,
		components.MenuItem{Title: "Smartcard Unlock", Desc: "Unlock your Smartcard and set a new passcode."},
		components.MenuItem{Title: "My Profile", Desc: "Register for Smartcard Unlock, change your passcode or renew your certificates."},
	)}, nil
}

func (h *Home) Init() tea.Cmd { return nil }

func (h *Home) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	var chosen int
	h.menu, chosen = h.menu.Update(msg)
	switch chosen {
	case 0:
		if h.v.SignedIn {
			return NewMessage(h.c, common.Explanation{
				Title: "Smartcard Unlock not needed",
				What:  "You have signed in with your passcode in this visit, so your Smartcard is not locked.",
				Next:  "To choose a new passcode, use Change passcode in My Profile.",
			}, "back to the menu", func() (common.Screen, tea.Cmd) { return NewHome(h.c, h.v) }), nil
		}
		return NewUnlockIntro(h.c, h.v)
	case 1:
		if h.v.SignedIn {
			return NewProfile(h.c, h.v, "")
		}
		if h.v.Holder.Blocked {
			// The card cannot verify a passcode while blocked: say so
			// rather than ask for one.
			return lockedNotice(h.c, h.v), nil
		}
		return NewSignIn(h.c, h.v)
	}
	return h, nil
}

func (h *Home) View() common.Frame {
	th, w := h.c.Theme, h.c.ContentWidth()
	var d common.Doc
	if h.v.Holder.Blocked {
		d.Add(para(th.Error, w, common.LockedGreeting(h.v.Holder)))
		d.Gap()
	}
	if certs := common.CertsGreeting(h.v.Holder); certs != "" {
		st := th.Strong
		if h.v.Holder.CertsExpired {
			st = th.Error
		}
		d.Add(para(st, w, certs))
		d.Gap()
	}
	d.Add(para(th.Text, w, "What would you like to do?"))
	d.Gap()
	h.menu.View(&d, th, w)
	return d.Frame("Hello, " + clean(h.v.Holder.Name))
}

func (h *Home) Help() []key.Binding {
	return []key.Binding{h.c.Keys.Up, common.WithHelp(h.c.Keys.Enter, "choose")}
}

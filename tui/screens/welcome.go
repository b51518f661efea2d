package screens

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/smartcard-service-centre/kiosk/tui/common"
)

// StartMsg asks the root to start a visit for the card in the reader
// (after an idle timeout left it there).
type StartMsg struct{}

// Welcome is the start screen: what the kiosk offers and "insert your
// Smartcard". The root sets its fields as the reader reports.
type Welcome struct {
	c *common.Common
	// ReaderDown: the reader cannot be used; say so instead of "insert".
	ReaderDown bool
	// CardLeft: a card is still in the reader after its visit ended.
	CardLeft bool
	// Reason says why the last visit ended (card removed, timed out).
	Reason string
}

// NewWelcome returns the start screen.
func NewWelcome(c *common.Common) *Welcome { return &Welcome{c: c} }

func (w *Welcome) Init() tea.Cmd { return nil }

func (w *Welcome) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok && w.CardLeft && key.Matches(k, w.c.Keys.Start) {
		return w, func() tea.Msg { return StartMsg{} }
	}
	return w, nil
}

func (w *Welcome) View() common.Frame {
	th, cw := w.c.Theme, w.c.ContentWidth()
	var d common.Doc
	if w.Reason != "" {
		d.Add(th.Notice.Width(cw).Render(w.Reason))
		d.Gap()
	}
	d.Add(para(th.Text, cw, "Here you can:"))
	d.Add(steps(th.Text, cw,
		"Unlock your Smartcard and set a new passcode (Smartcard Unlock), if you have registered for the Smartcard Unlock Service.",
		"Register for the Smartcard Unlock Service.",
		"Change your passcode.",
		"Renew your certificates when they are due.",
	))
	d.Gap()
	switch {
	case w.ReaderDown:
		ex := common.ReaderServiceDown
		d.Focus(th.Error.Width(cw).Render(ex.What + " " + ex.Next))
	case w.c.StoreDown && !w.CardLeft:
		// A card inserted now waits to be checked: say so before.
		d.Focus(th.Error.Width(cw).Render(StoreDownWelcome))
	case w.CardLeft:
		d.Focus(th.Strong.Width(cw).Render("Remove your Smartcard to finish, or press " + keyCap(w.c.Keys.Start) + " to start again."))
	default:
		d.Focus(th.Title.Width(cw).Render("Insert your Smartcard into the reader to begin."))
	}
	return d.Frame("Welcome to the Smartcard Service Centre")
}

func (w *Welcome) Help() []key.Binding {
	switch {
	case w.CardLeft:
		return []key.Binding{w.c.Keys.Start, common.Hint("remove card", "finish")}
	case w.ReaderDown:
		return nil
	}
	return []key.Binding{common.Hint("insert card", "begin")}
}

// StoreDownWelcome is what the start screen says while the store is away.
const StoreDownWelcome = "The Smartcard Service Centre is temporarily unavailable. Insert your Smartcard all the same: it will be checked as soon as the service is back."

// Checking shows while the kiosk reads and verifies a newly inserted card.
type Checking struct {
	c *common.Common
	// away: the store did not answer, and the card is checked again as
	// soon as it does (the root retries); the card stays in the reader.
	away bool
}

// NewChecking returns the screen shown during the card check.
func NewChecking(c *common.Common) *Checking { return &Checking{c: c} }

// NewUnavailableCheck is the card check waiting for the store to answer.
func NewUnavailableCheck(c *common.Common) *Checking { return &Checking{c: c, away: true} }

func (s *Checking) Init() tea.Cmd { return nil }

func (s *Checking) Update(tea.Msg) (common.Screen, tea.Cmd) { return s, nil }

func (s *Checking) View() common.Frame {
	if s.away {
		return s.c.UnavailableFrame(common.Unavailable, "Please leave your Smartcard in the reader.")
	}
	var d common.Doc
	d.Add(para(s.c.Theme.Text, s.c.ContentWidth(), "Checking your Smartcard. Please leave it in the reader."))
	return d.Frame("Smartcard Service Centre")
}

func (s *Checking) Help() []key.Binding {
	if s.away {
		return []key.Binding{common.Hint("please wait", "checked when the service is back")}
	}
	return []key.Binding{common.Hint("please wait", "checking your Smartcard")}
}

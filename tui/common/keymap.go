package common

import "charm.land/bubbles/v2/key"

// KeyMap is every key the kiosk knows, in one place. Screens pick the
// bindings they use for the help bar; the root handles the global ones.
type KeyMap struct {
	Up     key.Binding
	Down   key.Binding
	Next   key.Binding // next field
	Prev   key.Binding // previous field
	Enter  key.Binding // select, next, confirm
	Back   key.Binding // one step back; never leaves the program
	Toggle key.Binding // choose or unchoose a question
	Resend key.Binding // email a new code
	Menu   key.Binding // back to the holder's menu
	Start  key.Binding // start again after a timeout (card still in)
	Reveal key.Binding // show or hide the security answer being typed

	// The operator terminal's header (seed 000 Fig 10): Change and Logout.
	Role     key.Binding // change the session role
	Logout   key.Binding // log out of the operator terminal
	NextPage key.Binding // the next (older) page of a list
	PrevPage key.Binding // the previous (newer) page of a list

	// Global: the root serves these before any screen sees them.
	Quit key.Binding // quits only with AllowExit (development)
	// Suspend is the keys a terminal turns into stop signals (Ctrl+Z
	// suspends, Ctrl+\ quits): the kiosk takes them so that nothing stops.
	Suspend key.Binding
}

// DefaultKeyMap is the kiosk's key map.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Up:     key.NewBinding(key.WithKeys("up"), key.WithHelp("↑/↓", "move")),
		Down:   key.NewBinding(key.WithKeys("down"), key.WithHelp("↓", "move down")),
		Next:   key.NewBinding(key.WithKeys("tab", "down"), key.WithHelp("tab/↓", "next field")),
		Prev:   key.NewBinding(key.WithKeys("shift+tab", "up"), key.WithHelp("shift+tab/↑", "previous field")),
		Enter:  key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "continue")),
		Back:   key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),
		Toggle: key.NewBinding(key.WithKeys("space"), key.WithHelp("space", "choose/unchoose")),
		Resend: key.NewBinding(key.WithKeys("ctrl+r"), key.WithHelp("ctrl+r", "send a new code")),
		Menu:   key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "back to the menu")),
		Start:  key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "start again")),
		// A toggle: terminals do not report a key being held.
		Reveal: key.NewBinding(key.WithKeys("ctrl+t"), key.WithHelp("ctrl+t", "show/hide answer")),

		Role:     key.NewBinding(key.WithKeys("ctrl+o"), key.WithHelp("ctrl+o", "change role")),
		Logout:   key.NewBinding(key.WithKeys("ctrl+x"), key.WithHelp("ctrl+x", "logout")),
		NextPage: key.NewBinding(key.WithKeys("pgdown", "right"), key.WithHelp("pgdn/→", "older")),
		PrevPage: key.NewBinding(key.WithKeys("pgup", "left"), key.WithHelp("pgup/←", "newer")),

		Quit:    key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit (development)")),
		Suspend: key.NewBinding(key.WithKeys("ctrl+z", "ctrl+\\")),
	}
}

// WithHelp returns a copy of b with other help text, for a screen where
// the same key means something more specific ("enter: start").
func WithHelp(b key.Binding, desc string) key.Binding {
	b.SetHelp(b.Help().Key, desc)
	return b
}

// Hint is a help-bar entry for something done with the card rather than a
// key ("remove card: finish"). Its key is one no keyboard sends.
func Hint(what, desc string) key.Binding {
	return key.NewBinding(key.WithKeys("hint: "+what), key.WithHelp(what, desc))
}

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

	// Global.
	Quit   key.Binding // only with AllowExit (development)
	Tray   key.Binding // demo: insert or remove a demo card
	Panels key.Binding // demo: show or hide the demo panels
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

		Quit: key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit (development)")),
		Tray: key.NewBinding(
			key.WithKeys("f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8", "f9",
				"alt+1", "alt+2", "alt+3", "alt+4", "alt+5", "alt+6", "alt+7", "alt+8", "alt+9"),
			key.WithHelp("f1–f9", "demo card in/out")),
		Panels: key.NewBinding(key.WithKeys("f10", "alt+m"), key.WithHelp("f10", "demo panels")),
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

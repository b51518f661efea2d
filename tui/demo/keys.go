package demo

import "charm.land/bubbles/v2/key"

// KeyMap is the demo's own keys. The kiosk never sees them: they stand
// for a hand at the card tray, not for typing at the kiosk.
type KeyMap struct {
	Tray   key.Binding // insert or remove a demo card
	Panels key.Binding // show or hide the demo panels
}

// DefaultKeyMap is the demo's key map.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Tray:   key.NewBinding(key.WithKeys(trayKeyNames()...), key.WithHelp("f1–f12", "demo card in/out")),
		Panels: key.NewBinding(key.WithKeys("f10", "alt+m"), key.WithHelp("f10", "demo panels")),
	}
}

// trayKeys are the tray's keys, card by card: a function key, and an
// Alt+key for terminals that keep the function keys to themselves. F10 is
// the panels' key, so the eleventh card is on F11.
var trayKeys = [][2]string{
	{"f1", "alt+1"}, {"f2", "alt+2"}, {"f3", "alt+3"}, {"f4", "alt+4"}, {"f5", "alt+5"},
	{"f6", "alt+6"}, {"f7", "alt+7"}, {"f8", "alt+8"}, {"f9", "alt+9"},
	{"f11", "alt+0"}, {"f12", "alt+-"},
}

func trayKeyNames() []string {
	var out []string
	for _, k := range trayKeys {
		out = append(out, k[0], k[1])
	}
	return out
}

// trayIndex is the tray card a key stands for, or -1.
func trayIndex(s string) int {
	for i, k := range trayKeys {
		if s == k[0] || s == k[1] {
			return i
		}
	}
	return -1
}

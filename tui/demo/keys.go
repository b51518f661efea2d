package demo

import (
	"strings"

	"charm.land/bubbles/v2/key"

	"github.com/smartcard-service-centre/kiosk/domain"
)

// KeyMap is the demo's own keys. The product never sees them: they stand
// for a hand at the card tray, not for typing at the kiosk or the
// operator terminal.
type KeyMap struct {
	Tray     key.Binding // put a demo card in the card holder's reader, or take it out
	Operator key.Binding // the same at the operator's reader (operator terminal only)
	Panels   key.Binding // switch between the kiosk and the demo panels
	// Scroll the inbox while it is on screen (with a mailbox only). Alt:
	// the kiosk beside it takes the bare arrows; while the panels cover
	// the kiosk, the bare arrows scroll too.
	InboxUp   key.Binding
	InboxDown key.Binding
}

// DefaultKeyMap is the demo's key map around the kiosk, whose only
// reader is the card holder's.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Tray: key.NewBinding(key.WithKeys(trayKeyNames(domain.ReaderHolder)...), key.WithHelp("f1–f12", "demo card in/out")),
		Operator: key.NewBinding(key.WithKeys(trayKeyNames(domain.ReaderOperator)...), key.WithHelp("shift+f1–f12", "card in/out, operator's reader"),
			key.WithDisabled()),
		Panels:    key.NewBinding(key.WithKeys("f10", "alt+m"), key.WithHelp("f10", "demo panels")),
		InboxUp:   key.NewBinding(key.WithKeys("alt+up"), key.WithHelp("alt+↑/↓", "scroll inbox")),
		InboxDown: key.NewBinding(key.WithKeys("alt+down")), // shown with InboxUp
	}
}

// OperatorKeyMap is the demo's key map around the operator terminal,
// which has both readers.
func OperatorKeyMap() KeyMap {
	k := DefaultKeyMap()
	k.Tray.SetHelp("f1–f12", "card in/out, holder's reader")
	k.Operator.SetEnabled(true)
	return k
}

// trayKey is the keys of one tray card: a function key, and an Alt+key
// for terminals that keep the function keys to themselves, for each
// reader.
type trayKey struct {
	holder, holderAlt     string
	operator, operatorAlt string
}

// trayKeys are the tray's keys, card by card. F10 is the panels' key, so
// the tenth card is on F11. The operator's reader has the same function
// keys with Shift, and the Alt+keys of the row below the digits.
var trayKeys = []trayKey{
	{"f1", "alt+1", "shift+f1", "alt+q"}, {"f2", "alt+2", "shift+f2", "alt+w"},
	{"f3", "alt+3", "shift+f3", "alt+e"}, {"f4", "alt+4", "shift+f4", "alt+r"},
	{"f5", "alt+5", "shift+f5", "alt+t"}, {"f6", "alt+6", "shift+f6", "alt+y"},
	{"f7", "alt+7", "shift+f7", "alt+u"}, {"f8", "alt+8", "shift+f8", "alt+i"},
	{"f9", "alt+9", "shift+f9", "alt+o"}, {"f11", "alt+0", "shift+f11", "alt+p"},
	{"f12", "alt+-", "shift+f12", "alt+="},
}

// keys are the key names of k for reader r.
func (k trayKey) keys(r domain.ReaderRole) [2]string {
	if r == domain.ReaderOperator {
		return [2]string{k.operator, k.operatorAlt}
	}
	return [2]string{k.holder, k.holderAlt}
}

func trayKeyNames(r domain.ReaderRole) []string {
	var out []string
	for _, k := range trayKeys {
		ks := k.keys(r)
		out = append(out, ks[0], ks[1])
	}
	return out
}

// trayIndex is the tray card a key stands for and the reader it goes to;
// -1 if none.
func trayIndex(s string) (int, domain.ReaderRole) {
	for i, k := range trayKeys {
		for _, r := range []domain.ReaderRole{domain.ReaderHolder, domain.ReaderOperator} {
			if ks := k.keys(r); s == ks[0] || s == ks[1] {
				return i, r
			}
		}
	}
	return -1, ""
}

// altKeys names the Alt+keys of reader r for the tray panel, e.g.
// "alt+1…0, -".
func altKeys(r domain.ReaderRole) string {
	first, last, extra := trayKeys[0].keys(r)[1], trayKeys[len(trayKeys)-2].keys(r)[1], trayKeys[len(trayKeys)-1].keys(r)[1]
	return first + "…" + strings.TrimPrefix(last, "alt+") + ", " + strings.TrimPrefix(extra, "alt+")
}

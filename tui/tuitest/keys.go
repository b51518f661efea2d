// Package tuitest holds what the screen tests of the kiosk and of the
// operator terminal share.
package tuitest

import (
	"strconv"
	"strings"

	tea "charm.land/bubbletea/v2"
)

// Key is the key press a test names: enter, esc, tab, space, backspace,
// up, down, pgup, pgdown, f1…f12, ctrl+X, alt+X, or one character.
// An unknown name is a bug in the test: it panics.
func Key(name string) tea.KeyPressMsg {
	switch name {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "space":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "pgup":
		return tea.KeyPressMsg{Code: tea.KeyPgUp}
	case "pgdown":
		return tea.KeyPressMsg{Code: tea.KeyPgDown}
	}
	if c, ok := strings.CutPrefix(name, "ctrl+"); ok && len(c) == 1 {
		return tea.KeyPressMsg{Code: rune(c[0]), Mod: tea.ModCtrl}
	}
	if c, ok := strings.CutPrefix(name, "alt+"); ok && len(c) == 1 {
		return tea.KeyPressMsg{Code: rune(c[0]), Mod: tea.ModAlt}
	}
	if n, ok := strings.CutPrefix(name, "f"); ok {
		if i, err := strconv.Atoi(n); err == nil && i >= 1 && i <= 12 {
			return tea.KeyPressMsg{Code: tea.KeyF1 + rune(i-1)}
		}
	}
	if r := []rune(name); len(r) == 1 {
		return tea.KeyPressMsg{Code: r[0], Text: name}
	}
	panic("tuitest: unknown key " + name)
}

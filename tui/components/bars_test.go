package components

import (
	"strings"
	"testing"

	"charm.land/bubbles/v2/key"
	"github.com/charmbracelet/x/ansi"

	"github.com/smartcard-service-centre/kiosk/tui/theme"
)

func TestHelpBarWrapsRatherThanDrops(t *testing.T) {
	b := func(k, desc string) key.Binding { return key.NewBinding(key.WithKeys(k), key.WithHelp(k, desc)) }
	th := theme.New(true)
	bindings := []key.Binding{b("tab/↓", "next field"), b("enter", "next"), b("ctrl+t", "show/hide answer"), b("esc", "back to the menu")}
	for _, tc := range []struct {
		width     int
		lines     int
		ellipsis  bool
		mustShow  []string
		mustNotBe []string
	}{
		{width: 100, lines: 1, mustShow: []string{"tab/↓ next field", "esc back to the menu"}},
		{width: 60, lines: 2, mustShow: []string{"tab/↓ next field", "ctrl+t show/hide answer", "esc back to the menu"}},
		{width: 20, lines: 2, ellipsis: true, mustShow: []string{"tab/↓ next field"}, mustNotBe: []string{"esc back"}},
	} {
		out := ansi.Strip(HelpBar(th, bindings, tc.width))
		got := strings.Split(out, "\n")
		if len(got) != tc.lines {
			t.Errorf("width %d: %d lines, want %d:\n%s", tc.width, len(got), tc.lines, out)
		}
		for _, l := range got {
			if w := ansi.StringWidth(l); w > tc.width {
				t.Errorf("width %d: a line is %d wide: %q", tc.width, w, l)
			}
		}
		flat := strings.Join(strings.Fields(out), " ")
		for _, s := range tc.mustShow {
			if !strings.Contains(flat, s) {
				t.Errorf("width %d: %q missing:\n%s", tc.width, s, out)
			}
		}
		for _, s := range tc.mustNotBe {
			if strings.Contains(flat, s) {
				t.Errorf("width %d: %q shown though it cannot fit:\n%s", tc.width, s, out)
			}
		}
		if strings.Contains(out, "…") != tc.ellipsis {
			t.Errorf("width %d: ellipsis shown = %v, want %v:\n%s", tc.width, !tc.ellipsis, tc.ellipsis, out)
		}
	}
}

package common

import (
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/smartcard-service-centre/kiosk/tui/theme"
)

// Crop fits a screen body into height lines, keeping the focused lines
// in view and saying when there is more above or below.
func Crop(th *theme.Theme, f Frame, width, height int) string {
	lines := strings.Split(f.Body, "\n")
	if len(lines) <= height {
		return f.Body
	}
	// Unscrolled, the last line says there is more; scrolled, the first
	// line says so too.
	room, start := max(1, height-1), 0
	if f.Focus >= 0 {
		if end := max(f.FocusEnd, f.Focus+1); end > room {
			room = max(1, height-2)
			start = max(1, min(end-room, f.Focus, len(lines)-room))
		}
	}
	var out []string
	if start > 0 {
		out = append(out, th.Muted.Render(ansi.Truncate("↑ more above", width, "")))
	}
	out = append(out, lines[start:min(len(lines), start+room)]...)
	if start+room < len(lines) {
		out = append(out, th.Muted.Render(ansi.Truncate("↓ more below", width, "")))
	}
	return strings.Join(out, "\n")
}

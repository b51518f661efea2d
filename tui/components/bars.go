package components

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/lipgloss/v2"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/tui/theme"
)

// CardState is what the status bar says about the reader and the card.
type CardState struct {
	ReaderDown bool   // the reader (or the card service) cannot be used
	Present    bool   // a card is in the reader
	Holder     string // the holder's name once the card is identified
	Serial     domain.CardSerial
	Locked     bool
	Busy       string // a spinner frame while the kiosk works, else ""
}

// StatusBar draws the card status line, width wide.
func StatusBar(th *theme.Theme, s CardState, width int) string {
	var parts []string
	switch {
	case s.ReaderDown:
		parts = append(parts, th.Error.Render("⚠ Card reader not available"))
	case !s.Present:
		parts = append(parts, "○ No Smartcard in the reader")
	default:
		card := "● Smartcard in the reader"
		if s.Serial != "" {
			card = "● Smartcard " + string(s.Serial)
		}
		parts = append(parts, card)
		if s.Holder != "" {
			parts = append(parts, domain.CleanText(s.Holder))
		}
		if s.Locked {
			parts = append(parts, "locked")
		}
	}
	line := strings.Join(parts, " · ")
	if s.Busy != "" {
		line = s.Busy + " Please wait… do not remove your Smartcard   " + line
	}
	return th.StatusBar.Width(width).MaxHeight(1).Render(line)
}

// HelpBar draws the keys on offer on one line, width wide; the help
// bubble drops what does not fit with an ellipsis.
func HelpBar(th *theme.Theme, bindings []key.Binding, width int) string {
	h := help.New()
	h.Styles = th.Help
	h.SetWidth(width)
	return lipgloss.NewStyle().Width(width).MaxHeight(1).Render(h.ShortHelpView(bindings))
}

// Countdown draws the idle warning.
func Countdown(th *theme.Theme, left int, width int) string {
	s := "seconds"
	if left == 1 {
		s = "second"
	}
	msg := fmt.Sprintf("Are you still there? This screen will close and clear in %d %s. Press any key to carry on.", left, s)
	return th.Countdown.Width(width).Render(msg)
}

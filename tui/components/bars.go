package components

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/tui/theme"
)

// CardState is what the status bar says about the reader and the card.
type CardState struct {
	ReaderDown bool   // the reader (or the card service) cannot be used
	StoreDown  bool   // the service's records cannot be reached
	Present    bool   // a card is in the reader
	Holder     string // the holder's name once the card is identified
	Serial     domain.CardSerial
	Locked     bool
	Busy       string // a spinner frame while the kiosk works, else ""
}

// StoreDownText is the banner while the store cannot be reached.
const StoreDownText = "Service temporarily unavailable — retrying…"

// StoreDown draws the banner, for a status line of its own.
func StoreDown(th *theme.Theme) string { return th.Error.Render("⚠ " + StoreDownText) }

// StatusBar draws the card status line, width wide. The store being away
// comes first: on one line, it is what must not be cut off.
func StatusBar(th *theme.Theme, s CardState, width int) string {
	var parts []string
	if s.StoreDown {
		parts = append(parts, StoreDown(th))
	}
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

// HelpBar draws the keys on offer, width wide, wrapping onto a second
// line rather than dropping one (a lost "esc back" strands people); only
// what does not fit on two lines is left out, marked with an ellipsis.
func HelpBar(th *theme.Theme, bindings []key.Binding, width int) string {
	const maxLines = 2
	sep := th.Help.ShortSeparator.Render(" • ")
	var lines []string
	line, lineW := "", 0
	for _, b := range bindings {
		if !b.Enabled() || b.Help().Key == "" {
			continue
		}
		item := th.Help.ShortKey.Render(b.Help().Key) + " " + th.Help.ShortDesc.Render(b.Help().Desc)
		itemW := lipgloss.Width(item)
		switch {
		case line == "":
			line, lineW = item, itemW
		case lineW+lipgloss.Width(sep)+itemW <= width:
			line += sep + item
			lineW += lipgloss.Width(sep) + itemW
		case len(lines)+1 < maxLines:
			lines = append(lines, line)
			line, lineW = item, itemW
		default:
			ellipsis := th.Help.Ellipsis.Render(" …")
			if lineW+lipgloss.Width(ellipsis) <= width {
				line += ellipsis
			}
			return fitLines(append(lines, line), width)
		}
	}
	return fitLines(append(lines, line), width)
}

func fitLines(lines []string, width int) string {
	for i, l := range lines {
		lines[i] = lipgloss.NewStyle().Width(width).MaxWidth(width).Render(l)
	}
	return strings.Join(lines, "\n")
}

// Countdown draws the idle warning in the status bar's place: one line.
func Countdown(th *theme.Theme, left int, width int) string {
	s := "seconds"
	if left == 1 {
		s = "second"
	}
	msg := fmt.Sprintf("Are you still there? This screen will close and clear in %d %s.", left, s)
	return th.Countdown.Width(width).MaxHeight(1).Render(ansi.Truncate(msg, width-2, "…"))
}

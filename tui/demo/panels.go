package demo

import (
	"fmt"
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/tui/theme"
)

// LabelWidth is the longest tray label drawn in full, on one line beside
// its key, at the tray's narrowest: panelMinWidth less the frame, the
// mark's column and the key's.
const LabelWidth = panelMinWidth - 8

// trayEntry is one demo card in the tray panel.
type trayEntry struct {
	Key    string // the key that moves it to the holder's reader, e.g. "F2"
	Label  string
	Holder string            // the holder's name; "" if not on record
	In     domain.ReaderRole // "" in the tray
}

// readerKeys says which keys move cards to a reader.
type readerKeys struct {
	what string // e.g. "Holder's reader"
	keys string // e.g. "f1–f12"
	alt  string // the Alt+keys, e.g. "alt+1…0, -"
}

// lines is k in text columns: on one line if it fits, else the Alt+keys
// on a line of their own.
func (k readerKeys) lines(text int) []string {
	if one := fmt.Sprintf("%s: %s or %s", k.what, k.keys, k.alt); ansi.StringWidth(one) <= text {
		return []string{one}
	}
	return []string{k.what + ": " + k.keys, "  (or " + k.alt + ")"}
}

// trayPanel draws the demo card tray, width wide (frame included): keys
// says which keys reach which reader; with both readers (the operator
// terminal) it says first what is in each. Each card takes one line: the
// mark of a card in a reader stands in the panel's left padding, so that
// a label has all the room beside its key.
func trayPanel(th *theme.Theme, keys []readerKeys, entries []trayEntry, note string, width int, both bool) string {
	st := th.Panel.PaddingLeft(0)
	text := max(10, width-st.GetHorizontalFrameSize()-1) // after the mark's column
	pad := func(lines ...string) []string {
		for i, l := range lines {
			lines[i] = " " + l
		}
		return lines
	}
	wrap := func(s lipgloss.Style, t string) []string { return pad(strings.Split(s.Width(text).Render(t), "\n")...) }
	lines := pad(th.PanelHead.Render("Demo card tray"))
	if both {
		in := map[domain.ReaderRole]string{}
		for _, e := range entries {
			if e.In != "" {
				in[e.In] = e.Holder
				if e.Holder == "" {
					in[e.In] = e.Label
				}
			}
		}
		for _, r := range []struct {
			role domain.ReaderRole
			name string
		}{{domain.ReaderOperator, "Operator's reader: "}, {domain.ReaderHolder, "Holder's reader:   "}} {
			what := th.Muted.Render("empty")
			if l := domain.CleanText(in[r.role]); l != "" {
				what = th.Strong.Render(ansi.Truncate(l, max(1, text-len(r.name)), "…"))
			}
			lines = append(lines, pad(r.name+what)...)
		}
		lines = append(lines, "")
	}
	for _, k := range keys {
		for _, l := range k.lines(text) {
			lines = append(lines, wrap(th.Muted, l)...)
		}
	}
	for _, e := range entries {
		mark := " "
		// A label longer than the room (not a demo persona's) is cut
		// rather than wrapped, so that each key keeps its line.
		line := ansi.Truncate(fmt.Sprintf("%-4s%s", e.Key, domain.CleanText(e.Label)), text, "…")
		if e.In != "" {
			mark, line = "▶", th.Strong.Render(line)
		}
		lines = append(lines, mark+line)
	}
	if note != "" {
		lines = append(lines, wrap(th.Error, domain.CleanText(note))...)
	}
	return st.Width(width).Render(strings.Join(lines, "\n"))
}

// inboxHead is the inbox panel's heading, inner wide: what it is, and
// whose mail it shows.
func inboxHead(th *theme.Theme, holder string, n, inner int) []string {
	who := "All mail (no card in)"
	if holder != "" {
		who = "Mail to " + domain.CleanText(holder)
	}
	count := fmt.Sprintf("%d emails", n)
	switch n {
	case 0:
		count = "none yet"
	case 1:
		count = "1 email"
	}
	lines := []string{th.PanelHead.Render(ansi.Truncate("Demo: the holder's email inbox", inner, "…"))}
	return append(lines, strings.Split(th.Muted.Width(inner).Render(who+" · "+count), "\n")...)
}

// mailLines are the mails, newest first, inner wide: each its subject,
// its code (the line the holder came for), who it went to and when, and
// then the rest of it. It stands for the card holder's own email inbox,
// so it is the one place a code appears; addresses stay masked even here.
func mailLines(th *theme.Theme, mails []domain.Mail, inner int) []string {
	if len(mails) == 0 {
		return []string{th.Muted.Render("No emails yet.")}
	}
	wrap := func(s lipgloss.Style, t string) []string { return strings.Split(s.Width(inner).Render(t), "\n") }
	var lines []string
	for i, ml := range mails {
		if i > 0 {
			lines = append(lines, th.Muted.Render(strings.Repeat("─", inner)))
		}
		code, rest := splitCode(ml.Body)
		lines = append(lines, wrap(th.Strong, domain.CleanText(ml.Subject))...)
		if code != "" {
			lines = append(lines, th.Title.Render("Code: "+code))
		}
		to := domain.MaskEmail(domain.CleanText(ml.To))
		lines = append(lines, th.Muted.Render(ansi.Truncate(fmt.Sprintf("To %s · %s", to, ml.CreatedAt.Local().Format("15:04")), inner, "…")), "")
		blank := true // no two blank lines in a row
		for _, para := range strings.Split(strings.TrimRight(rest, "\n"), "\n") {
			para = domain.CleanText(para)
			if strings.TrimSpace(para) == "" {
				if !blank {
					lines = append(lines, "")
				}
				blank = true
				continue
			}
			lines = append(lines, wrap(lipgloss.NewStyle(), para)...)
			blank = false
		}
		if blank {
			lines = lines[:len(lines)-1]
		}
	}
	return lines
}

// inboxPanel draws the inbox, width wide (frame included): its heading,
// then rows lines of mail from offset; when they do not all fit, the
// last line says which way there is more and which keys scroll.
func inboxPanel(th *theme.Theme, head, lines []string, offset, rows int, keys string, width int) string {
	shown := mailRows(len(lines), rows)
	offset = clampScroll(offset, len(lines), shown)
	out := append([]string(nil), head...)
	out = append(out, lines[offset:min(len(lines), offset+shown)]...)
	if len(lines) > rows {
		more := "↑↓ more"
		switch {
		case offset == 0:
			more = "↓ more below"
		case offset+shown >= len(lines):
			more = "↑ more above"
		}
		out = append(out, th.Muted.Render(more+": "+keys))
	}
	return th.Panel.Width(width).Render(strings.Join(out, "\n"))
}

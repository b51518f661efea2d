package demo

import (
	"fmt"
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/tui/theme"
)

// trayEntry is one demo card in the tray panel.
type trayEntry struct {
	Key   string // the key that moves it to the holder's reader, e.g. "F2"
	Label string
	In    domain.ReaderRole // "" in the tray
}

// trayPanel draws the demo card tray, width wide (frame included): keys
// says which keys reach which reader; with both readers (the operator
// terminal) it says first what is in each.
func trayPanel(th *theme.Theme, keys []string, entries []trayEntry, note string, width int, both bool) string {
	inner := max(10, width-th.Panel.GetHorizontalFrameSize())
	wrap := func(st lipgloss.Style, s string) []string { return strings.Split(st.Width(inner).Render(s), "\n") }
	lines := []string{th.PanelHead.Render("Demo card tray")}
	if both {
		in := map[domain.ReaderRole]string{}
		for _, e := range entries {
			if e.In != "" {
				// The name, without the demo case after it.
				name, _, _ := strings.Cut(domain.CleanText(e.Label), " — ")
				in[e.In] = name
			}
		}
		for _, r := range []struct {
			role domain.ReaderRole
			name string
		}{{domain.ReaderOperator, "Operator's reader: "}, {domain.ReaderHolder, "Holder's reader:   "}} {
			what := th.Muted.Render("empty")
			if l := in[r.role]; l != "" {
				what = th.Strong.Render(ansi.Truncate(l, max(1, inner-len(r.name)), "…"))
			}
			lines = append(lines, r.name+what)
		}
		lines = append(lines, "")
	}
	lines = append(lines, wrap(th.Muted, "Press a key to insert or remove a card:")...)
	for _, k := range keys {
		lines = append(lines, wrap(th.Muted, k)...)
	}
	for _, e := range entries {
		mark := "  "
		if e.In != "" {
			mark = "▶ "
		}
		line := fmt.Sprintf("%s%-3s %s", mark, e.Key, domain.CleanText(e.Label))
		if e.In != "" {
			line = th.Strong.Render(ansi.Truncate(line, inner, "…"))
		} else {
			line = ansi.Truncate(line, inner, "…")
		}
		lines = append(lines, line)
	}
	if note != "" {
		lines = append(lines, th.Error.Width(inner).Render(domain.CleanText(note)))
	}
	return th.Panel.Width(width).Render(strings.Join(lines, "\n"))
}

// mailboxPanel draws the demo mailbox: the newest email in full, older
// ones by subject, height lines tall at most (frame included). It stands
// for the card holder's own email inbox, so it is the one place a code
// appears; addresses stay masked even here.
func mailboxPanel(th *theme.Theme, mails []domain.Mail, width, height int) string {
	inner := max(10, width-th.Panel.GetHorizontalFrameSize())
	lines := []string{th.PanelHead.Render("Demo: the card holder's email inbox")}
	lines = append(lines, strings.Split(th.Muted.Width(inner).Render("Not part of the kiosk: this is what arrives in the person's mailbox."), "\n")...)
	lines = append(lines, "")
	if len(mails) == 0 {
		lines = append(lines, th.Muted.Render("No emails yet."))
	}
	for i, m := range mails {
		when := m.CreatedAt.Local().Format("15:04")
		to := domain.MaskEmail(domain.CleanText(m.To))
		subject := domain.CleanText(m.Subject)
		if i > 0 {
			lines = append(lines, ansi.Truncate(fmt.Sprintf("%s  %s", when, subject), inner, "…"))
			continue
		}
		lines = append(lines,
			th.Strong.Render(ansi.Truncate(subject, inner, "…")),
			th.Muted.Render(ansi.Truncate(fmt.Sprintf("To %s · %s", to, when), inner, "…")),
			"")
		for _, para := range strings.Split(strings.TrimRight(m.Body, "\n"), "\n") {
			lines = append(lines, strings.Split(lipgloss.NewStyle().Width(inner).Render(domain.CleanText(para)), "\n")...)
		}
		lines = append(lines, "", th.Muted.Render("Earlier:"))
	}
	if len(mails) == 1 {
		lines = lines[:len(lines)-2]
	}
	maxLines := max(1, height-th.Panel.GetVerticalFrameSize())
	if len(lines) > maxLines {
		lines = lines[:maxLines]
	}
	return th.Panel.Width(width).Render(strings.Join(lines, "\n"))
}

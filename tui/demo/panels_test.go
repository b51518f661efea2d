package demo

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/tui/theme"
)

// A label of LabelWidth is drawn in full on its key's line at the tray's
// narrowest; a longer one (not a demo persona's) is cut there, not
// wrapped, so that every key keeps its line.
func TestTrayLabelWidth(t *testing.T) {
	th := theme.New(true)
	full := "Ms Grace Hughes · unregistered"
	if ansi.StringWidth(full) != LabelWidth {
		t.Fatalf("the test's label is %d wide, LabelWidth %d", ansi.StringWidth(full), LabelWidth)
	}
	long := full + "!"
	keys := []readerKeys{{what: "Card in/out", keys: "f1–f12", alt: "alt+1…0, -"}}
	out := ansi.Strip(trayPanel(th, keys, []trayEntry{{Key: "F3", Label: full}, {Key: "F12", Label: long, In: domain.ReaderHolder}}, "", panelMinWidth, false))
	lines := strings.Split(out, "\n")
	for _, l := range lines {
		if w := ansi.StringWidth(l); w != panelMinWidth {
			t.Fatalf("a tray line is %d wide, want %d:\n%s", w, panelMinWidth, out)
		}
	}
	if !strings.Contains(out, "│ F3  "+full+" │") || !strings.Contains(out, "│▶F12 "+full[:len(full)-1]+"… │") {
		t.Fatalf("labels not drawn in full, or the long one not cut:\n%s", out)
	}
	if !strings.Contains(out, "Card in/out: f1–f12 or alt+1…0, -") || len(lines) != 6 {
		t.Fatalf("want the keys on one line and one line per card:\n%s", out)
	}
}

// The code is taken out of the body (the first line of exactly
// domain.CodeDigits digits) and shown first; a body without one is left
// as it is.
func TestSplitCode(t *testing.T) {
	for _, tc := range []struct{ body, code, rest string }{
		{"Hello\n\nEnter the code below.\n\n482913\n\nValid 15 minutes.\n", "482913", "Hello\n\nEnter the code below.\n\n\nValid 15 minutes.\n"},
		{"Hello\n\n  007311  \n", "007311", "Hello\n\n"},
		{"Unlocked on 2 March 2026 at 10:00.\n1234567\n12345\n", "", "Unlocked on 2 March 2026 at 10:00.\n1234567\n12345\n"},
		{"Code 482913 in a sentence", "", "Code 482913 in a sentence"},
	} {
		if code, rest := splitCode(tc.body); code != tc.code || rest != tc.rest {
			t.Errorf("splitCode(%q) = %q, %q; want %q, %q", tc.body, code, rest, tc.code, tc.rest)
		}
	}
}

// Each mail shows its subject, then its code, then who it went to and
// the rest; newest first as given; no blank line doubled.
func TestMailLines(t *testing.T) {
	th := theme.New(true)
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.Local)
	mails := []domain.Mail{
		{ID: 2, To: "test.person@nhs.net", Subject: "Smartcard Unlock Code", CreatedAt: at, Body: "Hello\n\nPlease enter the code below.\n\n222222\n\nThis code is valid for 15 minutes.\n"},
		{ID: 1, To: "test.person@nhs.net", Subject: "Your Smartcard has been unlocked", CreatedAt: at, Body: "Hello\n\nYour Smartcard was unlocked.\n"},
	}
	var trimmed []string
	for _, l := range mailLines(th, mails, 34) {
		trimmed = append(trimmed, strings.TrimRight(ansi.Strip(l), " "))
	}
	got := strings.Join(trimmed, "\n")
	want := strings.Join([]string{
		"Smartcard Unlock Code",
		"Code: 222222",
		"To t•••@nhs.net · 10:00",
		"",
		"Hello",
		"",
		"Please enter the code below.",
		"",
		"This code is valid for 15 minutes.",
		strings.Repeat("─", 34),
		"Your Smartcard has been unlocked",
		"To t•••@nhs.net · 10:00",
		"",
		"Hello",
		"",
		"Your Smartcard was unlocked.",
	}, "\n")
	if got != want {
		t.Fatalf("mail lines:\n%s\nwant:\n%s", got, want)
	}
}

// The inbox scrolls half a page at a time and no further than its last
// line; the last row then says which way there is more.
func TestInboxScroll(t *testing.T) {
	th := theme.New(true)
	var lines []string
	for i := range 20 {
		lines = append(lines, fmt.Sprintf("line %d", i+1))
	}
	var b inbox
	const rows = 9 // 8 lines and the "more" line
	for _, tc := range []struct {
		dir    int
		offset int
		first  string
		more   string
	}{
		{0, 0, "line 1", "↓ more below"},
		{1, 4, "line 5", "↑↓ more"},
		{1, 8, "line 9", "↑↓ more"},
		{1, 12, "line 13", "↑ more above"},
		{1, 12, "line 13", "↑ more above"}, // no further than the last line
		{-1, 8, "line 9", "↑↓ more"},
		{-1, 4, "line 5", "↑↓ more"},
		{-1, 0, "line 1", "↓ more below"},
		{-1, 0, "line 1", "↓ more below"},
	} {
		if tc.dir != 0 {
			b.scroll(tc.dir, len(lines), rows)
		}
		out := ansi.Strip(inboxPanel(th, nil, lines, b.offset, rows, "alt+↑/↓", 30))
		inner := strings.Split(out, "\n")
		inner = inner[1 : len(inner)-1]
		if b.offset != tc.offset || len(inner) != rows || !strings.Contains(inner[0], tc.first+" ") || !strings.Contains(inner[rows-1], tc.more+": alt+↑/↓") {
			t.Fatalf("after scrolling %+d: offset %d, want %d (%s first, %q last):\n%s", tc.dir, b.offset, tc.offset, tc.first, tc.more, out)
		}
	}
	// All of it fits: no more line, no scrolling.
	b = inbox{}
	b.scroll(1, 5, rows)
	if out := ansi.Strip(inboxPanel(th, nil, lines[:5], b.offset, rows, "alt+↑/↓", 30)); b.offset != 0 || strings.Contains(out, "more") {
		t.Fatalf("a short inbox scrolled to %d:\n%s", b.offset, out)
	}
}

// The inbox shows the mail of the holder whose card is in the holder's
// reader: to their addresses on record, or to an address on no card's
// record that arrived while their card was in (a code to an address being
// registered); all mail with no card in.
func TestInboxFilter(t *testing.T) {
	cards := []TrayCard{
		{Label: "Mr Test Person · locked", Holder: "Mr Test Person", Mail: []string{"test.person@nhs.net", "tp@nhs.uk"}},
		{Label: "Dr Amara Okafor · active", Holder: "Dr Amara Okafor", Mail: []string{"amara.okafor@nhs.net"}},
	}
	mail := func(id int64, to string) domain.Mail { return domain.Mail{ID: id, To: to} }
	b := newInbox()
	mails := []domain.Mail{mail(2, "AMARA.okafor@nhs.net"), mail(1, "test.person@nhs.net")}
	b.arrived(cards, mails)
	ids := func(ms []domain.Mail) (out []int64) {
		for _, m := range ms {
			out = append(out, m.ID)
		}
		return out
	}
	check := func(in int, wantHolder string, want ...int64) {
		t.Helper()
		for i := range cards {
			cards[i].In = ""
		}
		if in >= 0 {
			cards[in].In = domain.ReaderHolder
		}
		holder, got := b.shown(cards, mails)
		if holder != wantHolder || fmt.Sprint(ids(got)) != fmt.Sprint(want) {
			t.Fatalf("card %d in: %q %v, want %q %v", in, holder, ids(got), wantHolder, want)
		}
	}
	check(-1, "", 2, 1)
	check(0, "Mr Test Person", 1)
	check(1, "Dr Amara Okafor", 2)
	// Amara's card is in when mail to a new address arrives; mail to
	// Test Person's second address is his wherever it arrives.
	mails = append([]domain.Mail{mail(4, "amara@nhs.uk"), mail(3, "tp@nhs.uk")}, mails...)
	b.arrived(cards, mails)
	check(1, "Dr Amara Okafor", 4, 2)
	check(0, "Mr Test Person", 3, 1)
	check(-1, "", 4, 3, 2, 1)
	// A mail that arrived with no card in is no one's in particular.
	mails = append([]domain.Mail{mail(5, "someone@nhs.uk")}, mails...)
	b.arrived(cards, mails)
	check(1, "Dr Amara Okafor", 4, 2)
	check(-1, "", 5, 4, 3, 2, 1)
}

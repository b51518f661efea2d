package demo

import (
	"fmt"
	"strings"

	"github.com/smartcard-service-centre/kiosk/domain"
)

// inbox is what the inbox panel shows: the mail of the holder whose card
// is in the card holder's reader (all mail when no card is in), newest
// first, scrolled by the inbox keys.
type inbox struct {
	// seen are the mails read so far, by ID; owner is, by mail ID, the
	// tray card that was in the holder's reader when a mail to an address
	// on no card's record arrived: a registration code goes to the address
	// being registered, which is on record only once the code is typed.
	seen  map[int64]bool
	owner map[int64]int
	// view is the holder and the newest mail on view: a change (a new
	// mail, another card) scrolls back to the top, where its code is.
	view   string
	offset int // lines scrolled past
}

func newInbox() inbox { return inbox{seen: map[int64]bool{}, owner: map[int64]int{}} }

// arrived notes the mails not seen before, and whose they are if their
// address is on no card's record.
func (b *inbox) arrived(cards []TrayCard, mails []domain.Mail) {
	in := inHolderReader(cards)
	for _, ml := range mails {
		if b.seen[ml.ID] {
			continue
		}
		b.seen[ml.ID] = true
		if in >= 0 && !onRecord(cards, ml.To) {
			b.owner[ml.ID] = in
		}
	}
}

// follow scrolls back to the top when the inbox shows another holder's
// mail or a new mail.
func (b *inbox) follow(cards []TrayCard, mails []domain.Mail) {
	_, shown := b.shown(cards, mails)
	v := fmt.Sprint(inHolderReader(cards))
	if len(shown) > 0 {
		v += fmt.Sprintf("/%d", shown[0].ID)
	}
	if v != b.view {
		b.view, b.offset = v, 0
	}
}

// scroll moves the view of n lines in rows by half a page in direction
// dir (-1 up, +1 down), no further than the last line.
func (b *inbox) scroll(dir, n, rows int) {
	shown := mailRows(n, rows)
	b.offset = clampScroll(b.offset+dir*max(1, shown/2), n, shown)
}

// mailRows is how many of n mail lines rows show: one fewer when they
// do not all fit, for the line that says there is more.
func mailRows(n, rows int) int {
	if n > rows {
		return max(1, rows-1)
	}
	return rows
}

// clampScroll keeps offset within the n lines that can scroll into rows.
func clampScroll(offset, n, rows int) int {
	return max(0, min(offset, n-rows))
}

// shown returns whose mail the inbox shows ("" for everyone's) and the
// mails, newest first.
func (b *inbox) shown(cards []TrayCard, mails []domain.Mail) (holder string, out []domain.Mail) {
	in := inHolderReader(cards)
	if in < 0 {
		return "", mails
	}
	c := cards[in]
	holder = c.Holder
	if holder == "" {
		holder = c.Label
	}
	for _, ml := range mails {
		if hasAddress(c, ml.To) || b.ownedBy(ml, in) && !onRecord(cards, ml.To) {
			out = append(out, ml)
		}
	}
	return holder, out
}

// ownedBy reports whether ml arrived while card i was in the holder's
// reader.
func (b *inbox) ownedBy(ml domain.Mail, i int) bool {
	o, ok := b.owner[ml.ID]
	return ok && o == i
}

// inHolderReader is the tray card in the card holder's reader; -1 if
// none is.
func inHolderReader(cards []TrayCard) int {
	for i, c := range cards {
		if c.In == domain.ReaderHolder {
			return i
		}
	}
	return -1
}

// onRecord reports whether addr is on any tray card's record.
func onRecord(cards []TrayCard, addr string) bool {
	for _, c := range cards {
		if hasAddress(c, addr) {
			return true
		}
	}
	return false
}

// hasAddress reports whether addr is one of c's holder's; addresses
// compare without case, as mail systems treat them.
func hasAddress(c TrayCard, addr string) bool {
	addr = strings.TrimSpace(addr)
	for _, a := range c.Mail {
		if a != "" && strings.EqualFold(strings.TrimSpace(a), addr) {
			return true
		}
	}
	return false
}

// splitCode takes the emailed code (a line of domain.CodeDigits digits,
// as the service writes it) out of a mail's body: the inbox shows it
// first, then the rest.
func splitCode(body string) (code, rest string) {
	lines := strings.Split(body, "\n")
	for i, l := range lines {
		if t := strings.TrimSpace(l); len(t) == domain.CodeDigits && strings.Trim(t, "0123456789") == "" {
			return t, strings.Join(append(lines[:i:i], lines[i+1:]...), "\n")
		}
	}
	return "", body
}

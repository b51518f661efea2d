// Package mail delivers the emails that the domain's workflows put in the
// store's outbox. A Sender claims due mail, hands it to a Transport and
// records the outcome, retrying with backoff; the transports are SMTP
// (production), a directory of .eml files (kiosks without a relay) and an
// in-memory Mailbox (the demo's on-screen mailbox).
//
// It is an adapter like storage/: it depends on domain (for domain.Mail and
// the domain.Outbox port) and on the mail libraries, and nothing in domain
// or storage depends on it.
package mail

import (
	"context"
	"errors"
	"fmt"
	netmail "net/mail"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/smartcard-service-centre/kiosk/domain"
)

// DefaultFrom is the sender address used when none is configured.
const DefaultFrom = "Smartcard Service Centre <smartcard.servicecentre@nhs.net>"

// userAgent names the software in every message, instead of go-mail's
// default, which advertises the library and its version.
const userAgent = "Smartcard Service Centre kiosk"

// Transport hands one mail to its destination. ctx bounds the time it may
// take. Errors are retried by the Sender unless marked with Permanent.
type Transport interface {
	Deliver(ctx context.Context, m domain.Mail) error
}

// permanentError marks a failure that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as one that retrying cannot fix (e.g. the relay
// rejected the recipient), so the Sender gives up at once.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// IsPermanent reports whether err, or an error it wraps, was marked with
// Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// parseFrom checks a configured From address, applying the default.
func parseFrom(from string) (string, error) {
	if strings.TrimSpace(from) == "" {
		from = DefaultFrom
	}
	a, err := netmail.ParseAddress(from)
	if err != nil {
		return "", fmt.Errorf("from address %q: %w", from, err)
	}
	return a.String(), nil
}

// newMessage builds the RFC 5322 message for m. An unusable recipient is a
// permanent failure: no retry will make the address valid.
func newMessage(m domain.Mail, from string, date time.Time) (*gomail.Msg, error) {
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := msg.From(from); err != nil {
		return nil, fmt.Errorf("from address: %w", err)
	}
	to, err := netmail.ParseAddress(m.To)
	if err != nil {
		// The parser's message may quote the address: keep it out of logs.
		why := strings.ReplaceAll(err.Error(), m.To, domain.MaskEmail(m.To))
		return nil, Permanent(fmt.Errorf("recipient %s is not a valid address: %s", domain.MaskEmail(m.To), why))
	}
	msg.SetAddrHeaderFromMailAddress(gomail.HeaderTo, to)
	// A subject is one line; go-mail would encode a stray line break, but
	// a mail client would show it as garbage.
	msg.Subject(strings.Join(strings.Fields(m.Subject), " "))
	msg.SetDateWithValue(date)
	msg.SetMessageIDWithValue(messageID(m, from))
	msg.SetUserAgent(userAgent)
	// RFC 3834: out-of-office robots must not answer a code mail.
	msg.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	msg.SetBodyString(gomail.TypeTextPlain, m.Body)
	return msg, nil
}

// messageID is the same for every attempt at one outbox mail, so a
// receiving system can drop the duplicate that at-least-once delivery may
// produce (delivered, but the kiosk died before recording it). The
// creation time keeps ids from different databases apart.
func messageID(m domain.Mail, from string) string {
	host := "kiosk.invalid"
	if a, err := netmail.ParseAddress(from); err == nil {
		if at := strings.LastIndexByte(a.Address, '@'); at >= 0 {
			host = a.Address[at+1:]
		}
	}
	return fmt.Sprintf("outbox-%d.%x@%s", m.ID, m.CreatedAt.UnixMicro(), host)
}

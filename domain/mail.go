package domain

import (
	"context"
	"time"
)

// Mail is one email in the outbox. Workflows enqueue it in the same
// transaction as the code it carries, so a code is never stored without its
// email nor sent without being stored; a sender delivers it later.
type Mail struct {
	ID      int64
	To      string
	Subject string
	Body    string // plain text, or sealed when BodySealed
	// BodySealed: the body carries a code and is sealed with a key the
	// database does not hold (secret.Keys.SealMail); only a sender opens
	// it (MailOpener).
	BodySealed bool
	// CreatedAt is when the workflow enqueued it.
	CreatedAt time.Time
	// NotAfter, if set, is when the mail stops being worth sending (the
	// code it carries has expired); a sender never delivers it after that.
	NotAfter time.Time
	// Attempts counts failed deliveries; NextAttemptAt is when a sender may
	// try again (senders also use it as a lease while delivering).
	Attempts      int
	NextAttemptAt time.Time
	LastError     string
	SentAt        time.Time
}

// GaveUp reports whether senders stopped trying (see LastError for why).
func (m Mail) GaveUp() bool { return !m.Sent() && m.NextAttemptAt.IsZero() && m.ID != 0 }

// Sent reports whether the mail was delivered.
func (m Mail) Sent() bool { return !m.SentAt.IsZero() }

// Expired reports whether the mail may no longer be sent at now.
func (m Mail) Expired(now time.Time) bool { return !m.NotAfter.IsZero() && !now.Before(m.NotAfter) }

// Delivery is how far a mail has got, as the person waiting for it needs
// to know.
type Delivery int

const (
	// DeliveryQueued: waiting for its first attempt.
	DeliveryQueued Delivery = iota + 1
	// DeliveryDelayed: attempts have failed; it is still being tried.
	DeliveryDelayed
	// DeliverySent: the mail relay took it.
	DeliverySent
	// DeliveryFailed: given up (refused, too many failures, or its code
	// expired first): it will not arrive.
	DeliveryFailed
)

// Delivery says how far the mail has got at now. A mail whose code has
// expired unsent counts as failed even before a sender gives it up.
func (m Mail) Delivery(now time.Time) Delivery {
	switch {
	case m.Sent():
		return DeliverySent
	case m.GaveUp(), m.Expired(now):
		return DeliveryFailed
	case m.Attempts > 0:
		return DeliveryDelayed
	}
	return DeliveryQueued
}

// Outbox is the store's side of mail delivery (part of Queries). A mail
// with a NotAfter carries a code, which is kept in clear only while it may
// still be sent: its body is wiped once it is sent, given up, or expired.
type Outbox interface {
	// EnqueueMail stores m (ID, attempts and sent time are assigned by the
	// store; NextAttemptAt defaults to CreatedAt).
	EnqueueMail(ctx context.Context, m Mail) (Mail, error)
	// ClaimMail atomically takes the oldest unsent, unexpired mail that is
	// due at now and moves its NextAttemptAt to now+lease so that no other
	// sender takes it meanwhile. ErrNotFound when nothing is due.
	ClaimMail(ctx context.Context, now time.Time, lease time.Duration) (Mail, error)
	// MarkMailSent records delivery at.
	MarkMailSent(ctx context.Context, id int64, at time.Time) error
	// MarkMailFailed records a failed attempt and when to try next; a zero
	// next means give up: the mail is never claimed again.
	MarkMailFailed(ctx context.Context, id int64, reason string, next time.Time) error
	// ExpireMail gives up every unsent mail whose NotAfter has passed at
	// now, wiping the code it carries, and returns them (bodies empty), each
	// once however many senders ask, so that a sender can report them.
	ExpireMail(ctx context.Context, now time.Time) ([]Mail, error)
	// GetMail returns one mail (ErrNotFound if there is none with id).
	GetMail(ctx context.Context, id int64) (Mail, error)
	// ListMail returns up to limit mails, newest first (for operators and tests).
	ListMail(ctx context.Context, limit int) ([]Mail, error)
}

// MailOpener opens the sealed body of a mail that carries a code, right
// before delivery, so that a stolen database does not reveal codes.
type MailOpener interface {
	OpenMail(m Mail) (Mail, error)
}

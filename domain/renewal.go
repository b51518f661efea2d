package domain

import (
	"fmt"
	"time"
)

// RenewalPolicy governs certificate renewal (seed 003).
type RenewalPolicy struct {
	Validity time.Duration // certificates issued now expire after this
	Window   time.Duration // self-renewal opens this long before expiry
	// OperatorEvery: every Nth renewal needs an operator (RA assistance).
	OperatorEvery int
}

// DefaultRenewalPolicy: 2-year certificates, a 90-day window, every third
// renewal with the RA.
var DefaultRenewalPolicy = RenewalPolicy{
	Validity:      2 * 365 * 24 * time.Hour,
	Window:        90 * 24 * time.Hour,
	OperatorEvery: 3,
}

// Expiry is when certificates issued at now expire: two calendar years on.
func (p RenewalPolicy) Expiry(now time.Time) time.Time {
	if p.Validity == DefaultRenewalPolicy.Validity {
		return now.AddDate(2, 0, 0)
	}
	return now.Add(p.Validity)
}

// WindowOpens is the first moment the card holder may renew the card.
func (p RenewalPolicy) WindowOpens(c Smartcard) time.Time { return c.CertExpiry.Add(-p.Window) }

// DueSoon reports whether the card is inside its renewal window (and so the
// holder should be prompted), expired or not.
func (p RenewalPolicy) DueSoon(c Smartcard, now time.Time) bool {
	return !now.Before(p.WindowOpens(c))
}

// TooEarlyError is a renewal asked for before its window opens; it
// matches ErrRenewalTooEarly and says when the window opens.
type TooEarlyError struct{ Opens time.Time }

func (e *TooEarlyError) Error() string {
	return fmt.Sprintf("%v: renewal opens on %s", ErrRenewalTooEarly, e.Opens.Format("2 January 2006"))
}
func (e *TooEarlyError) Unwrap() error { return ErrRenewalTooEarly }

// CheckSelfRenewal says why the card holder may not renew the card alone at
// now, or nil.
func (p RenewalPolicy) CheckSelfRenewal(c Smartcard, now time.Time) error {
	switch {
	case !c.Active():
		return ErrCardCancelled
	case c.NeedsRepair:
		return ErrCardNeedsRepair
	case c.Expired(now):
		return ErrCertificateExpired
	case now.Before(p.WindowOpens(c)):
		return &TooEarlyError{Opens: p.WindowOpens(c)}
	case p.AtCapacity(c):
		return ErrNeedsOperator
	}
	return nil
}

// AtCapacity reports whether the card's next renewal is one the holder
// may not do alone (every third).
func (p RenewalPolicy) AtCapacity(c Smartcard) bool {
	return p.OperatorEvery > 0 && c.RenewalsSinceOperator+1 >= p.OperatorEvery
}

// CheckAssistedRenewal says why an operator may not renew the card at now.
// Expired cards need Repair instead.
func (p RenewalPolicy) CheckAssistedRenewal(c Smartcard, now time.Time) error {
	switch {
	case !c.Active():
		return ErrCardCancelled
	case c.NeedsRepair:
		return ErrCardNeedsRepair
	case c.Expired(now):
		return ErrCertificateExpired
	case now.Before(p.WindowOpens(c)):
		return &TooEarlyError{Opens: p.WindowOpens(c)}
	}
	return nil
}

// CheckRepair says why an operator may not repair the card at now, or
// nil: Repair is for expired certificates, a card at capacity, or a card
// a write left part-way (seed 001).
func (p RenewalPolicy) CheckRepair(c Smartcard, now time.Time) error {
	switch {
	case !c.Active():
		return ErrCardCancelled
	case c.NeedsRepair, c.Expired(now), p.AtCapacity(c):
		return nil
	}
	return ErrRepairNotNeeded
}

package domain

import (
	"fmt"
	"strings"
	"time"
)

// PasscodeTries is how many wrong passcodes a card issued by the service
// allows before it blocks (its PIN retry counter when full).
const PasscodeTries = 3

// PUKTries is how many wrong PUKs a card issued by the service allows
// before its PUK blocks; the card can then no longer be unlocked.
const PUKTries = 3

// Smartcard is the service's record of an issued card.
type Smartcard struct {
	Serial     CardSerial
	UserID     UserID
	Type       string // e.g. "PIV", "Gemplus"
	IssuedAt   time.Time
	CertExpiry time.Time
	// CancelledAt is zero while the card is active.
	CancelledAt  time.Time
	CancelReason string
	// RenewalsSinceOperator counts self-renewals since an operator last
	// serviced the card; every third renewal needs an operator.
	RenewalsSinceOperator int
	// CardAuthCert is the DER certificate the service issued for the card's
	// Card Authentication key (slot 9E); the genuine-card check verifies
	// a challenge against it, never the serial alone.
	CardAuthCert []byte
	// PIVAuthCert is the DER certificate issued for the PIV Authentication
	// key (slot 9A): an operator logs in by a challenge signed with it,
	// which needs the passcode as well as the card.
	PIVAuthCert []byte
	// NeedsRepair: a write stopped part-way, so the card may hold keys or
	// secrets the record does not match; only an operator's Repair
	// clears it.
	NeedsRepair bool
}

// Active reports whether the card has not been cancelled.
func (c Smartcard) Active() bool { return c.CancelledAt.IsZero() }

// Expired reports whether the card's certificates have expired at now.
func (c Smartcard) Expired(now time.Time) bool { return !now.Before(c.CertExpiry) }

// CardSecrets are a card's PUK and management key, sealed with the key
// vault; the store only ever sees ciphertext.
type CardSecrets struct {
	Serial         CardSerial
	SealedPUK      []byte
	MgmtKeyAlg     string // "AES256", "AES192", "AES128", "3DES"
	SealedMgmtKey  []byte
	KEKFingerprint string // which key-encryption key sealed them
	UpdatedAt      time.Time
}

// CancelledError is a cancelled card; it matches ErrCardCancelled and
// carries the recorded reason (e.g. "Lost"), as stored: clean it before
// drawing it.
type CancelledError struct{ Reason string }

func (e *CancelledError) Error() string {
	if e.Reason == "" {
		return ErrCardCancelled.Error()
	}
	return ErrCardCancelled.Error() + " (" + e.Reason + ")"
}
func (e *CancelledError) Unwrap() error { return ErrCardCancelled }

// CancelReason is why a card was cancelled (seed 000's reasons).
type CancelReason string

const (
	CancelLost    CancelReason = "Lost"
	CancelStolen  CancelReason = "Stolen"
	CancelDamaged CancelReason = "Damaged"
	CancelOther   CancelReason = "Other" // with the operator's words
)

// CancelReasons lists the reasons in the order an operator is offered them.
var CancelReasons = []CancelReason{CancelLost, CancelStolen, CancelDamaged, CancelOther}

// MaxCancelText bounds the words an operator gives with CancelOther.
const MaxCancelText = 200

// Record is the reason as the card's record keeps it: "Lost", or
// "Other: " and the operator's words (cleaned, one line, required for
// CancelOther only). An unknown reason or missing words give
// ErrCancelReason.
func (r CancelReason) Record(text string) (string, error) {
	text = strings.Join(strings.Fields(CleanText(text)), " ")
	switch r {
	case CancelLost, CancelStolen, CancelDamaged:
		if text != "" {
			return string(r) + ": " + truncate(text, MaxCancelText), nil
		}
		return string(r), nil
	case CancelOther:
		if text == "" {
			return "", fmt.Errorf("%w: say why the card is cancelled", ErrCancelReason)
		}
		return string(r) + ": " + truncate(text, MaxCancelText), nil
	}
	return "", fmt.Errorf("%w: %q", ErrCancelReason, r)
}

func truncate(s string, n int) string {
	if rs := []rune(s); len(rs) > n {
		return string(rs[:n])
	}
	return s
}

package domain

import "time"

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

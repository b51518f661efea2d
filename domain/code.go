package domain

import (
	"crypto/rand"
	"fmt"
	"io"
	"math/big"
	"time"
)

// CodePurpose says what a one-time code unlocks.
type CodePurpose string

const (
	PurposeUnlock       CodePurpose = "unlock"
	PurposeRegistration CodePurpose = "registration"
)

// CodeDigits is the length of emailed codes (seed 004 shows 6 digits).
const CodeDigits = 6

// OneTimeCode is an emailed code; only a keyed hash of it is stored.
type OneTimeCode struct {
	ID         int64
	UserID     UserID
	Purpose    CodePurpose
	Hash       []byte
	CardSerial CardSerial // the card the code was issued for, if any
	CreatedAt  time.Time
	ExpiresAt  time.Time
	Tries      int // wrong entries so far
	MaxTries   int
	UsedAt     time.Time
}

// Used reports whether the code has been consumed.
func (c OneTimeCode) Used() bool { return !c.UsedAt.IsZero() }

// Usable says why a code cannot be accepted at now, or nil.
func (c OneTimeCode) Usable(now time.Time) error {
	switch {
	case c.Used():
		return ErrCodeUsed
	case c.Tries >= c.MaxTries:
		return ErrCodeTriesExhausted
	case !now.Before(c.ExpiresAt):
		return ErrCodeExpired
	}
	return nil
}

// NewCode draws a uniformly random code of CodeDigits digits from r
// (crypto/rand when r is nil).
func NewCode(r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	max := big.NewInt(1_000_000)
	n, err := rand.Int(r, max)
	if err != nil {
		return "", fmt.Errorf("draw code: %w", err)
	}
	return fmt.Sprintf("%0*d", CodeDigits, n.Int64()), nil
}

// CodePolicy bounds the life of emailed codes and how many are sent.
type CodePolicy struct {
	Validity time.Duration
	MaxTries int
	// MaxSends codes of one purpose may be sent to a user within any
	// Window. They are counted from the store, so a new visit (the card
	// pulled and inserted again, another kiosk) does not reset the count.
	MaxSends int
	Window   time.Duration
}

// DefaultCodePolicy: valid 15 minutes (seed 004), 3 wrong entries, at
// most 3 codes per purpose per user in 24 hours.
var DefaultCodePolicy = CodePolicy{Validity: 15 * time.Minute, MaxTries: 3, MaxSends: 3, Window: 24 * time.Hour}

// NextSend says when another code may be sent, given the creation times
// (oldest first) of the codes sent within the window before now: the zero
// time if one may be sent now, else the moment enough of them have left
// the window.
func (p CodePolicy) NextSend(sent []time.Time) time.Time {
	if len(sent) < p.MaxSends {
		return time.Time{}
	}
	// Once this one leaves the window, fewer than MaxSends remain.
	return sent[len(sent)-p.MaxSends].Add(p.Window)
}

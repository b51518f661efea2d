package cardio

import (
	"context"
	"errors"
)

// Sentinel errors shared by every Readers implementation. Implementations
// wrap them (with %w) together with the underlying cause, so callers test
// with errors.Is and still log the detail.
var (
	// ErrNoService: the PC/SC service cannot be reached (not installed,
	// not running, or stopped while in use).
	ErrNoService = errors.New("no PC/SC service: is pcscd running?")
	// ErrNoReader: no reader, or not the reader that was asked for.
	ErrNoReader = errors.New("card reader not found")
	// ErrNoCard: the reader holds no card.
	ErrNoCard = errors.New("no card in the reader")
	// ErrCardRemoved: the card was taken out during the operation.
	ErrCardRemoved = errors.New("card removed during the operation")
	// ErrCardReset: another application reset the card; its security
	// state (verified PIN, authenticated management key) is gone.
	ErrCardReset = errors.New("card was reset by another application")
	// ErrReaderUnavailable: the reader exists but cannot be used right now
	// (unplugged mid-operation, driver failure).
	ErrReaderUnavailable = errors.New("card reader unavailable")
	// ErrClosed: the Readers or Conn was closed by its owner.
	ErrClosed = errors.New("card reader connection closed")
)

// transportErrs are failures on the way to the card, not answers from it.
var transportErrs = []error{
	ErrNoService, ErrNoReader, ErrNoCard, ErrCardRemoved, ErrCardReset,
	ErrReaderUnavailable, ErrClosed, context.Canceled, context.DeadlineExceeded,
}

// IsTransport reports whether err is a failure on the way to the card (the
// service, the reader, a pulled or reset card, a closed connection, the
// caller giving up) rather than the card's answer.
func IsTransport(err error) bool {
	for _, s := range transportErrs {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

package pcsc

import (
	"context"
	"errors"
	"fmt"

	"github.com/ebfe/scard"

	"github.com/smartcard-service-centre/kiosk/cardio"
)

// mapErr is the one place where PC/SC return codes are interpreted: it wraps
// err with the cardio sentinel it means and keeps the scard code too, so
// callers use errors.Is with either and logs show the PC/SC text.
func mapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var code scard.Error
	if !errors.As(err, &code) {
		return fmt.Errorf("pcsc: %s: %w", op, err)
	}
	if s := sentinel(code); s != nil {
		return fmt.Errorf("pcsc: %s: %w (%w)", op, s, code)
	}
	return fmt.Errorf("pcsc: %s: %w", op, code)
}

func sentinel(code scard.Error) error {
	switch code {
	case scard.ErrNoService, scard.ErrServiceStopped, scard.ErrCommError,
		scard.ErrCommDataLost:
		// pcscd is gone (socket closed or refused) or broke mid-call.
		return cardio.ErrNoService
	case scard.ErrNoReadersAvailable, scard.ErrUnknownReader:
		return cardio.ErrNoReader
	case scard.ErrNoSmartcard:
		return cardio.ErrNoCard
	case scard.ErrRemovedCard:
		return cardio.ErrCardRemoved
	case scard.ErrResetCard:
		return cardio.ErrCardReset
	case scard.ErrReaderUnavailable:
		return cardio.ErrReaderUnavailable
	case scard.ErrCancelled:
		return context.Canceled
	case scard.ErrTimeout:
		return context.DeadlineExceeded
	}
	return nil
}

// serviceLost reports whether err means the PC/SC context is unusable and
// a new one must be established (daemon stopped or restarted).
func serviceLost(err error) bool {
	var code scard.Error
	if !errors.As(err, &code) {
		return false
	}
	// After a pcscd restart old handles are unknown to the new daemon.
	return sentinel(code) == cardio.ErrNoService || code == scard.ErrInvalidHandle
}

package apdu

import (
	"errors"
	"fmt"
)

// Sentinel errors for status words with a meaning callers act on. Status
// errors returned by this package are *StatusError (or *AuthError) values that
// match these with errors.Is.
var (
	ErrBlocked                = errors.New("authentication method blocked")          // 6983
	ErrSecurityStatus         = errors.New("security status not satisfied")          // 6982
	ErrNotFound               = errors.New("file or referenced data not found")      // 6A82, 6A88
	ErrWrongData              = errors.New("incorrect parameters in the data field") // 6A80
	ErrIncorrectP1P2          = errors.New("incorrect parameters P1-P2")             // 6A86, 6B00
	ErrInsNotSupported        = errors.New("instruction not supported")              // 6D00
	ErrClaNotSupported        = errors.New("class not supported")                    // 6E00
	ErrWrongLength            = errors.New("wrong length")                           // 6700
	ErrConditionsNotSatisfied = errors.New("conditions of use not satisfied")        // 6985
	ErrNotEnoughMemory        = errors.New("not enough memory space")                // 6A84
	ErrFunctionNotSupported   = errors.New("function not supported")                 // 6A81
	ErrMemoryFailure          = errors.New("memory failure")                         // 6581
	ErrChaining               = errors.New("command chaining error")                 // 6883, 6884
	// ErrVerificationFailed matches every *AuthError (63Cx, 6300).
	ErrVerificationFailed = errors.New("verification failed")
)

// sentinelFor is the one table of status word → meaning.
func sentinelFor(sw SW) error {
	switch sw {
	case 0x6983:
		return ErrBlocked
	case 0x6982:
		return ErrSecurityStatus
	case 0x6A82, 0x6A88:
		return ErrNotFound
	case 0x6A80:
		return ErrWrongData
	case 0x6A86, 0x6B00:
		return ErrIncorrectP1P2
	case 0x6D00:
		return ErrInsNotSupported
	case 0x6E00:
		return ErrClaNotSupported
	case 0x6700:
		return ErrWrongLength
	case 0x6985:
		return ErrConditionsNotSatisfied
	case 0x6A84:
		return ErrNotEnoughMemory
	case 0x6A81:
		return ErrFunctionNotSupported
	case 0x6581:
		return ErrMemoryFailure
	case 0x6883, 0x6884:
		return ErrChaining
	}
	return nil
}

// StatusError is a card status word other than success.
type StatusError struct {
	SW SW
}

func (e *StatusError) Error() string {
	if s := sentinelFor(e.SW); s != nil {
		return fmt.Sprintf("%v (SW %s)", s, e.SW)
	}
	return fmt.Sprintf("card returned SW %s", e.SW)
}

// Is lets errors.Is(err, ErrNotFound) and friends match by status word.
func (e *StatusError) Is(target error) bool {
	s := sentinelFor(e.SW)
	return s != nil && s == target
}

// AuthError is a failed verification (63Cx): Retries is the number of tries
// left, or -1 when the card did not say (6300).
type AuthError struct {
	Retries int
}

func (e *AuthError) Error() string {
	if e.Retries < 0 {
		return "verification failed"
	}
	return fmt.Sprintf("verification failed (%d tries left)", e.Retries)
}

// Is matches ErrVerificationFailed always, and ErrBlocked when no tries are
// left (some cards answer a final wrong try with 63C0 rather than 6983).
func (e *AuthError) Is(target error) bool {
	return target == ErrVerificationFailed || (target == ErrBlocked && e.Retries == 0)
}

// Unwrap exposes the status word, so errors.As(err, **StatusError) works for
// every card status.
func (e *AuthError) Unwrap() error {
	if e.Retries < 0 {
		return &StatusError{SW: 0x6300}
	}
	return &StatusError{SW: 0x63C0 | SW(e.Retries&0x0F)}
}

// ErrorFor maps a status word to an error: nil for 9000, *AuthError for 63Cx
// and 6300, and *StatusError for everything else.
func ErrorFor(sw SW) error {
	switch {
	case sw == SWSuccess:
		return nil
	case sw&0xFFF0 == 0x63C0:
		return &AuthError{Retries: int(sw & 0x0F)}
	case sw == 0x6300:
		return &AuthError{Retries: -1}
	}
	return &StatusError{SW: sw}
}

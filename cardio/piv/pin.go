package piv

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/smartcard-service-centre/kiosk/cardio/apdu"
)

// PIN and PUK length limits of this product (DESIGN.md: 4–8 characters); the
// card stores them padded with 0xFF to 8 bytes.
const (
	MinPINLength = 4
	MaxPINLength = 8
)

// ErrInvalidPIN reports a PIN or PUK rejected before it reaches the card, so
// that a malformed value never costs a try.
var ErrInvalidPIN = errors.New("piv: pin must be 4 to 8 printable ASCII characters")

// CheckPIN applies this product's rule for a PIN or PUK: 4–8 printable
// ASCII characters. It is the one source of that rule: the client checks
// values before they can cost a try, and the software card refuses others.
func CheckPIN(pin string) error {
	if len(pin) < MinPINLength || len(pin) > MaxPINLength {
		return fmt.Errorf("%w: length %d", ErrInvalidPIN, len(pin))
	}
	for i := 0; i < len(pin); i++ {
		if pin[i] < 0x20 || pin[i] > 0x7E {
			return fmt.Errorf("%w: character %d is not printable ASCII", ErrInvalidPIN, i+1)
		}
	}
	return nil
}

// encodePIN validates pin and pads it with 0xFF to 8 bytes.
func encodePIN(pin string) ([]byte, error) {
	if err := CheckPIN(pin); err != nil {
		return nil, err
	}
	out := bytes.Repeat([]byte{0xFF}, MaxPINLength)
	copy(out, pin)
	return out, nil
}

// DecodePIN is the inverse of the padding: the value of a PIN or PUK as a
// card stores or receives it (8 bytes, padded with 0xFF), checked with
// CheckPIN.
func DecodePIN(b []byte) (string, error) {
	if len(b) != MaxPINLength {
		return "", fmt.Errorf("%w: %d bytes, want %d", ErrInvalidPIN, len(b), MaxPINLength)
	}
	n := bytes.IndexByte(b, 0xFF)
	if n < 0 {
		n = len(b)
	}
	for _, x := range b[n:] {
		if x != 0xFF {
			return "", fmt.Errorf("%w: padding inside the value", ErrInvalidPIN)
		}
	}
	v := string(b[:n])
	if err := CheckPIN(v); err != nil {
		return "", err
	}
	return v, nil
}

// VerifyPIN presents the PIN (key reference 80). A wrong PIN returns an error
// matching *apdu.AuthError with the tries left; a blocked PIN matches
// apdu.ErrBlocked.
func (c *Client) VerifyPIN(ctx context.Context, pin string) error {
	p, err := encodePIN(pin)
	if err != nil {
		return fmt.Errorf("verify pin: %w", err)
	}
	defer clear(p)
	if _, err := c.send(ctx, apdu.Command{INS: insVerify, P2: keyPIN, Data: p}); err != nil {
		return fmt.Errorf("verify pin: %w", err)
	}
	return nil
}

// PINStatus is what an empty VERIFY tells about the PIN.
type PINStatus struct {
	Verified bool // the PIN is verified in this session (9000)
	Retries  int  // tries left; -1 when Verified (the card does not say)
	Blocked  bool // no tries left (6983)
}

// PINStatus asks for the PIN's state without presenting it (SP 800-73-4
// 3.2.1: VERIFY with no data field). It costs no try.
func (c *Client) PINStatus(ctx context.Context) (PINStatus, error) {
	_, err := c.send(ctx, apdu.Command{INS: insVerify, P2: keyPIN})
	var ae *apdu.AuthError
	switch {
	case err == nil:
		return PINStatus{Verified: true, Retries: -1}, nil
	case errors.Is(err, apdu.ErrBlocked):
		return PINStatus{Blocked: true}, nil
	case errors.As(err, &ae) && ae.Retries >= 0:
		return PINStatus{Retries: ae.Retries}, nil
	default:
		return PINStatus{}, fmt.Errorf("pin status: %w", err)
	}
}

// ForgetPIN resets the PIN's security status (VERIFY with P1 = FF), for
// example before handing the kiosk to the next person.
func (c *Client) ForgetPIN(ctx context.Context) error {
	if _, err := c.send(ctx, apdu.Command{INS: insVerify, P1: 0xFF, P2: keyPIN}); err != nil {
		return fmt.Errorf("reset pin status: %w", err)
	}
	return nil
}

func (c *Client) changeReference(ctx context.Context, ins, key byte, oldValue, newValue string) error {
	o, err := encodePIN(oldValue)
	if err != nil {
		return fmt.Errorf("current value: %w", err)
	}
	defer clear(o)
	n, err := encodePIN(newValue)
	if err != nil {
		return fmt.Errorf("new value: %w", err)
	}
	defer clear(n)
	data := append(o, n...)
	defer clear(data)
	_, err = c.send(ctx, apdu.Command{INS: ins, P2: key, Data: data})
	return err
}

// ChangePIN replaces the PIN after checking the current one (INS 24).
func (c *Client) ChangePIN(ctx context.Context, oldPIN, newPIN string) error {
	if err := c.changeReference(ctx, insChangeReference, keyPIN, oldPIN, newPIN); err != nil {
		return fmt.Errorf("change pin: %w", err)
	}
	return nil
}

// ChangePUK replaces the PUK after checking the current one (INS 24).
func (c *Client) ChangePUK(ctx context.Context, oldPUK, newPUK string) error {
	if err := c.changeReference(ctx, insChangeReference, keyPUK, oldPUK, newPUK); err != nil {
		return fmt.Errorf("change puk: %w", err)
	}
	return nil
}

// Unblock sets a new PIN and restores its tries with the PUK (RESET RETRY
// COUNTER, INS 2C). A wrong PUK costs a PUK try (*apdu.AuthError); a blocked
// PUK matches apdu.ErrBlocked. The PIN is not verified afterwards.
func (c *Client) Unblock(ctx context.Context, puk, newPIN string) error {
	if err := c.changeReference(ctx, insResetRetry, keyPIN, puk, newPIN); err != nil {
		return fmt.Errorf("unblock pin: %w", err)
	}
	return nil
}

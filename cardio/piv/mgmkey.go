package piv

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"

	"github.com/smartcard-service-centre/kiosk/cardio/apdu"
	"github.com/smartcard-service-centre/kiosk/cardio/tlv"
)

// Algorithm is a PIV cryptographic algorithm identifier (SP 800-78-4).
type Algorithm byte

// Algorithms this client uses.
const (
	Alg3DES    Algorithm = 0x03
	AlgAES128  Algorithm = 0x08
	AlgAES192  Algorithm = 0x0A
	AlgAES256  Algorithm = 0x0C
	AlgECCP256 Algorithm = 0x11
)

func (a Algorithm) String() string {
	switch a {
	case Alg3DES:
		return "3DES"
	case AlgAES128:
		return "AES-128"
	case AlgAES192:
		return "AES-192"
	case AlgAES256:
		return "AES-256"
	case AlgECCP256:
		return "ECC P-256"
	}
	return fmt.Sprintf("algorithm %02X", byte(a))
}

// KeyLen returns the key size in bytes of a management-key algorithm, or 0.
func (a Algorithm) KeyLen() int {
	switch a {
	case Alg3DES, AlgAES192:
		return 24
	case AlgAES128:
		return 16
	case AlgAES256:
		return 32
	}
	return 0
}

// ManagementKey is the card management key (key reference 9B).
type ManagementKey struct {
	Alg Algorithm
	Key []byte
}

// DefaultManagementKey is the factory 3DES key of PIV cards and YubiKeys.
var DefaultManagementKey = ManagementKey{Alg: Alg3DES, Key: []byte{
	1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8,
}}

// ErrInvalidManagementKey reports a key whose length does not fit its algorithm.
var ErrInvalidManagementKey = errors.New("piv: invalid management key")

// ErrCardNotAuthenticated reports a card that failed to prove it holds the
// management key during mutual authentication.
var ErrCardNotAuthenticated = errors.New("piv: card response to the challenge is wrong")

func (k ManagementKey) block() (cipher.Block, error) {
	n := k.Alg.KeyLen()
	if n == 0 || len(k.Key) != n {
		return nil, fmt.Errorf("%w: %s with %d bytes", ErrInvalidManagementKey, k.Alg, len(k.Key))
	}
	if k.Alg == Alg3DES {
		return des.NewTripleDESCipher(k.Key)
	}
	return aes.NewCipher(k.Key)
}

// Authenticate proves knowledge of the management key and checks that the
// card holds it too (mutual authentication, SP 800-73-4 Part 2 Appendix A.1,
// as piv-go and yubico-piv-tool do it): the card sends an encrypted witness,
// the host returns it decrypted along with its own challenge, and the card
// answers with the challenge encrypted.
func (c *Client) Authenticate(ctx context.Context, key ManagementKey) error {
	if err := c.authenticate(ctx, key); err != nil {
		return fmt.Errorf("authenticate management key: %w", err)
	}
	return nil
}

func (c *Client) authenticate(ctx context.Context, key ManagementKey) error {
	blk, err := key.block()
	if err != nil {
		return err
	}
	bs := blk.BlockSize()
	ga := apdu.Command{INS: insGeneralAuth, P1: byte(key.Alg), P2: keyManagement, Ne: 256}

	ga.Data = tlv.Constructed(0x7C, tlv.New(0x80, nil)).Encode()
	resp, err := c.send(ctx, ga)
	if err != nil {
		return fmt.Errorf("request witness: %w", err)
	}
	encWitness, err := dynamicAuthField(resp, 0x80)
	if err != nil {
		return err
	}
	if len(encWitness) != bs {
		return fmt.Errorf("%w: witness of %d bytes for %s", ErrMalformedResponse, len(encWitness), key.Alg)
	}
	witness := make([]byte, bs)
	blk.Decrypt(witness, encWitness)

	challenge := make([]byte, bs)
	if _, err := io.ReadFull(c.rand, challenge); err != nil {
		return fmt.Errorf("challenge: %w", err)
	}
	want := make([]byte, bs)
	blk.Encrypt(want, challenge)

	ga.Data = tlv.Constructed(0x7C, tlv.New(0x80, witness), tlv.New(0x81, challenge)).Encode()
	resp, err = c.send(ctx, ga)
	if err != nil {
		return fmt.Errorf("answer witness: %w", err)
	}
	got, err := dynamicAuthField(resp, 0x82)
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrCardNotAuthenticated
	}
	return nil
}

// dynamicAuthField returns one field of a 7C dynamic authentication template.
func dynamicAuthField(resp []byte, tag tlv.Tag) ([]byte, error) {
	v, err := tlv.Unwrap(resp, 0x7C)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedResponse, err)
	}
	f, ok, err := tlv.FindIn(v, tag)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedResponse, err)
	}
	if !ok {
		return nil, fmt.Errorf("%w: no %s in 7C", ErrMalformedResponse, tag)
	}
	return f, nil
}

// SetManagementKey replaces the management key (Yubico INS FF); the card
// requires a prior Authenticate with the current key.
func (c *Client) SetManagementKey(ctx context.Context, key ManagementKey) error {
	if _, err := key.block(); err != nil {
		return fmt.Errorf("set management key: %w", err)
	}
	data := append([]byte{byte(key.Alg), keyManagement, byte(len(key.Key))}, key.Key...)
	defer clear(data)
	if _, err := c.send(ctx, apdu.Command{INS: insSetManagementKey, P1: 0xFF, P2: 0xFF, Data: data}); err != nil {
		return fmt.Errorf("set management key: %w", err)
	}
	return nil
}

// Equal reports whether two management keys are the same (constant time in
// the key bytes).
func (k ManagementKey) Equal(o ManagementKey) bool {
	return k.Alg == o.Alg && len(k.Key) == len(o.Key) && subtle.ConstantTimeCompare(k.Key, o.Key) == 1
}

package piv

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"errors"
	"fmt"
	"io"

	"github.com/smartcard-service-centre/kiosk/cardio/apdu"
	"github.com/smartcard-service-centre/kiosk/cardio/tlv"
)

// GenerateKey creates a new P-256 key pair in slot (GENERATE ASYMMETRIC KEY
// PAIR, INS 47) and returns its public key. The card requires management-key
// authentication first. The private key never leaves the card.
func (c *Client) GenerateKey(ctx context.Context, slot Slot) (*ecdsa.PublicKey, error) {
	data := tlv.Constructed(0xAC, tlv.New(0x80, []byte{byte(AlgECCP256)})).Encode()
	resp, err := c.send(ctx, apdu.Command{INS: insGenerateKey, P2: slot.Key, Data: data, Ne: 256})
	if err != nil {
		return nil, fmt.Errorf("generate key in %s: %w", slot, err)
	}
	pub, err := parsePublicKey(resp)
	if err != nil {
		return nil, fmt.Errorf("generate key in %s: %w", slot, err)
	}
	return pub, nil
}

// parsePublicKey reads 7F49 { 86 <uncompressed point> }.
func parsePublicKey(resp []byte) (*ecdsa.PublicKey, error) {
	v, err := tlv.Unwrap(resp, 0x7F49)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedResponse, err)
	}
	point, ok, err := tlv.FindIn(v, 0x86)
	if err != nil || !ok {
		return nil, fmt.Errorf("%w: no EC point in 7F49", ErrMalformedResponse)
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedResponse, err)
	}
	return pub, nil
}

// p256DigestLen is the input size the card's ECDSA P-256 operation takes.
const p256DigestLen = 32

// Sign signs digest with the P-256 key in slot (GENERAL AUTHENTICATE, INS 87)
// and returns an ASN.1 DER ECDSA signature. Slots 9A and 9D need the PIN
// verified, 9C needs it verified immediately before, 9E needs none.
func (c *Client) Sign(ctx context.Context, slot Slot, digest []byte) ([]byte, error) {
	if len(digest) == 0 {
		return nil, errors.New("sign: empty digest")
	}
	// ECDSA uses the leftmost 256 bits of the hash as an integer: truncating
	// a longer digest or left-padding a shorter one with zeros keeps that
	// integer, and the card wants exactly the key size.
	in := make([]byte, p256DigestLen)
	if len(digest) >= p256DigestLen {
		copy(in, digest[:p256DigestLen])
	} else {
		copy(in[p256DigestLen-len(digest):], digest)
	}
	data := tlv.Constructed(0x7C, tlv.New(0x82, nil), tlv.New(0x81, in)).Encode()
	resp, err := c.send(ctx, apdu.Command{INS: insGeneralAuth, P1: byte(AlgECCP256), P2: slot.Key, Data: data, Ne: 256})
	if err != nil {
		return nil, fmt.Errorf("sign with %s: %w", slot, err)
	}
	sig, err := dynamicAuthField(resp, 0x82)
	if err != nil {
		return nil, fmt.Errorf("sign with %s: %w", slot, err)
	}
	return sig, nil
}

// Signer returns a crypto.Signer for the P-256 key in slot whose public key
// is pub (from GenerateKey or the slot's certificate). The PIN, if the slot
// needs it, must be verified by the caller first.
func (c *Client) Signer(ctx context.Context, slot Slot, pub *ecdsa.PublicKey) crypto.Signer {
	return &signer{ctx: ctx, c: c, slot: slot, pub: pub}
}

type signer struct {
	ctx  context.Context
	c    *Client
	slot Slot
	pub  *ecdsa.PublicKey
}

func (s *signer) Public() crypto.PublicKey { return s.pub }

func (s *signer) Sign(_ io.Reader, digest []byte, _ crypto.SignerOpts) ([]byte, error) {
	return s.c.Sign(s.ctx, s.slot, digest)
}

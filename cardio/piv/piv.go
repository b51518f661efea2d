// Package piv is a client for the PIV card application (NIST SP 800-73-4)
// with the Yubico extensions that standard tools expect. It speaks to a card
// through an apdu.Transport; one file per concern, in the manner of piv-go.
//
// A Client is not safe for concurrent use: a card processes one command
// sequence at a time, and multi-command operations (management-key
// authentication, VERIFY then sign) must not interleave.
package piv

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"github.com/smartcard-service-centre/kiosk/cardio/apdu"
	"github.com/smartcard-service-centre/kiosk/cardio/tlv"
)

// AID is the full PIV application identifier (PIX with version 01 00).
var AID = []byte{0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00}

// PIV and Yubico instruction bytes.
const (
	insSelect           = 0xA4
	insVerify           = 0x20
	insChangeReference  = 0x24
	insResetRetry       = 0x2C
	insGeneralAuth      = 0x87
	insGenerateKey      = 0x47
	insGetData          = 0xCB
	insPutData          = 0xDB
	insSetManagementKey = 0xFF // Yubico
	insGetVersion       = 0xFD // Yubico
	insGetSerial        = 0xF8 // Yubico
)

// Key references.
const (
	keyPIN        = 0x80
	keyPUK        = 0x81
	keyManagement = 0x9B
)

// ErrMalformedResponse reports a card answer that does not have the structure
// SP 800-73-4 prescribes.
var ErrMalformedResponse = errors.New("piv: malformed card response")

// Client issues PIV commands over a transport.
type Client struct {
	t    apdu.Transport
	rand io.Reader
}

// Option configures a Client.
type Option func(*Client)

// WithRand sets the randomness used for management-key challenges (tests).
func WithRand(r io.Reader) Option { return func(c *Client) { c.rand = r } }

// New returns a client for the card behind t. It sends nothing; call Select
// first, as on any PIV card after power-up.
func New(t apdu.Transport, opts ...Option) *Client {
	c := &Client{t: t, rand: rand.Reader}
	for _, o := range opts {
		o(c)
	}
	return c
}

func (c *Client) send(ctx context.Context, cmd apdu.Command) ([]byte, error) {
	return apdu.Send(ctx, c.t, cmd)
}

// AppProperties is the application property template returned by SELECT.
type AppProperties struct {
	AID          []byte // 4F: the PIX (or full AID) of the application
	AuthorityAID []byte // 79/4F: coexistent tag allocation authority
	Label        string // 50, optional
	Algorithms   []byte // AC/80 entries, optional
}

// Select selects the PIV application by its full AID and parses the
// application property template (tag 61).
func (c *Client) Select(ctx context.Context) (AppProperties, error) {
	resp, err := c.send(ctx, apdu.Command{INS: insSelect, P1: 0x04, Data: AID, Ne: 256})
	if err != nil {
		return AppProperties{}, fmt.Errorf("select piv: %w", err)
	}
	apt, err := parseAPT(resp)
	if err != nil {
		return AppProperties{}, fmt.Errorf("select piv: %w", err)
	}
	return apt, nil
}

func parseAPT(b []byte) (AppProperties, error) {
	v, err := tlv.Unwrap(b, 0x61)
	if err != nil {
		return AppProperties{}, fmt.Errorf("%w: %w", ErrMalformedResponse, err)
	}
	objs, err := tlv.DecodeAll(v)
	if err != nil {
		return AppProperties{}, fmt.Errorf("%w: %w", ErrMalformedResponse, err)
	}
	var apt AppProperties
	aid, ok := tlv.Find(objs, 0x4F)
	if !ok {
		return AppProperties{}, fmt.Errorf("%w: no application identifier", ErrMalformedResponse)
	}
	apt.AID = aid.Value
	if auth, ok := tlv.Find(objs, 0x79); ok {
		if v, ok, err := tlv.FindIn(auth.Value, 0x4F); err == nil && ok {
			apt.AuthorityAID = v
		}
	}
	if l, ok := tlv.Find(objs, 0x50); ok {
		apt.Label = string(l.Value)
	}
	if alg, ok := tlv.Find(objs, 0xAC); ok {
		if kids, err := alg.Children(); err == nil {
			for _, k := range kids {
				if k.Tag == 0x80 && len(k.Value) == 1 {
					apt.Algorithms = append(apt.Algorithms, k.Value[0])
				}
			}
		}
	}
	return apt, nil
}

package piv

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/smartcard-service-centre/kiosk/cardio/tlv"
)

// CHUID is the Card Holder Unique Identifier (object 5FC102, SP 800-73-4
// Part 1, table 9). Only the fields this product uses are kept; the buffer
// length (EE), organisational identifier (32), DUNS (33) and cardholder UUID
// (36) are optional and read when present.
type CHUID struct {
	FASCN     []byte    // 30: 25 bytes
	OrgID     []byte    // 32, optional
	DUNS      []byte    // 33, optional
	GUID      [16]byte  // 34
	Expiry    time.Time // 35: date only, "YYYYMMDD"
	UUID      []byte    // 36, optional
	Signature []byte    // 3E: issuer asymmetric signature, may be empty
}

const expiryLayout = "20060102"

// Errors about CHUID content.
var (
	ErrMalformedCHUID = errors.New("piv: malformed CHUID")
	// ErrSerialFormat reports a GUID or serial that is not in this service's
	// format: 8 significant bytes followed by 8 zero bytes.
	ErrSerialFormat = errors.New("piv: not a service card serial")
)

// ParseCHUID decodes the contents of the CHUID's 53 envelope.
func ParseCHUID(b []byte) (*CHUID, error) {
	objs, err := tlv.DecodeAll(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedCHUID, err)
	}
	var c CHUID
	guid, ok := tlv.Find(objs, 0x34)
	if !ok || len(guid.Value) != len(c.GUID) {
		return nil, fmt.Errorf("%w: GUID missing or not 16 bytes", ErrMalformedCHUID)
	}
	copy(c.GUID[:], guid.Value)
	if f, ok := tlv.Find(objs, 0x30); ok {
		c.FASCN = f.Value
	}
	if f, ok := tlv.Find(objs, 0x32); ok {
		c.OrgID = f.Value
	}
	if f, ok := tlv.Find(objs, 0x33); ok {
		c.DUNS = f.Value
	}
	if f, ok := tlv.Find(objs, 0x36); ok {
		c.UUID = f.Value
	}
	if f, ok := tlv.Find(objs, 0x3E); ok {
		c.Signature = f.Value
	}
	exp, ok := tlv.Find(objs, 0x35)
	if !ok {
		return nil, fmt.Errorf("%w: no expiration date", ErrMalformedCHUID)
	}
	if c.Expiry, err = time.Parse(expiryLayout, string(exp.Value)); err != nil {
		return nil, fmt.Errorf("%w: expiration date %q", ErrMalformedCHUID, exp.Value)
	}
	return &c, nil
}

// Marshal encodes the CHUID as the contents of its 53 envelope, fields in
// the order of SP 800-73-4 table 9, ending with an empty LRC (FE).
func (c *CHUID) Marshal() []byte {
	var objs []tlv.TLV
	if c.FASCN != nil {
		objs = append(objs, tlv.New(0x30, c.FASCN))
	}
	if c.OrgID != nil {
		objs = append(objs, tlv.New(0x32, c.OrgID))
	}
	if c.DUNS != nil {
		objs = append(objs, tlv.New(0x33, c.DUNS))
	}
	objs = append(objs, tlv.New(0x34, c.GUID[:]))
	objs = append(objs, tlv.New(0x35, []byte(c.Expiry.UTC().Format(expiryLayout))))
	if c.UUID != nil {
		objs = append(objs, tlv.New(0x36, c.UUID))
	}
	objs = append(objs, tlv.New(0x3E, c.Signature), tlv.New(0xFE, nil))
	return tlv.EncodeAll(objs...)
}

// Serial returns the card serial: the first 8 GUID bytes as 16 upper-case
// hex digits. The other 8 bytes must be zero.
func (c *CHUID) Serial() (string, error) {
	if !bytes.Equal(c.GUID[8:], make([]byte, 8)) {
		return "", fmt.Errorf("%w: GUID %X", ErrSerialFormat, c.GUID)
	}
	return strings.ToUpper(hex.EncodeToString(c.GUID[:8])), nil
}

// ParseSerial checks a card serial (16 hex digits, any case) and returns its
// 8 bytes.
func ParseSerial(serial string) ([8]byte, error) {
	var out [8]byte
	if len(serial) != 16 {
		return out, fmt.Errorf("%w: %q is not 16 hex digits", ErrSerialFormat, serial)
	}
	b, err := hex.DecodeString(serial)
	if err != nil {
		return out, fmt.Errorf("%w: %q is not 16 hex digits", ErrSerialFormat, serial)
	}
	copy(out[:], b)
	return out, nil
}

// NewCHUID builds the CHUID of a service card: GUID = serial then 8 zero
// bytes, the non-federal FASC-N (as yubico-piv-tool writes it),
// the given expiry, and an empty issuer signature.
func NewCHUID(serial string, expiry time.Time) (*CHUID, error) {
	s, err := ParseSerial(serial)
	if err != nil {
		return nil, err
	}
	fascn, err := EncodeFASCN(NonFederalFASCN)
	if err != nil {
		return nil, err
	}
	c := &CHUID{FASCN: fascn, Expiry: expiry, Signature: []byte{}}
	copy(c.GUID[:8], s[:])
	return c, nil
}

// CHUID reads and parses the card's CHUID.
func (c *Client) CHUID(ctx context.Context) (*CHUID, error) {
	b, err := c.GetData(ctx, ObjectCHUID)
	if err != nil {
		return nil, fmt.Errorf("read chuid: %w", err)
	}
	ch, err := ParseCHUID(b)
	if err != nil {
		return nil, fmt.Errorf("read chuid: %w", err)
	}
	return ch, nil
}

// Serial reads the card serial from the CHUID. It identifies a card but
// proves nothing: check the card-authentication key for that.
func (c *Client) Serial(ctx context.Context) (string, error) {
	ch, err := c.CHUID(ctx)
	if err != nil {
		return "", err
	}
	s, err := ch.Serial()
	if err != nil {
		return "", fmt.Errorf("read serial: %w", err)
	}
	return s, nil
}

// SetCHUID writes the CHUID (management-key authentication required).
func (c *Client) SetCHUID(ctx context.Context, ch *CHUID) error {
	if err := c.PutData(ctx, ObjectCHUID, ch.Marshal()); err != nil {
		return fmt.Errorf("write chuid: %w", err)
	}
	return nil
}

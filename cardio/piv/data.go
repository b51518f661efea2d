package piv

import (
	"context"
	"fmt"

	"github.com/smartcard-service-centre/kiosk/cardio/apdu"
	"github.com/smartcard-service-centre/kiosk/cardio/tlv"
)

// PIV data object tags (SP 800-73-4 Part 1, table 3).
const (
	ObjectCardAuthCert  uint32 = 0x5FC101
	ObjectCHUID         uint32 = 0x5FC102
	ObjectFingerprints  uint32 = 0x5FC103
	ObjectPIVAuthCert   uint32 = 0x5FC105
	ObjectSecurity      uint32 = 0x5FC106
	ObjectCCC           uint32 = 0x5FC107
	ObjectFacialImage   uint32 = 0x5FC108
	ObjectPrintedInfo   uint32 = 0x5FC109
	ObjectSignatureCert uint32 = 0x5FC10A
	ObjectKeyMgmtCert   uint32 = 0x5FC10B
	ObjectKeyHistory    uint32 = 0x5FC10C
	ObjectDiscovery     uint32 = 0x7E
)

// objectTag encodes an object identifier for the 5C tag list.
func objectTag(obj uint32) ([]byte, error) {
	t := tlv.Tag(obj)
	if !t.Valid() {
		return nil, fmt.Errorf("piv: invalid object tag %X", obj)
	}
	return tlv.Encode(0x5C, t.Bytes()), nil
}

// GetData reads a data object (GET DATA, INS CB) and returns the contents of
// its 53 envelope (the discovery object, 7E, is returned as its contents too).
// An absent object matches apdu.ErrNotFound.
func (c *Client) GetData(ctx context.Context, obj uint32) ([]byte, error) {
	tag, err := objectTag(obj)
	if err != nil {
		return nil, fmt.Errorf("get data: %w", err)
	}
	resp, err := c.send(ctx, apdu.Command{INS: insGetData, P1: 0x3F, P2: 0xFF, Data: tag, Ne: 256})
	if err != nil {
		return nil, fmt.Errorf("get data %X: %w", obj, err)
	}
	envelope := tlv.Tag(0x53)
	if obj == ObjectDiscovery {
		envelope = 0x7E
	}
	v, err := tlv.Unwrap(resp, envelope)
	if err != nil {
		return nil, fmt.Errorf("get data %X: %w: %w", obj, ErrMalformedResponse, err)
	}
	return v, nil
}

// PutData writes a data object (PUT DATA, INS DB) with value as the contents
// of its 53 envelope; an empty value deletes the object on cards that
// support it. The card requires management-key authentication first.
func (c *Client) PutData(ctx context.Context, obj uint32, value []byte) error {
	tag, err := objectTag(obj)
	if err != nil {
		return fmt.Errorf("put data: %w", err)
	}
	if len(value) > tlv.MaxLength {
		return fmt.Errorf("put data %X: %d bytes is too long", obj, len(value))
	}
	data := append(tag, tlv.Encode(0x53, value)...)
	if _, err := c.send(ctx, apdu.Command{INS: insPutData, P1: 0x3F, P2: 0xFF, Data: data}); err != nil {
		return fmt.Errorf("put data %X: %w", obj, err)
	}
	return nil
}

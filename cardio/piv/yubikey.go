package piv

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/smartcard-service-centre/kiosk/cardio/apdu"
)

// Version is a YubiKey-style firmware version.
type Version struct {
	Major, Minor, Patch byte
}

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// Version asks for the applet version (Yubico GET VERSION, INS FD). Cards
// without the extension answer 6D00 (apdu.ErrInsNotSupported).
func (c *Client) Version(ctx context.Context) (Version, error) {
	resp, err := c.send(ctx, apdu.Command{INS: insGetVersion, Ne: 256})
	if err != nil {
		return Version{}, fmt.Errorf("get version: %w", err)
	}
	if len(resp) != 3 {
		return Version{}, fmt.Errorf("get version: %w: %d bytes", ErrMalformedResponse, len(resp))
	}
	return Version{resp[0], resp[1], resp[2]}, nil
}

// YubicoSerial asks for the device serial number (Yubico GET SERIAL, INS F8).
// This is the token's own number, not the service card serial in the CHUID.
func (c *Client) YubicoSerial(ctx context.Context) (uint32, error) {
	resp, err := c.send(ctx, apdu.Command{INS: insGetSerial, Ne: 256})
	if err != nil {
		return 0, fmt.Errorf("get serial: %w", err)
	}
	if len(resp) != 4 {
		return 0, fmt.Errorf("get serial: %w: %d bytes", ErrMalformedResponse, len(resp))
	}
	return binary.BigEndian.Uint32(resp), nil
}

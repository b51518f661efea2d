package sim

import (
	"bytes"
	"testing"
)

// checkInvariants holds after every command, whatever the host sent.
func checkInvariants(t *testing.T, c *Card, resp []byte) {
	t.Helper()
	if len(resp) < 2 {
		t.Fatalf("response %X has no status word", resp)
	}
	s := c.st
	if s.PINTries < 0 || s.PINTries > maxPINTries || s.PUKTries < 0 || s.PUKTries > maxPUKTries {
		t.Fatalf("counters pin %d puk %d", s.PINTries, s.PUKTries)
	}
	if !validPadded(s.PIN) || !validPadded(s.PUK) {
		t.Fatalf("pin %X puk %X", s.PIN, s.PUK)
	}
	if n := mgmtKeyLen(s.MgmtAlg); n == 0 || n != len(s.MgmtKey) {
		t.Fatalf("management key alg %02X len %d", s.MgmtAlg, len(s.MgmtKey))
	}
	// A verified PIN always has its full counter: every failure clears it.
	if c.pinVerified && s.PINTries != maxPINTries {
		t.Fatalf("verified with %d tries", s.PINTries)
	}
	if c.pinJust && !c.pinVerified {
		t.Fatal("PIN-always state without verification")
	}
	if !c.selected && (c.pinVerified || c.mgmAuthed) {
		t.Fatal("security status without a selected application")
	}
	if c.chain != nil && len(c.chain.data) > maxChainData {
		t.Fatal("chain buffer over its limit")
	}
	for slot := range s.keys {
		if !isKeySlot(slot) {
			t.Fatalf("key in slot %02X", slot)
		}
	}
	for tag, v := range s.objects {
		if !writableObject(tag) || len(v) == 0 || len(v) > maxObjectSize {
			t.Fatalf("object %X of %d bytes", tag, len(v))
		}
	}
}

// FuzzTransmit feeds the card a sequence of APDUs, each prefixed with its
// length, starting from a selected factory card. Besides never panicking,
// the card must keep its invariants, must not grant the management key to
// a host that never answered a witness, and its state must survive a
// save/load round trip.
func FuzzTransmit(f *testing.F) {
	seeds := [][]byte{
		{0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08},
		{0x00, 0x20, 0x00, 0x80, 0x08, '1', '2', '3', '4', '5', '6', 0xFF, 0xFF},
		{0x00, 0x20, 0x00, 0x80},
		{0x00, 0x2C, 0x00, 0x80, 0x10, '1', '2', '3', '4', '5', '6', '7', '8', '4', '3', '2', '1', 0xFF, 0xFF, 0xFF, 0xFF},
		{0x00, 0x24, 0x00, 0x81, 0x10, '1', '2', '3', '4', '5', '6', '7', '8', '4', '3', '2', '1', 0xFF, 0xFF, 0xFF, 0xFF},
		{0x00, 0x87, 0x03, 0x9B, 0x04, 0x7C, 0x02, 0x80, 0x00, 0x00},
		{0x00, 0x87, 0x03, 0x9B, 0x04, 0x7C, 0x02, 0x81, 0x00, 0x00},
		{0x00, 0x87, 0x11, 0x9E, 0x26, 0x7C, 0x24, 0x82, 0x00, 0x81, 0x20},
		{0x00, 0xCB, 0x3F, 0xFF, 0x05, 0x5C, 0x03, 0x5F, 0xC1, 0x02, 0x00},
		{0x00, 0xCB, 0x3F, 0xFF, 0x03, 0x5C, 0x01, 0x7E, 0x00},
		{0x10, 0xDB, 0x3F, 0xFF, 0x02, 0x5C, 0x03},
		{0x00, 0xC0, 0x00, 0x00, 0x00},
		{0x00, 0xF7, 0x00, 0x80, 0x00},
		{0x00, 0xFB, 0x00, 0x00},
		{0x00, 0xFD, 0x00, 0x00, 0x01},
		{0x00, 0xA4, 0x04, 0x00, 0x01, 0x00, 0x00, 0x00},
	}
	var all []byte
	for _, s := range seeds {
		f.Add(append([]byte{byte(len(s))}, s...))
		all = append(all, byte(len(s)))
		all = append(all, s...)
	}
	f.Add(all)
	f.Fuzz(func(t *testing.T, in []byte) {
		c := New()
		c.Transmit([]byte{0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08})
		answered := false
		for len(in) > 0 {
			n := int(in[0])
			in = in[1:]
			if n > len(in) {
				n = len(in)
			}
			cmd := in[:n]
			in = in[n:]
			if len(cmd) > 8 && cmd[1] == 0x87 && cmd[3] == 0x9B && c.pending != nil {
				answered = true // the fuzzer replied to an outstanding challenge
			}
			resp := c.Transmit(cmd)
			checkInvariants(t, c, resp)
			if c.mgmAuthed && !answered {
				t.Fatalf("management key granted without a challenge answer, after %X", cmd)
			}
		}
		b, err := c.st.marshal()
		if err != nil {
			t.Fatal(err)
		}
		back, err := unmarshalState(b)
		if err != nil {
			t.Fatalf("saved state does not load: %v", err)
		}
		b2, _ := back.marshal()
		if !bytes.Equal(b, b2) {
			t.Fatal("state changed across save/load")
		}
	})
}

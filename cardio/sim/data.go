package sim

import (
	"bytes"

	"github.com/smartcard-service-centre/kiosk/cardio/apdu"
	"github.com/smartcard-service-centre/kiosk/cardio/tlv"
)

const objDiscovery = 0x7E

// selectApp is SELECT by DF name. The PIV AID may be right-truncated down to
// its RID+PIX prefix A0 00 00 03 08, as OpenSC sends it.
func (c *Card) selectApp(cmd apdu.Command) apdu.Response {
	if cmd.P1 != 0x04 || cmd.P2 != 0x00 {
		return status(swIncorrectP1P2)
	}
	if len(cmd.Data) < 5 || !bytes.HasPrefix(fullAID, cmd.Data) {
		return status(swFileNotFound) // the current selection stays
	}
	c.resetSession()
	c.selected = true
	apt := tlv.Constructed(0x61,
		tlv.New(0x4F, fullAID[5:]),
		tlv.Constructed(0x79, tlv.New(0x4F, fullAID[:5])),
		tlv.New(0x50, []byte("SSC PIV")),
		tlv.Constructed(0xAC,
			tlv.New(0x80, []byte{alg3DES}), tlv.New(0x80, []byte{algAES128}),
			tlv.New(0x80, []byte{algAES192}), tlv.New(0x80, []byte{algAES256}),
			tlv.New(0x80, []byte{algP256}), tlv.New(0x06, []byte{0x00})),
	)
	return apdu.Response{Data: apt.Encode(), SW: swOK}
}

// writableObject reports whether tag is a PIV data object PUT DATA may write.
func writableObject(tag uint32) bool {
	return tag >= 0x5FC101 && tag <= 0x5FC123
}

// pinProtected are the objects SP 800-73-4 reads only after PIN verification:
// fingerprints, facial image, printed information, iris images.
func pinProtected(tag uint32) bool {
	switch tag {
	case 0x5FC103, 0x5FC108, 0x5FC109, 0x5FC121:
		return true
	}
	return false
}

// objectRequest decodes a 5C tag list holding one tag.
func objectRequest(b []byte) (uint32, []byte, bool) {
	t, rest, err := tlv.Decode(b)
	if err != nil || t.Tag != 0x5C || len(t.Value) == 0 || len(t.Value) > 3 {
		return 0, nil, false
	}
	var tag uint32
	for _, x := range t.Value {
		tag = tag<<8 | uint32(x)
	}
	return tag, rest, true
}

// getData is GET DATA (INS CB).
func (c *Card) getData(cmd apdu.Command) apdu.Response {
	if cmd.P1 != 0x3F || cmd.P2 != 0xFF {
		return status(swIncorrectP1P2)
	}
	tag, rest, ok := objectRequest(cmd.Data)
	if !ok || len(rest) != 0 {
		return status(swWrongData)
	}
	if tag == objDiscovery {
		d := tlv.Constructed(0x7E,
			tlv.New(0x4F, fullAID),
			tlv.New(0x5F2F, []byte{0x40, 0x00})) // PIN policy: PIV PIN only
		return apdu.Response{Data: d.Encode(), SW: swOK}
	}
	if pinProtected(tag) && !c.pinVerified {
		return status(swSecurity)
	}
	v, ok := c.st.objects[tag]
	if !ok {
		return status(swFileNotFound)
	}
	return apdu.Response{Data: tlv.Encode(0x53, v), SW: swOK}
}

// putData is PUT DATA (INS DB): 5C { tag } 53 { contents }; empty contents
// delete the object.
func (c *Card) putData(cmd apdu.Command) apdu.Response {
	if !c.mgmAuthed {
		return status(swSecurity)
	}
	if cmd.P1 != 0x3F || cmd.P2 != 0xFF {
		return status(swIncorrectP1P2)
	}
	tag, rest, ok := objectRequest(cmd.Data)
	if !ok || !writableObject(tag) {
		return status(swWrongData)
	}
	if len(rest) > maxObjectSize {
		return status(swNoMemory)
	}
	body, err := tlv.DecodeOne(rest)
	if err != nil || body.Tag != 0x53 {
		return status(swWrongData)
	}
	if len(body.Value) == 0 {
		delete(c.st.objects, tag)
	} else {
		c.st.objects[tag] = append([]byte(nil), body.Value...)
	}
	c.dirty = true
	return status(swOK)
}

// metadata is Yubico's GET METADATA (INS F7) for the PIN, PUK, management
// key and key slots.
func (c *Card) metadata(cmd apdu.Command) apdu.Response {
	if cmd.P1 != 0x00 {
		return status(swIncorrectP1P2)
	}
	b2 := func(v bool) []byte {
		if v {
			return []byte{1}
		}
		return []byte{0}
	}
	switch ref := cmd.P2; {
	case ref == refPIN || ref == refPUK:
		full, tries, def := maxPINTries, c.st.PINTries, c.st.PINDefault
		if ref == refPUK {
			full, tries, def = maxPUKTries, c.st.PUKTries, c.st.PUKDefault
		}
		return apdu.Response{SW: swOK, Data: tlv.EncodeAll(
			tlv.New(0x01, []byte{0xFF}),
			tlv.New(0x05, b2(def)),
			tlv.New(0x06, []byte{byte(full), byte(tries)}))}
	case ref == refMgmt:
		return apdu.Response{SW: swOK, Data: tlv.EncodeAll(
			tlv.New(0x01, []byte{c.st.MgmtAlg}),
			tlv.New(0x02, []byte{0x00, 0x01}), // policy: default PIN, never touch
			tlv.New(0x05, b2(c.st.MgmtDefault)))}
	case isKeySlot(ref):
		key := c.keyFor(ref)
		if key == nil {
			return status(swRefNotFound)
		}
		pinPolicy := map[byte]byte{0x9A: 2, 0x9C: 3, 0x9D: 2, 0x9E: 1}[ref] // once, always, once, never
		pub, _ := tlv.Unwrap(publicKeyTemplate(key), 0x7F49)
		return apdu.Response{SW: swOK, Data: tlv.EncodeAll(
			tlv.New(0x01, []byte{algP256}),
			tlv.New(0x02, []byte{pinPolicy, 0x01}),
			tlv.New(0x03, []byte{0x01}), // generated on the card
			tlv.New(0x04, pub))}
	}
	return status(swRefNotFound)
}

// factoryReset is Yubico's RESET (INS FB): allowed only once both the PIN
// and the PUK are blocked. The device serial survives.
func (c *Card) factoryReset(cmd apdu.Command) apdu.Response {
	if cmd.P1 != 0x00 || cmd.P2 != 0x00 {
		return status(swIncorrectP1P2)
	}
	if c.st.PINTries != 0 || c.st.PUKTries != 0 {
		return status(swConditions)
	}
	c.st = factoryState(c.st.Serial)
	c.resetSession()
	c.selected = true
	c.dirty = true
	return status(swOK)
}

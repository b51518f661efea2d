package sim

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"

	"github.com/smartcard-service-centre/kiosk/cardio/apdu"
	"github.com/smartcard-service-centre/kiosk/cardio/tlv"
)

// Algorithm identifiers (SP 800-78-4).
const (
	alg3DES   = 0x03
	algAES128 = 0x08
	algAES192 = 0x0A
	algAES256 = 0x0C
	algP256   = 0x11
)

const refMgmt = 0x9B

func mgmtKeyLen(alg byte) int {
	switch alg {
	case alg3DES, algAES192:
		return 24
	case algAES128:
		return 16
	case algAES256:
		return 32
	}
	return 0
}

func isKeySlot(ref byte) bool {
	return ref == 0x9A || ref == 0x9C || ref == 0x9D || ref == 0x9E
}

func (c *Card) mgmtCipher() cipher.Block {
	var b cipher.Block
	var err error
	if c.st.MgmtAlg == alg3DES {
		b, err = des.NewTripleDESCipher(c.st.MgmtKey)
	} else {
		b, err = aes.NewCipher(c.st.MgmtKey)
	}
	if err != nil {
		// The key length is checked whenever the key is set or loaded.
		panic("sim: invalid management key in state: " + err.Error())
	}
	return b
}

// gaChallenge is an outstanding step of management-key authentication.
type gaChallenge struct {
	witness bool   // true: host must return the decrypted witness (80); false: host must encrypt a card challenge (82)
	value   []byte // the plain witness or challenge
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return b
}

func dynamicAuth(objs ...tlv.TLV) apdu.Response {
	return apdu.Response{Data: tlv.Constructed(0x7C, objs...).Encode(), SW: swOK}
}

// generalAuthenticate is GENERAL AUTHENTICATE (INS 87).
func (c *Card) generalAuthenticate(cmd apdu.Command, pinJust bool, pending *gaChallenge) apdu.Response {
	if cmd.P2 != refMgmt && !isKeySlot(cmd.P2) {
		return status(swRefNotFound)
	}
	v, err := tlv.Unwrap(cmd.Data, 0x7C)
	if err != nil {
		return status(swWrongData)
	}
	objs, err := tlv.DecodeAll(v)
	if err != nil {
		return status(swWrongData)
	}
	fields := map[tlv.Tag][]byte{}
	for _, o := range objs {
		if _, dup := fields[o.Tag]; dup {
			return status(swWrongData)
		}
		fields[o.Tag] = o.Value
	}
	if cmd.P2 == refMgmt {
		return c.authenticateMgmt(cmd.P1, fields, pending)
	}
	return c.sign(cmd.P1, cmd.P2, fields, pinJust)
}

func (c *Card) authenticateMgmt(alg byte, f map[tlv.Tag][]byte, pending *gaChallenge) apdu.Response {
	if alg != c.st.MgmtAlg {
		return status(swIncorrectP1P2)
	}
	blk := c.mgmtCipher()
	bs := blk.BlockSize()
	w, has80 := f[0x80]
	ch, has81 := f[0x81]
	r, has82 := f[0x82]
	switch {
	case len(f) == 1 && has80 && len(w) == 0:
		// Step 1 of mutual authentication: hand out an encrypted witness.
		c.mgmAuthed = false
		plain := randomBytes(bs)
		enc := make([]byte, bs)
		blk.Encrypt(enc, plain)
		c.pending = &gaChallenge{witness: true, value: plain}
		return dynamicAuth(tlv.New(0x80, enc))
	case len(f) == 2 && has80 && has81 && len(w) == bs && len(ch) == bs:
		// Step 2: the host proves the key by decrypting the witness, and
		// challenges the card in turn.
		if pending == nil || !pending.witness {
			return status(swConditions)
		}
		if subtle.ConstantTimeCompare(w, pending.value) != 1 {
			c.mgmAuthed = false
			return status(swSecurity)
		}
		c.mgmAuthed = true
		enc := make([]byte, bs)
		blk.Encrypt(enc, ch)
		return dynamicAuth(tlv.New(0x82, enc))
	case len(f) == 1 && has81 && len(ch) == 0:
		// Single-sided authentication: the card challenges the host.
		c.mgmAuthed = false
		plain := randomBytes(bs)
		c.pending = &gaChallenge{value: plain}
		return dynamicAuth(tlv.New(0x81, plain))
	case len(f) == 1 && has82 && len(r) == bs:
		if pending == nil || pending.witness {
			return status(swConditions)
		}
		want := make([]byte, bs)
		blk.Encrypt(want, pending.value)
		if subtle.ConstantTimeCompare(r, want) != 1 {
			c.mgmAuthed = false
			return status(swSecurity)
		}
		c.mgmAuthed = true
		return status(swOK)
	}
	return status(swWrongData)
}

func (c *Card) sign(alg, slot byte, f map[tlv.Tag][]byte, pinJust bool) apdu.Response {
	key := c.keyFor(slot)
	if key == nil {
		return status(swRefNotFound)
	}
	if alg != algP256 {
		return status(swIncorrectP1P2)
	}
	switch slot {
	case 0x9A, 0x9D:
		if !c.pinVerified {
			return status(swSecurity)
		}
	case 0x9C:
		// PIN always: the VERIFY must be the command just before.
		if !c.pinVerified || !pinJust {
			return status(swSecurity)
		}
	case 0x9E:
		// Card authentication: usable without PIN, by design.
	}
	if _, ecdh := f[0x85]; ecdh {
		return status(swNotSupported) // key agreement is not offered
	}
	resp, has82 := f[0x82]
	digest, has81 := f[0x81]
	if len(f) != 2 || !has82 || len(resp) != 0 || !has81 {
		return status(swWrongData)
	}
	if len(digest) != 32 {
		return status(swWrongData)
	}
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest)
	if err != nil {
		return status(swNoDiagnosis)
	}
	return dynamicAuth(tlv.New(0x82, sig))
}

// generateKey is GENERATE ASYMMETRIC KEY PAIR (INS 47), P-256 only.
func (c *Card) generateKey(cmd apdu.Command) apdu.Response {
	if !c.mgmAuthed {
		return status(swSecurity)
	}
	if cmd.P1 != 0x00 || !isKeySlot(cmd.P2) {
		return status(swIncorrectP1P2)
	}
	v, err := tlv.Unwrap(cmd.Data, 0xAC)
	if err != nil {
		return status(swWrongData)
	}
	algField, ok, err := tlv.FindIn(v, 0x80)
	if err != nil || !ok || len(algField) != 1 {
		return status(swWrongData)
	}
	if algField[0] != algP256 {
		return status(swWrongData)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return status(swNoDiagnosis)
	}
	c.st.keys[cmd.P2] = key
	c.dirty = true
	return apdu.Response{Data: publicKeyTemplate(key), SW: swOK}
}

func publicKeyTemplate(key *ecdsa.PrivateKey) []byte {
	point, err := key.PublicKey.Bytes()
	if err != nil {
		// Keys are P-256 by construction.
		panic("sim: public key encoding: " + err.Error())
	}
	return tlv.Constructed(0x7F49, tlv.New(0x86, point)).Encode()
}

// setManagementKey is Yubico's SET MANAGEMENT KEY (INS FF).
func (c *Card) setManagementKey(cmd apdu.Command) apdu.Response {
	if !c.mgmAuthed {
		return status(swSecurity)
	}
	if cmd.P1 != 0xFF || (cmd.P2 != 0xFF && cmd.P2 != 0xFE) {
		return status(swIncorrectP1P2)
	}
	d := cmd.Data
	if len(d) < 3 || d[1] != refMgmt || int(d[2]) != len(d)-3 {
		return status(swWrongData)
	}
	if n := mgmtKeyLen(d[0]); n == 0 || n != len(d)-3 {
		return status(swWrongData)
	}
	c.st.MgmtAlg = d[0]
	c.st.MgmtKey = append([]byte(nil), d[3:]...)
	c.st.MgmtDefault = false
	c.dirty = true
	return status(swOK)
}

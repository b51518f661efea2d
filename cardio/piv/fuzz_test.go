package piv

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/cardio/tlv"
)

// FuzzCardData feeds every parser of card answers (what a hostile or broken
// card controls) arbitrary bytes: none may panic, and a CHUID that parses
// must survive a round trip through Marshal.
func FuzzCardData(f *testing.F) {
	ch, err := NewCHUID("4082A001132F2817", time.Date(2028, 10, 19, 0, 0, 0, 0, time.UTC))
	if err != nil {
		f.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	point, _ := key.PublicKey.Bytes()
	for _, seed := range [][]byte{
		ch.Marshal(),
		tlv.Constructed(0x61, tlv.New(0x4F, []byte{0, 0, 0x10, 0, 1, 0}), tlv.Constructed(0x79, tlv.New(0x4F, AID[:5])),
			tlv.Constructed(0xAC, tlv.New(0x80, []byte{0x11}), tlv.New(0x06, nil))).Encode(),
		tlv.Constructed(0x7F49, tlv.New(0x86, point)).Encode(),
		tlv.Constructed(0x7C, tlv.New(0x82, []byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01})).Encode(),
		EncodeCertificate([]byte{0x30, 0x03, 0x02, 0x01, 0x00}),
		tlv.EncodeAll(tlv.New(0x70, []byte{0x1F, 0x8B, 0x08}), tlv.New(0x71, []byte{0x01})),
		{},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		_, _ = parseAPT(in)
		_, _ = parsePublicKey(in)
		_, _ = DecodeCertificate(in)
		for _, tag := range []tlv.Tag{0x80, 0x81, 0x82} {
			_, _ = dynamicAuthField(in, tag)
		}
		c, err := ParseCHUID(in)
		if err != nil {
			return
		}
		_, _ = c.Serial()
		back, err := ParseCHUID(c.Marshal())
		if err != nil {
			t.Fatalf("re-parse of a marshalled CHUID: %v", err)
		}
		if back.GUID != c.GUID || !back.Expiry.Equal(c.Expiry) || !bytes.Equal(back.FASCN, c.FASCN) {
			t.Fatalf("round trip changed the CHUID: %+v -> %+v", c, back)
		}
	})
}

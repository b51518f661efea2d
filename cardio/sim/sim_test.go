package sim_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/cardio/apdu"
	"github.com/smartcard-service-centre/kiosk/cardio/piv"
	"github.com/smartcard-service-centre/kiosk/cardio/sim"
)

var ctx = context.Background()

// recorder is an in-process transport that also logs the raw traffic.
type recorder struct {
	card *sim.Card
	sent [][]byte
	got  [][]byte
}

func (r *recorder) Transmit(_ context.Context, cmd []byte) ([]byte, error) {
	r.sent = append(r.sent, append([]byte(nil), cmd...))
	resp := r.card.Transmit(cmd)
	r.got = append(r.got, resp)
	return resp, nil
}

func newClient(t *testing.T, card *sim.Card) (*piv.Client, *recorder) {
	t.Helper()
	rec := &recorder{card: card}
	c := piv.New(rec)
	if _, err := c.Select(ctx); err != nil {
		t.Fatalf("select: %v", err)
	}
	return c, rec
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// raw sends one hex APDU and returns the response split.
func raw(t *testing.T, card *sim.Card, s string) apdu.Response {
	t.Helper()
	r, err := apdu.ParseResponse(card.Transmit(unhex(t, s)))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func wantSW(t *testing.T, r apdu.Response, sw apdu.SW) {
	t.Helper()
	if r.SW != sw {
		t.Fatalf("SW %s, want %s", r.SW, sw)
	}
}

func pinTries(t *testing.T, c *piv.Client) piv.PINStatus {
	t.Helper()
	st, err := c.PINStatus(ctx)
	if err != nil {
		t.Fatalf("pin status: %v", err)
	}
	return st
}

func TestSelect(t *testing.T) {
	tests := []struct {
		name string
		cmd  string
		sw   apdu.SW
	}{
		{"full AID", "00A40400 0B A0000003080000100001 00 00", 0x9000},
		{"truncated RID+PIX prefix", "00A4040005A000000308 00", 0x9000},
		{"truncated without version", "00A4040009A00000030800001000 00", 0x9000},
		{"unknown AID", "00A4040005A000000527 00", 0x6A82},
		{"too short prefix", "00A4040004A0000003 00", 0x6A82},
		{"longer than AID", "00A404000CA000000308000010000100FF 00", 0x6A82},
		{"select by file id", "00A40000023F00", 0x6A86},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			card := sim.New()
			r := raw(t, card, tt.cmd)
			wantSW(t, r, tt.sw)
			if tt.sw == 0x9000 {
				if !bytes.HasPrefix(r.Data, unhex(t, "61")) || !bytes.Contains(r.Data, unhex(t, "4F06000010000100 7907 4F05A000000308")) {
					t.Fatalf("APT = %X", r.Data)
				}
				wantSW(t, raw(t, card, "00FD000000"), 0x9000)
			} else {
				// Nothing selected: no PIV command is known.
				wantSW(t, raw(t, card, "00FD000000"), 0x6D00)
			}
		})
	}

	c, _ := newClient(t, sim.New())
	apt, err := c.Select(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(apt.AID, unhex(t, "000010000100")) || !bytes.Equal(apt.AuthorityAID, unhex(t, "A000000308")) {
		t.Fatalf("APT %+v", apt)
	}
	if !bytes.Contains(apt.Algorithms, []byte{0x03, 0x08, 0x0A, 0x0C, 0x11}) {
		t.Fatalf("algorithms %X", apt.Algorithms)
	}
}

func TestBeforeSelect(t *testing.T) {
	card := sim.New()
	for _, cmd := range []string{"00200080", "00CB3FFF055C035FC10200", "0087039B047C028000", "00F8000000"} {
		wantSW(t, raw(t, card, cmd), 0x6D00)
	}
	wantSW(t, raw(t, card, "00C0000000"), 0x6985) // nothing to get
	// A failed SELECT keeps the current selection, as on JavaCard.
	raw(t, card, "00A4040005A000000308")
	wantSW(t, raw(t, card, "00A4040005A000000527"), 0x6A82)
	wantSW(t, raw(t, card, "00FD000000"), 0x9000)
}

func TestMalformedAndClass(t *testing.T) {
	card := sim.New()
	raw(t, card, "00A4040005A000000308")
	wantSW(t, raw(t, card, "00A4"), 0x6700)
	wantSW(t, raw(t, card, "00200080 05 3132"), 0x6700)
	wantSW(t, raw(t, card, "80FD000000"), 0x6E00)
	wantSW(t, raw(t, card, "0077000000"), 0x6D00)
}

func TestYubicoExtensions(t *testing.T) {
	c, _ := newClient(t, sim.New())
	v, err := c.Version(ctx)
	if err != nil || v != (piv.Version{Major: 5, Minor: 4, Patch: 3}) {
		t.Fatalf("version %v, %v", v, err)
	}
	s1, err := c.YubicoSerial(ctx)
	if err != nil || s1 == 0 {
		t.Fatalf("serial %d, %v", s1, err)
	}
	other, _ := newClient(t, sim.New())
	if s2, _ := other.YubicoSerial(ctx); s2 == s1 {
		t.Fatalf("two cards share serial %d", s1)
	}
}

func TestVerifyPIN(t *testing.T) {
	c, _ := newClient(t, sim.New())
	if st := pinTries(t, c); st.Retries != 3 || st.Verified || st.Blocked {
		t.Fatalf("fresh card: %+v", st)
	}
	err := c.VerifyPIN(ctx, "654321")
	var ae *apdu.AuthError
	if !errors.As(err, &ae) || ae.Retries != 2 {
		t.Fatalf("wrong pin: %v", err)
	}
	if !strings.HasPrefix(err.Error(), "verify pin: ") {
		t.Errorf("error lacks context: %q", err)
	}
	if st := pinTries(t, c); st.Retries != 2 {
		t.Fatalf("after one wrong try: %+v", st)
	}
	if err := c.VerifyPIN(ctx, "123456"); err != nil {
		t.Fatalf("right pin: %v", err)
	}
	if st := pinTries(t, c); !st.Verified {
		t.Fatalf("after right pin: %+v", st)
	}
	// A wrong try drops the security status and starts counting again from 3.
	if err := c.VerifyPIN(ctx, "000000"); !errors.As(err, &ae) || ae.Retries != 2 {
		t.Fatalf("wrong after right: %v", err)
	}
	if st := pinTries(t, c); st.Verified {
		t.Fatal("still verified after a wrong pin")
	}
	if err := c.ForgetPIN(ctx); err != nil {
		t.Fatal(err)
	}
	c.VerifyPIN(ctx, "123456")
	if err := c.ForgetPIN(ctx); err != nil {
		t.Fatal(err)
	}
	if st := pinTries(t, c); st.Verified || st.Retries != 3 {
		t.Fatalf("after VERIFY P1=FF: %+v", st)
	}
}

func TestPINBlocks(t *testing.T) {
	c, _ := newClient(t, sim.New())
	for want := 2; want >= 0; want-- {
		err := c.VerifyPIN(ctx, "99999999")
		var ae *apdu.AuthError
		if !errors.As(err, &ae) || ae.Retries != want {
			t.Fatalf("try with %d left: %v", want, err)
		}
	}
	if err := c.VerifyPIN(ctx, "123456"); !errors.Is(err, apdu.ErrBlocked) {
		t.Fatalf("right pin on blocked card: %v", err)
	}
	if st := pinTries(t, c); !st.Blocked {
		t.Fatalf("status %+v", st)
	}
	if err := c.ChangePIN(ctx, "123456", "1111"); !errors.Is(err, apdu.ErrBlocked) {
		t.Fatalf("change on blocked pin: %v", err)
	}
}

func TestPINValidationClientSide(t *testing.T) {
	card := sim.New()
	c, rec := newClient(t, card)
	for _, pin := range []string{"", "123", "123456789", "12345\u00e9", "1234\x00", "1234\n"} {
		n := len(rec.sent)
		if err := c.VerifyPIN(ctx, pin); !errors.Is(err, piv.ErrInvalidPIN) {
			t.Errorf("pin %q: err = %v", pin, err)
		}
		if err := c.Unblock(ctx, "12345678", pin); !errors.Is(err, piv.ErrInvalidPIN) {
			t.Errorf("unblock to %q: err = %v", pin, err)
		}
		if len(rec.sent) != n {
			t.Errorf("pin %q reached the card", pin)
		}
	}
	if st := pinTries(t, c); st.Retries != 3 {
		t.Fatalf("client-side rejects cost tries: %+v", st)
	}
	// 4 characters is our minimum, and the card agrees.
	if err := c.ChangePIN(ctx, "123456", "Ab1!"); err != nil {
		t.Fatal(err)
	}
	if err := c.VerifyPIN(ctx, "Ab1!"); err != nil {
		t.Fatal(err)
	}
}

func TestCardRejectsBadNewPIN(t *testing.T) {
	card := sim.New()
	raw(t, card, "00A4040005A000000308")
	old := "313233343536FFFF"
	for _, bad := range []string{
		"313233FFFFFFFFFF", // 3 characters
		"FFFFFFFFFFFFFFFF", // empty
		"31323334FF35FFFF", // padding in the middle
		"3132331F34FFFFFF", // a control character
		"31323334C3A9FFFF", // not ASCII
	} {
		wantSW(t, raw(t, card, "0024008010"+old+bad), 0x6A80)
		wantSW(t, raw(t, card, "002C008010"+"3132333435363738"+bad), 0x6A80)
	}
	wantSW(t, raw(t, card, "0024008008"+old), 0x6A80) // no new value
	wantSW(t, raw(t, card, "0020008006313233343536"), 0x6A80)
	// None of that cost a try.
	wantSW(t, raw(t, card, "00200080"), 0x63C3)
	c := piv.New(sim.Transport{Card: card})
	if err := c.ChangePUK(ctx, "12345678", "87654321"); err != nil {
		t.Fatal(err)
	}
	// Unknown key references.
	wantSW(t, raw(t, card, "0020008108"+old), 0x6A88)
	wantSW(t, raw(t, card, "0024009B10"+old+old), 0x6A88)
	wantSW(t, raw(t, card, "002C008110"+old+old), 0x6A88)
}

func TestChangePIN(t *testing.T) {
	c, _ := newClient(t, sim.New())
	var ae *apdu.AuthError
	if err := c.ChangePIN(ctx, "000000", "24682468"); !errors.As(err, &ae) || ae.Retries != 2 {
		t.Fatalf("wrong old pin: %v", err)
	}
	if !strings.HasPrefix(c.ChangePIN(ctx, "000000", "24682468").Error(), "change pin: ") {
		t.Error("no context on change pin error")
	}
	if err := c.ChangePIN(ctx, "123456", "24682468"); err != nil {
		t.Fatalf("change pin: %v", err)
	}
	if st := pinTries(t, c); st.Retries != 3 {
		t.Fatalf("counter not restored: %+v", st)
	}
	if err := c.VerifyPIN(ctx, "123456"); !errors.As(err, &ae) || ae.Retries != 2 {
		t.Fatalf("old pin: %v, want a wrong PIN with 2 tries left", err)
	}
	if err := c.VerifyPIN(ctx, "24682468"); err != nil {
		t.Fatalf("new pin: %v", err)
	}
}

func TestUnblockAndPUK(t *testing.T) {
	c, _ := newClient(t, sim.New())
	for range 3 {
		c.VerifyPIN(ctx, "99999999")
	}
	var ae *apdu.AuthError
	if err := c.Unblock(ctx, "00000000", "2468"); !errors.As(err, &ae) || ae.Retries != 2 {
		t.Fatalf("wrong puk: %v", err)
	}
	if err := c.Unblock(ctx, "12345678", "2468"); err != nil {
		t.Fatalf("unblock: %v", err)
	}
	st := pinTries(t, c)
	if st.Verified || st.Blocked || st.Retries != 3 {
		t.Fatalf("after unblock: %+v (the new PIN must be verified explicitly)", st)
	}
	if err := c.VerifyPIN(ctx, "2468"); err != nil {
		t.Fatalf("verify new pin: %v", err)
	}
	// The PUK counter was restored by the successful reset; and the PUK is
	// checked again on every attempt, not remembered.
	for want := 2; want >= 0; want-- {
		if err := c.Unblock(ctx, "87654321", "1357"); !errors.As(err, &ae) || ae.Retries != want {
			t.Fatalf("wrong puk with %d left: %v", want, err)
		}
	}
	if err := c.Unblock(ctx, "12345678", "1357"); !errors.Is(err, apdu.ErrBlocked) {
		t.Fatalf("right puk after blocking: %v", err)
	}
	if err := c.ChangePUK(ctx, "12345678", "11112222"); !errors.Is(err, apdu.ErrBlocked) {
		t.Fatalf("change blocked puk: %v", err)
	}
	// The PIN is unaffected by PUK blocking.
	if err := c.VerifyPIN(ctx, "2468"); err != nil {
		t.Fatalf("pin after puk blocked: %v", err)
	}
}

func TestChangePUK(t *testing.T) {
	c, _ := newClient(t, sim.New())
	var ae *apdu.AuthError
	if err := c.ChangePUK(ctx, "11111111", "ABCDEFGH"); !errors.As(err, &ae) || ae.Retries != 2 {
		t.Fatalf("wrong old puk: %v", err)
	}
	if err := c.ChangePUK(ctx, "12345678", "ABCDEFGH"); err != nil {
		t.Fatal(err)
	}
	if err := c.Unblock(ctx, "12345678", "4321"); !errors.As(err, &ae) {
		t.Fatalf("old puk still works: %v", err)
	}
	if err := c.Unblock(ctx, "ABCDEFGH", "4321"); err != nil {
		t.Fatal(err)
	}
}

func authedClient(t *testing.T, card *sim.Card) (*piv.Client, *recorder) {
	t.Helper()
	c, rec := newClient(t, card)
	if err := c.Authenticate(ctx, piv.DefaultManagementKey); err != nil {
		t.Fatalf("authenticate: %v", err)
	}
	return c, rec
}

func TestManagementKeyRequired(t *testing.T) {
	c, _ := newClient(t, sim.New())
	if _, err := c.GenerateKey(ctx, piv.SlotAuthentication); !errors.Is(err, apdu.ErrSecurityStatus) {
		t.Fatalf("generate without auth: %v", err)
	}
	if err := c.PutData(ctx, piv.ObjectCHUID, []byte{0x34, 0x00}); !errors.Is(err, apdu.ErrSecurityStatus) {
		t.Fatalf("put data without auth: %v", err)
	}
	aes128 := piv.ManagementKey{Alg: piv.AlgAES128, Key: bytes.Repeat([]byte{7}, 16)}
	if err := c.SetManagementKey(ctx, aes128); !errors.Is(err, apdu.ErrSecurityStatus) {
		t.Fatalf("set key without auth: %v", err)
	}
	// The PIN does not stand in for the management key.
	c.VerifyPIN(ctx, "123456")
	if _, err := c.GenerateKey(ctx, piv.SlotAuthentication); !errors.Is(err, apdu.ErrSecurityStatus) {
		t.Fatalf("generate with only the pin: %v", err)
	}
}

func TestManagementKeyAuthFailures(t *testing.T) {
	card := sim.New()
	c, _ := newClient(t, card)
	wrong := piv.ManagementKey{Alg: piv.Alg3DES, Key: bytes.Repeat([]byte{9}, 24)}
	if err := c.Authenticate(ctx, wrong); !errors.Is(err, apdu.ErrSecurityStatus) {
		t.Fatalf("wrong key: %v", err)
	}
	aes := piv.ManagementKey{Alg: piv.AlgAES128, Key: bytes.Repeat([]byte{1}, 16)}
	if err := c.Authenticate(ctx, aes); !errors.Is(err, apdu.ErrIncorrectP1P2) {
		t.Fatalf("wrong algorithm: %v", err)
	}
	if _, err := c.GenerateKey(ctx, piv.SlotAuthentication); !errors.Is(err, apdu.ErrSecurityStatus) {
		t.Fatalf("failed auth still authorises: %v", err)
	}
	if err := c.Authenticate(ctx, piv.ManagementKey{Alg: piv.AlgAES256, Key: []byte{1}}); !errors.Is(err, piv.ErrInvalidManagementKey) {
		t.Fatalf("short key: %v", err)
	}

	// Step 2 without step 1, or with another command in between, is refused.
	raw(t, card, "00A4040005A000000308")
	step2 := "008703 9B 16 7C14 8008 0000000000000000 8108 0000000000000000"
	wantSW(t, raw(t, card, step2), 0x6985)
	wantSW(t, raw(t, card, "0087039B047C028000 00"), 0x9000)
	raw(t, card, "00FD000000")
	wantSW(t, raw(t, card, step2), 0x6985)
	// A wrong witness is a security failure.
	wantSW(t, raw(t, card, "0087039B047C028000 00"), 0x9000)
	wantSW(t, raw(t, card, step2), 0x6982)
	wantSW(t, raw(t, card, "0087039B027C00"), 0x6A80)
	wantSW(t, raw(t, card, "0087039B037C0100"), 0x6A80)
}

// TestSingleSidedChallenge drives the card-challenge variant (81 then 82).
func TestSingleSidedChallenge(t *testing.T) {
	card := sim.New()
	raw(t, card, "00A4040005A000000308")
	c := piv.New(sim.Transport{Card: card})
	key := piv.ManagementKey{Alg: piv.AlgAES192, Key: bytes.Repeat([]byte{0x42}, 24)}
	if err := c.Authenticate(ctx, piv.DefaultManagementKey); err != nil {
		t.Fatal(err)
	}
	if err := c.SetManagementKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	card.Reset()
	raw(t, card, "00A4040005A000000308")
	r := raw(t, card, "00870A9B047C028100 00")
	wantSW(t, r, 0x9000)
	if len(r.Data) != 20 || !bytes.HasPrefix(r.Data, unhex(t, "7C12 8110")) {
		t.Fatalf("challenge %X", r.Data)
	}
	blk, _ := aes.NewCipher(key.Key)
	resp := make([]byte, 16)
	blk.Encrypt(resp, r.Data[4:])
	bad := append(unhex(t, "00870A9B 14 7C12 8210"), make([]byte, 16)...)
	wantSW(t, mustParse(t, card.Transmit(bad)), 0x6982) // wrong answer
	late := append(unhex(t, "00870A9B 14 7C12 8210"), resp...)
	wantSW(t, mustParse(t, card.Transmit(late)), 0x6985) // the challenge was spent
	r = raw(t, card, "00870A9B047C028100 00")
	blk.Encrypt(resp, r.Data[4:])
	good := append(unhex(t, "00870A9B 14 7C12 8210"), resp...)
	wantSW(t, mustParse(t, card.Transmit(good)), 0x9000)
	// Now authenticated: PUT DATA is allowed.
	wantSW(t, raw(t, card, "00DB3FFF 0A 5C035FC109 5303 010203"), 0x9000)
}

func mustParse(t *testing.T, b []byte) apdu.Response {
	t.Helper()
	r, err := apdu.ParseResponse(b)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSetManagementKeyAllAlgorithms(t *testing.T) {
	card := sim.New()
	c, _ := authedClient(t, card)
	prev := piv.DefaultManagementKey
	for _, k := range []piv.ManagementKey{
		{Alg: piv.AlgAES128, Key: bytes.Repeat([]byte{0x11}, 16)},
		{Alg: piv.AlgAES192, Key: bytes.Repeat([]byte{0x22}, 24)},
		{Alg: piv.AlgAES256, Key: bytes.Repeat([]byte{0x33}, 32)},
		{Alg: piv.Alg3DES, Key: unhex(t, "0102030405060708 1112131415161718 2122232425262728")},
	} {
		if err := c.Authenticate(ctx, prev); err != nil {
			t.Fatalf("authenticate with %s: %v", prev.Alg, err)
		}
		if err := c.SetManagementKey(ctx, k); err != nil {
			t.Fatalf("set %s: %v", k.Alg, err)
		}
		card.Reset()
		if _, err := c.Select(ctx); err != nil {
			t.Fatal(err)
		}
		if err := c.Authenticate(ctx, prev); err == nil {
			t.Fatalf("old %s key still works", prev.Alg)
		}
		if err := c.Authenticate(ctx, k); err != nil {
			t.Fatalf("new %s key: %v", k.Alg, err)
		}
		if _, err := c.GenerateKey(ctx, piv.SlotCardAuthentication); err != nil {
			t.Fatalf("generate after %s auth: %v", k.Alg, err)
		}
		prev = k
	}
	// Malformed SET MANAGEMENT KEY bodies.
	card.Reset()
	c.Select(ctx)
	c.Authenticate(ctx, prev)
	raw(t, card, "00A4040005A000000308") // re-select drops the authentication
	wantSW(t, raw(t, card, "00FFFFFF 13 089B10"+strings.Repeat("00", 16)), 0x6982)
	c.Authenticate(ctx, prev)
	for _, body := range []string{
		"14 089B10" + strings.Repeat("00", 17), // key longer than its length byte says
		"13 089C10" + strings.Repeat("00", 16), // not 9B
		"13 0A9B10" + strings.Repeat("00", 16), // AES-192 with 16 bytes
		"13 119B10" + strings.Repeat("00", 16), // not a symmetric algorithm
	} {
		r := raw(t, card, "00FFFFFF"+body)
		if r.SW != 0x6A80 && r.SW != 0x6700 {
			t.Errorf("body %s: SW %s", body, r.SW)
		}
	}
}

func TestGenerateAndSign(t *testing.T) {
	card := sim.New()
	c, _ := authedClient(t, card)
	pub9a, err := c.GenerateKey(ctx, piv.SlotAuthentication)
	if err != nil {
		t.Fatal(err)
	}
	pub9e, err := c.GenerateKey(ctx, piv.SlotCardAuthentication)
	if err != nil {
		t.Fatal(err)
	}
	pub9c, err := c.GenerateKey(ctx, piv.SlotSignature)
	if err != nil {
		t.Fatal(err)
	}
	pub9d, err := c.GenerateKey(ctx, piv.SlotKeyManagement)
	if err != nil {
		t.Fatal(err)
	}
	if pub9a.Equal(pub9e) {
		t.Fatal("two slots got the same key")
	}
	digest := sha256.Sum256([]byte("challenge"))

	// 9E: no PIN needed.
	sig, err := c.Sign(ctx, piv.SlotCardAuthentication, digest[:])
	if err != nil || !ecdsa.VerifyASN1(pub9e, digest[:], sig) {
		t.Fatalf("9E sign: %v", err)
	}
	// 9A and 9D: PIN needed.
	for _, s := range []piv.Slot{piv.SlotAuthentication, piv.SlotKeyManagement, piv.SlotSignature} {
		if _, err := c.Sign(ctx, s, digest[:]); !errors.Is(err, apdu.ErrSecurityStatus) {
			t.Fatalf("%s without pin: %v", s, err)
		}
	}
	if err := c.VerifyPIN(ctx, "123456"); err != nil {
		t.Fatal(err)
	}
	for s, pub := range map[piv.Slot]*ecdsa.PublicKey{piv.SlotAuthentication: pub9a, piv.SlotKeyManagement: pub9d} {
		sig, err := c.Sign(ctx, s, digest[:])
		if err != nil || !ecdsa.VerifyASN1(pub, digest[:], sig) {
			t.Fatalf("%s sign: %v", s, err)
		}
		if _, err := c.Sign(ctx, s, digest[:]); err != nil {
			t.Fatalf("%s second sign: %v (PIN once per session)", s, err)
		}
	}
	// 9C: PIN always, i.e. VERIFY immediately before each signature.
	if _, err := c.Sign(ctx, piv.SlotSignature, digest[:]); !errors.Is(err, apdu.ErrSecurityStatus) {
		t.Fatalf("9C without fresh verify: %v", err)
	}
	c.VerifyPIN(ctx, "123456")
	sig, err = c.Sign(ctx, piv.SlotSignature, digest[:])
	if err != nil || !ecdsa.VerifyASN1(pub9c, digest[:], sig) {
		t.Fatalf("9C after verify: %v", err)
	}
	if _, err := c.Sign(ctx, piv.SlotSignature, digest[:]); !errors.Is(err, apdu.ErrSecurityStatus) {
		t.Fatalf("9C reused verification: %v", err)
	}
	c.VerifyPIN(ctx, "123456")
	c.PINStatus(ctx) // any command in between spends the PIN-always state
	if _, err := c.Sign(ctx, piv.SlotSignature, digest[:]); !errors.Is(err, apdu.ErrSecurityStatus) {
		t.Fatalf("9C with a command in between: %v", err)
	}

	// Digest sizes: longer digests are truncated, shorter left-padded,
	// exactly as ECDSA itself treats them.
	d384 := sha256.Sum256([]byte("x"))
	long := append(d384[:], 1, 2, 3)
	sig, err = c.Sign(ctx, piv.SlotCardAuthentication, long)
	if err != nil || !ecdsa.VerifyASN1(pub9e, long, sig) {
		t.Fatalf("long digest: %v", err)
	}
	short := d384[:20]
	sig, err = c.Sign(ctx, piv.SlotCardAuthentication, short)
	if err != nil || !ecdsa.VerifyASN1(pub9e, short, sig) {
		t.Fatalf("short digest: %v", err)
	}
}

func TestSignErrors(t *testing.T) {
	card := sim.New()
	c, _ := authedClient(t, card)
	digest := make([]byte, 32)
	if _, err := c.Sign(ctx, piv.SlotCardAuthentication, digest); !errors.Is(err, apdu.ErrNotFound) {
		t.Fatalf("missing key: %v", err)
	}
	if _, err := c.GenerateKey(ctx, piv.SlotCardAuthentication); err != nil {
		t.Fatal(err)
	}
	d := strings.Repeat("00", 32)
	wantSW(t, raw(t, card, "0087079E 26 7C24 8200 8120"+d+"00"), 0x6A86)     // RSA-2048 alg id on a P-256 key
	wantSW(t, raw(t, card, "0087119E 25 7C23 8200 811F"+d[2:]+"00"), 0x6A80) // 31-byte input
	wantSW(t, raw(t, card, "0087119E 24 7C22 8120"+d+"00"), 0x6A80)          // no 82 request
	wantSW(t, raw(t, card, "0087119E 47 7C45 8200 8541 04"+strings.Repeat("00", 64)+"00"), 0x6A81)
	wantSW(t, raw(t, card, "00871182 26 7C24 8200 8120"+d+"00"), 0x6A88) // retired slot not offered
	// Generate: wrong slot and algorithm.
	wantSW(t, raw(t, card, "0047009B 05 AC03800111"), 0x6A86)
	wantSW(t, raw(t, card, "0047009A 05 AC03800107"), 0x6A80)
	wantSW(t, raw(t, card, "0047009A 05 AD03800111"), 0x6A80)
}

func selfSignedCert(t *testing.T, c *piv.Client, slot piv.Slot, pub *ecdsa.PublicKey, cn string) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{strings.Repeat("Smartcard Service Centre ", 8)}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(2, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, c.Signer(ctx, slot, pub))
	if err != nil {
		t.Fatalf("create certificate with the card key: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestCertificatesAndChaining(t *testing.T) {
	card := sim.New()
	c, rec := authedClient(t, card)
	pub, err := c.GenerateKey(ctx, piv.SlotCardAuthentication)
	if err != nil {
		t.Fatal(err)
	}
	cert := selfSignedCert(t, c, piv.SlotCardAuthentication, pub, "card auth")
	if len(cert.Raw) < 300 {
		t.Fatalf("certificate of %d bytes does not exercise chaining", len(cert.Raw))
	}
	if _, err := c.Certificate(ctx, piv.SlotCardAuthentication); !errors.Is(err, apdu.ErrNotFound) {
		t.Fatalf("absent certificate: %v", err)
	}
	rec.sent, rec.got = nil, nil
	if err := c.SetCertificate(ctx, piv.SlotCardAuthentication, cert); err != nil {
		t.Fatal(err)
	}
	if len(rec.sent) < 2 || rec.sent[0][0] != 0x10 || rec.sent[len(rec.sent)-1][0] != 0x00 {
		t.Fatalf("PUT DATA was not chained: %d commands", len(rec.sent))
	}
	rec.sent, rec.got = nil, nil
	got, err := c.Certificate(ctx, piv.SlotCardAuthentication)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(cert) {
		t.Fatal("certificate changed on the card")
	}
	if first := rec.got[0]; first[len(first)-2] != 0x61 || rec.sent[1][1] != 0xC0 {
		t.Fatalf("GET DATA did not use GET RESPONSE: %X", first[len(first)-2:])
	}
	// Reading needs no PIN, and the object is the standard encoding.
	card.Reset()
	c2, _ := newClient(t, card)
	b, err := c2.GetData(ctx, piv.ObjectCardAuthCert)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, piv.EncodeCertificate(cert.Raw)) {
		t.Fatal("stored object differs from the standard encoding")
	}
	// An empty PUT DATA deletes the object.
	c2.Authenticate(ctx, piv.DefaultManagementKey)
	if err := c2.PutData(ctx, piv.ObjectCardAuthCert, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.GetData(ctx, piv.ObjectCardAuthCert); !errors.Is(err, apdu.ErrNotFound) {
		t.Fatalf("deleted object: %v", err)
	}
	// Objects over the size limit are refused.
	if err := c2.PutData(ctx, piv.ObjectPIVAuthCert, make([]byte, 4000)); !errors.Is(err, apdu.ErrNotEnoughMemory) {
		t.Fatalf("oversized object: %v", err)
	}
}

func TestChainingRules(t *testing.T) {
	card := sim.New()
	raw(t, card, "00A4040005A000000308")
	wantSW(t, raw(t, card, "10DB3FFF 02 5C03"), 0x9000)
	// A different command ends a chain with an error.
	wantSW(t, raw(t, card, "00CB3FFF 05 5C035FC102"), 0x6883)
	// Response chaining honours a short Le, then GET RESPONSE with any size.
	r := raw(t, card, "00A4040005A000000308 10")
	if r.SW.SW1() != 0x61 || len(r.Data) != 16 {
		t.Fatalf("got %d bytes for Le=16", len(r.Data))
	}
	r2 := raw(t, card, "00C0000000")
	wantSW(t, r2, 0x9000)
	if r2.Data[len(r2.Data)-1] != 0x00 || len(r.Data)+len(r2.Data) < 30 {
		t.Fatalf("rest of APT %X", r2.Data)
	}
	wantSW(t, raw(t, card, "00C0000000"), 0x6985)
}

func TestDataObjects(t *testing.T) {
	card := sim.New()
	c, _ := authedClient(t, card)
	if _, err := c.GetData(ctx, piv.ObjectCHUID); !errors.Is(err, apdu.ErrNotFound) {
		t.Fatalf("fresh card CHUID: %v", err)
	}
	ch, err := piv.NewCHUID("4082A001132F2817", time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetCHUID(ctx, ch); err != nil {
		t.Fatal(err)
	}
	card.Reset()
	c, _ = newClient(t, card)
	serial, err := c.Serial(ctx)
	if err != nil || serial != "4082A001132F2817" {
		t.Fatalf("serial %q, %v", serial, err)
	}
	// Printed information needs the PIN to read.
	c.Authenticate(ctx, piv.DefaultManagementKey)
	if err := c.PutData(ctx, piv.ObjectPrintedInfo, []byte{0x01, 0x01, 'X'}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetData(ctx, piv.ObjectPrintedInfo); !errors.Is(err, apdu.ErrSecurityStatus) {
		t.Fatalf("printed info without pin: %v", err)
	}
	c.VerifyPIN(ctx, "123456")
	if b, err := c.GetData(ctx, piv.ObjectPrintedInfo); err != nil || !bytes.Equal(b, []byte{1, 1, 'X'}) {
		t.Fatalf("printed info: %X %v", b, err)
	}
	disc, err := c.GetData(ctx, piv.ObjectDiscovery)
	if err != nil || !bytes.Contains(disc, piv.AID) {
		t.Fatalf("discovery %X %v", disc, err)
	}
	// Non-PIV tags and malformed requests.
	if err := c.PutData(ctx, 0x5FFF10, []byte{1}); !errors.Is(err, apdu.ErrWrongData) {
		t.Fatalf("non-PIV object: %v", err)
	}
	wantSW(t, raw(t, card, "00CB3FFE 05 5C035FC102"), 0x6A86)
	wantSW(t, raw(t, card, "00CB3FFF 05 5D035FC102"), 0x6A80)
	wantSW(t, raw(t, card, "00CB3FFF 06 5C035FC10200"), 0x6A80)
}

func TestResetClearsSecurityStatus(t *testing.T) {
	card := sim.New()
	c, _ := authedClient(t, card)
	if _, err := c.GenerateKey(ctx, piv.SlotAuthentication); err != nil {
		t.Fatal(err)
	}
	c.VerifyPIN(ctx, "123456")
	digest := make([]byte, 32)
	if _, err := c.Sign(ctx, piv.SlotAuthentication, digest); err != nil {
		t.Fatal(err)
	}
	card.Reset()
	if _, err := c.Sign(ctx, piv.SlotAuthentication, digest); !errors.Is(err, apdu.ErrInsNotSupported) {
		t.Fatalf("after reset, before select: %v", err)
	}
	c.Select(ctx)
	if _, err := c.Sign(ctx, piv.SlotAuthentication, digest); !errors.Is(err, apdu.ErrSecurityStatus) {
		t.Fatalf("pin survived reset: %v", err)
	}
	if _, err := c.GenerateKey(ctx, piv.SlotAuthentication); !errors.Is(err, apdu.ErrSecurityStatus) {
		t.Fatalf("management key survived reset: %v", err)
	}
	if st := pinTries(t, c); st.Verified || st.Retries != 3 {
		t.Fatalf("status after reset %+v", st)
	}
}

func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "card.json")
	card := sim.New()
	c, _ := authedClient(t, card)
	pub, err := c.GenerateKey(ctx, piv.SlotCardAuthentication)
	if err != nil {
		t.Fatal(err)
	}
	newKey := piv.ManagementKey{Alg: piv.AlgAES256, Key: bytes.Repeat([]byte{0xA5}, 32)}
	if err := c.SetManagementKey(ctx, newKey); err != nil {
		t.Fatal(err)
	}
	ch, _ := piv.NewCHUID("00000000000000AB", time.Date(2031, 5, 6, 0, 0, 0, 0, time.UTC))
	if err := c.SetCHUID(ctx, ch); err != nil {
		t.Fatal(err)
	}
	c.ChangePIN(ctx, "123456", "9753")
	c.VerifyPIN(ctx, "0000") // one try used
	c.Unblock(ctx, "00000000", "1111")
	c.VerifyPIN(ctx, "9753")
	serial, _ := c.YubicoSerial(ctx)
	if err := card.Save(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v", fi.Mode(), err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".*tmp")); len(m) != 0 {
		t.Fatalf("temporary files left: %v", m)
	}

	loaded, err := sim.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	c2, _ := newClient(t, loaded)
	if st := pinTries(t, c2); st.Verified || st.Retries != 3 {
		t.Fatalf("loaded card session %+v", st) // fresh session, counter restored by the right verify
	}
	var ae *apdu.AuthError
	if err := c2.Unblock(ctx, "00000000", "1111"); !errors.As(err, &ae) || ae.Retries != 1 {
		t.Fatalf("puk counter not persisted: %v", err) // one wrong PUK before saving
	}
	if err := c2.VerifyPIN(ctx, "9753"); err != nil {
		t.Fatalf("pin not persisted: %v", err)
	}
	if err := c2.Authenticate(ctx, newKey); err != nil {
		t.Fatalf("management key not persisted: %v", err)
	}
	if s, err := c2.Serial(ctx); err != nil || s != "00000000000000AB" {
		t.Fatalf("CHUID not persisted: %q %v", s, err)
	}
	if s2, _ := c2.YubicoSerial(ctx); s2 != serial {
		t.Fatalf("device serial %d, want %d", s2, serial)
	}
	digest := sha256.Sum256([]byte("persisted key"))
	sig, err := c2.Sign(ctx, piv.SlotCardAuthentication, digest[:])
	if err != nil || !ecdsa.VerifyASN1(pub, digest[:], sig) {
		t.Fatalf("key not persisted: %v", err)
	}

	for name, content := range map[string]string{
		"garbage":   "not json",
		"bad pin":   `{"version":1,"pin":"MTI=","puk":"MTIzNDU2Nzg=","mgmt_alg":3,"mgmt_key":"AQIDBAUGBwgBAgMEBQYHCAECAwQFBgcI"}`,
		"bad alg":   `{"version":1,"pin":"MTIzNDU2//8=","puk":"MTIzNDU2Nzg=","mgmt_alg":9,"mgmt_key":"AQIDBAUGBwgBAgMEBQYHCAECAwQFBgcI"}`,
		"bad tries": `{"version":1,"pin":"MTIzNDU2//8=","puk":"MTIzNDU2Nzg=","pin_tries":7,"mgmt_alg":3,"mgmt_key":"AQIDBAUGBwgBAgMEBQYHCAECAwQFBgcI"}`,
		"version":   `{"version":2}`,
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		os.WriteFile(p, []byte(content), 0o600)
		if _, err := sim.Load(p); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
	if _, err := sim.Load(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestAutoSave(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "demo.json")
	card := sim.New()
	card.SetAutoSave(path)
	c, _ := newClient(t, card)
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("SELECT wrote state: %v", err)
	}
	c.VerifyPIN(ctx, "000000")
	reloaded, err := sim.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	c2, _ := newClient(t, reloaded)
	if st := pinTries(t, c2); st.Retries != 2 {
		t.Fatalf("wrong pin not persisted: %+v", st)
	}
	// A write that fails is a memory failure, and the change is undone.
	card.SetAutoSave(filepath.Join(dir, "no-such-dir", "card.json"))
	if err := c.ChangePIN(ctx, "123456", "5555"); !errors.Is(err, apdu.ErrMemoryFailure) {
		t.Fatalf("failed save: %v", err)
	}
	card.SetAutoSave("")
	c.Select(ctx)
	if err := c.VerifyPIN(ctx, "123456"); err != nil {
		t.Fatalf("change was not rolled back: %v", err)
	}
}

func TestMetadataAndFactoryReset(t *testing.T) {
	card := sim.New()
	c, _ := authedClient(t, card)
	r := raw(t, card, "00F7008000")
	wantSW(t, r, 0x9000)
	if !bytes.Contains(r.Data, unhex(t, "06020303")) || !bytes.Contains(r.Data, unhex(t, "050101")) {
		t.Fatalf("PIN metadata %X", r.Data)
	}
	wantSW(t, raw(t, card, "00F7009A00"), 0x6A88)
	pub, _ := c.GenerateKey(ctx, piv.SlotAuthentication)
	r = raw(t, card, "00F7009A00")
	point, _ := pub.Bytes()
	if !bytes.Contains(r.Data, point) {
		t.Fatalf("key metadata %X", r.Data)
	}

	wantSW(t, raw(t, card, "00FB000000"), 0x6985) // PIN and PUK not blocked
	for range 3 {
		c.VerifyPIN(ctx, "99999999")
		c.Unblock(ctx, "99999999", "1234")
	}
	wantSW(t, raw(t, card, "00FB000000"), 0x9000)
	c.Select(ctx)
	if err := c.VerifyPIN(ctx, "123456"); err != nil {
		t.Fatalf("factory pin after reset: %v", err)
	}
	if err := c.Authenticate(ctx, piv.DefaultManagementKey); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Sign(ctx, piv.SlotAuthentication, make([]byte, 32)); !errors.Is(err, apdu.ErrNotFound) {
		t.Fatalf("key survived reset: %v", err)
	}
}

func TestATR(t *testing.T) {
	atr := sim.New().ATR()
	if atr[0] != 0x3B || len(atr) > 33 {
		t.Fatalf("ATR %X", atr)
	}
	var x byte
	for _, b := range atr[1:] {
		x ^= b
	}
	if x != 0 {
		t.Fatalf("TCK wrong in %X", atr)
	}
	if k := int(atr[1] & 0x0F); len(atr) != 4+k+1 {
		t.Fatalf("historical byte count %d in %X", k, atr)
	}
}

func TestConcurrentUse(t *testing.T) {
	card := sim.New()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := piv.New(sim.Transport{Card: card})
			for range 20 {
				c.Select(ctx)
				c.PINStatus(ctx)
				if i == 0 {
					card.Reset()
				}
			}
		}()
	}
	wg.Wait()
	if err := card.Save(filepath.Join(t.TempDir(), "c.json")); err != nil {
		t.Fatal(err)
	}
}

func TestTransportContext(t *testing.T) {
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := (sim.Transport{Card: sim.New()}).Transmit(cctx, unhex(t, "00A4040005A000000308")); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

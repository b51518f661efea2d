package piv

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/des"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/cardio/apdu"
	"github.com/smartcard-service-centre/kiosk/cardio/tlv"
)

var ctx = context.Background()

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err) // test constants only
	}
	return b
}

// script answers commands in order and records them as upper-case hex.
type script struct {
	t       *testing.T
	replies []string
	sent    []string
}

func (s *script) Transmit(_ context.Context, cmd []byte) ([]byte, error) {
	s.sent = append(s.sent, strings.ToUpper(hex.EncodeToString(cmd)))
	if len(s.replies) == 0 {
		s.t.Fatalf("unexpected command %X", cmd)
	}
	r := s.replies[0]
	s.replies = s.replies[1:]
	return unhex(s.t, r), nil
}

func TestCommandEncoding(t *testing.T) {
	tests := []struct {
		name    string
		run     func(*Client) error
		replies []string
		want    []string
		wantErr error
	}{
		{
			name:    "select",
			run:     func(c *Client) error { _, err := c.Select(ctx); return err },
			replies: []string{"6111 4F06000010000100 7907 4F05A000000308 9000"},
			want:    []string{"00A404000BA00000030800001000010000"},
		},
		{
			name:    "verify pin pads with FF",
			run:     func(c *Client) error { return c.VerifyPIN(ctx, "1234") },
			replies: []string{"9000"},
			want:    []string{"002000800831323334FFFFFFFF"},
		},
		{
			name:    "verify pin wrong",
			run:     func(c *Client) error { return c.VerifyPIN(ctx, "12345678") },
			replies: []string{"63C1"},
			want:    []string{"00200080083132333435363738"},
			wantErr: apdu.ErrVerificationFailed,
		},
		{
			name:    "change pin",
			run:     func(c *Client) error { return c.ChangePIN(ctx, "123456", "abcd") },
			replies: []string{"9000"},
			want:    []string{"0024008010313233343536FFFF61626364FFFFFFFF"},
		},
		{
			name:    "change puk",
			run:     func(c *Client) error { return c.ChangePUK(ctx, "12345678", "87654321") },
			replies: []string{"9000"},
			want:    []string{"00240081103132333435363738" + "3837363534333231"},
		},
		{
			name:    "unblock",
			run:     func(c *Client) error { return c.Unblock(ctx, "12345678", "2468") },
			replies: []string{"6983"},
			want:    []string{"002C0080103132333435363738" + "32343638FFFFFFFF"},
			wantErr: apdu.ErrBlocked,
		},
		{
			name:    "forget pin",
			run:     func(c *Client) error { return c.ForgetPIN(ctx) },
			replies: []string{"9000"},
			want:    []string{"0020FF80"},
		},
		{
			name:    "get data",
			run:     func(c *Client) error { _, err := c.GetData(ctx, ObjectCHUID); return err },
			replies: []string{"6A82"},
			want:    []string{"00CB3FFF055C035FC10200"},
			wantErr: apdu.ErrNotFound,
		},
		{
			name:    "put data",
			run:     func(c *Client) error { return c.PutData(ctx, ObjectPrintedInfo, []byte{1, 2}) },
			replies: []string{"9000"},
			want:    []string{"00DB3FFF095C035FC10953020102"},
		},
		{
			name:    "generate",
			run:     func(c *Client) error { _, err := c.GenerateKey(ctx, SlotAuthentication); return err },
			replies: []string{"6982"},
			want:    []string{"0047009A05AC0380011100"},
			wantErr: apdu.ErrSecurityStatus,
		},
		{
			name: "sign",
			run: func(c *Client) error {
				_, err := c.Sign(ctx, SlotCardAuthentication, bytes.Repeat([]byte{0xAB}, 32))
				return err
			},
			replies: []string{"7C04 8202 3000 9000"},
			want:    []string{"0087119E267C2482008120" + strings.Repeat("AB", 32) + "00"},
		},
		{
			name: "set management key",
			run: func(c *Client) error {
				return c.SetManagementKey(ctx, ManagementKey{AlgAES128, bytes.Repeat([]byte{1}, 16)})
			},
			replies: []string{"9000"},
			want:    []string{"00FFFFFF13089B10" + strings.Repeat("01", 16)},
		},
		{
			name:    "version",
			run:     func(c *Client) error { _, err := c.Version(ctx); return err },
			replies: []string{"6D00"},
			want:    []string{"00FD000000"},
			wantErr: apdu.ErrInsNotSupported,
		},
		{
			name:    "serial",
			run:     func(c *Client) error { _, err := c.YubicoSerial(ctx); return err },
			replies: []string{"00BC614E9000"},
			want:    []string{"00F8000000"},
		},
		{
			name:    "malformed version",
			run:     func(c *Client) error { _, err := c.Version(ctx); return err },
			replies: []string{"05049000"},
			want:    []string{"00FD000000"},
			wantErr: ErrMalformedResponse,
		},
		{
			name:    "malformed generate",
			run:     func(c *Client) error { _, err := c.GenerateKey(ctx, SlotCardAuthentication); return err },
			replies: []string{"7F49038601049000"},
			want:    []string{"0047009E05AC0380011100"},
			wantErr: ErrMalformedResponse,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &script{t: t, replies: tt.replies}
			err := tt.run(New(s))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if strings.Join(s.sent, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("sent %v\nwant %v", s.sent, tt.want)
			}
		})
	}
}

func TestPINStatus(t *testing.T) {
	tests := []struct {
		reply string
		want  PINStatus
		err   bool
	}{
		{"9000", PINStatus{Verified: true, Retries: -1}, false},
		{"63C2", PINStatus{Retries: 2}, false},
		{"6983", PINStatus{Blocked: true}, false},
		{"6A88", PINStatus{}, true},
	}
	for _, tt := range tests {
		s := &script{t: t, replies: []string{tt.reply}}
		got, err := New(s).PINStatus(ctx)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("%s: got %+v, %v", tt.reply, got, err)
		}
		if s.sent[0] != "00200080" {
			t.Errorf("sent %s", s.sent[0])
		}
	}
}

func TestEncodePIN(t *testing.T) {
	tests := []struct {
		pin  string
		want string
	}{
		{"1234", "31323334FFFFFFFF"},
		{"12345678", "3132333435363738"},
		{"a B~", "6120427EFFFFFFFF"},
		{"123", ""},
		{"123456789", ""},
		{"12\x7f4", ""},
		{"1234\xff", ""},
		{"pässwd", ""},
	}
	for _, tt := range tests {
		got, err := encodePIN(tt.pin)
		if tt.want == "" {
			if !errors.Is(err, ErrInvalidPIN) {
				t.Errorf("%q: err = %v", tt.pin, err)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, unhex(t, tt.want)) {
			t.Errorf("%q: %X, %v", tt.pin, got, err)
		}
		if back, err := DecodePIN(got); err != nil || back != tt.pin {
			t.Errorf("decode %X: %q, %v", got, back, err)
		}
	}
}

// DecodePIN refuses what a card must not store: the same rule as encodePIN,
// and padding that is not only at the end.
func TestDecodePINRefuses(t *testing.T) {
	for _, h := range []string{
		"313233FFFFFFFFFF",   // 3 characters
		"31323334FF35FFFF",   // padding inside
		"3132331F34FFFFFF",   // control character
		"31323334FFFFFF",     // 7 bytes
		"3132333435363738FF", // 9 bytes
		"FFFFFFFFFFFFFFFF",   // empty
	} {
		if v, err := DecodePIN(unhex(t, h)); !errors.Is(err, ErrInvalidPIN) {
			t.Errorf("%s: %q, %v; want ErrInvalidPIN", h, v, err)
		}
	}
}

// fakeMgmtCard implements the card side of mutual authentication with 3DES,
// independently of the software card, and can misbehave.
type fakeMgmtCard struct {
	key     []byte
	witness []byte
	lie     bool // answer the host challenge wrongly
}

func (f *fakeMgmtCard) Transmit(_ context.Context, cmd []byte) ([]byte, error) {
	blk, _ := des.NewTripleDESCipher(f.key)
	if bytes.Equal(cmd, mustHex("0087039B047C02800000")) {
		f.witness = []byte("WITNESS!")
		enc := make([]byte, 8)
		blk.Encrypt(enc, f.witness)
		return append(append(mustHex("7C0A8008"), enc...), 0x90, 0x00), nil
	}
	// 00 87 03 9B 16 7C 14 80 08 W 81 08 C 00
	if len(cmd) != 28 || !bytes.Equal(cmd[7:17], append([]byte{0x80, 0x08}, f.witness...)) {
		return []byte{0x69, 0x82}, nil
	}
	enc := make([]byte, 8)
	blk.Encrypt(enc, cmd[19:27])
	if f.lie {
		enc[0] ^= 1
	}
	return append(append(mustHex("7C0A8208"), enc...), 0x90, 0x00), nil
}

func TestAuthenticateFlow(t *testing.T) {
	card := &fakeMgmtCard{key: DefaultManagementKey.Key}
	if err := New(card).Authenticate(ctx, DefaultManagementKey); err != nil {
		t.Fatalf("mutual auth: %v", err)
	}
	wrong := ManagementKey{Alg: Alg3DES, Key: bytes.Repeat([]byte{3}, 24)}
	if err := New(card).Authenticate(ctx, wrong); !errors.Is(err, apdu.ErrSecurityStatus) {
		t.Fatalf("wrong key: %v", err)
	}
	card.lie = true
	if err := New(card).Authenticate(ctx, DefaultManagementKey); !errors.Is(err, ErrCardNotAuthenticated) {
		t.Fatalf("card that cannot answer the challenge: %v", err)
	}
	for _, k := range []ManagementKey{
		{Alg: AlgAES128, Key: make([]byte, 24)},
		{Alg: AlgAES256, Key: make([]byte, 16)},
		{Alg: AlgECCP256, Key: make([]byte, 32)},
	} {
		if err := New(card).Authenticate(ctx, k); !errors.Is(err, ErrInvalidManagementKey) {
			t.Errorf("%s with %d bytes: %v", k.Alg, len(k.Key), err)
		}
	}
	if !DefaultManagementKey.Equal(ManagementKey{Alg3DES, append([]byte(nil), DefaultManagementKey.Key...)}) || DefaultManagementKey.Equal(wrong) {
		t.Error("Equal")
	}
}

func TestCHUID(t *testing.T) {
	exp := time.Date(2030, 12, 31, 0, 0, 0, 0, time.UTC)
	c, err := NewCHUID("4082a001132f2817", exp)
	if err != nil {
		t.Fatal(err)
	}
	b := c.Marshal()
	want := "3019" + "d4e739da739ced39ce739d836858210842108421c84210c3eb" +
		"3410" + "4082A001132F2817" + "0000000000000000" +
		"3508" + hex.EncodeToString([]byte("20301231")) + "3E00" + "FE00"
	if !bytes.Equal(b, unhex(t, want)) {
		t.Fatalf("CHUID %X\nwant  %s", b, want)
	}
	s, err := serialOf(b)
	if err != nil || s != "4082A001132F2817" {
		t.Fatalf("serial %q %v", s, err)
	}
	back, err := ParseCHUID(b)
	if err != nil || !back.Expiry.Equal(exp) || back.GUID != c.GUID || !bytes.Equal(back.FASCN, c.FASCN) {
		t.Fatalf("parse back %+v %v", back, err)
	}

	bad := []struct {
		name string
		in   string
		err  error
	}{
		{"no guid", "3508" + hex.EncodeToString([]byte("20301231")), ErrMalformedCHUID},
		{"short guid", "3408 0102030405060708 3508" + hex.EncodeToString([]byte("20301231")), ErrMalformedCHUID},
		{"bad date", "3410" + strings.Repeat("11", 16) + "3508" + hex.EncodeToString([]byte("20301399")), ErrMalformedCHUID},
		{"no date", "3410" + strings.Repeat("11", 16), ErrMalformedCHUID},
		{"truncated", "3410 11", ErrMalformedCHUID},
		{"foreign guid", "3410" + strings.Repeat("11", 16) + "3508" + hex.EncodeToString([]byte("20301231")), ErrSerialFormat},
	}
	for _, tt := range bad {
		if _, err := serialOf(unhex(t, tt.in)); !errors.Is(err, tt.err) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.err)
		}
	}
	for _, s := range []string{"", "4082A001132F281", "4082A001132F28170", "4082A001132F281G"} {
		if _, err := NewCHUID(s, exp); !errors.Is(err, ErrSerialFormat) {
			t.Errorf("serial %q: %v", s, err)
		}
	}
}

func testCert(t *testing.T) *x509.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "t"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert
}

func TestCertificateObject(t *testing.T) {
	cert := testCert(t)
	obj := EncodeCertificate(cert.Raw)
	if !bytes.HasSuffix(obj, unhex(t, "710100FE00")) {
		t.Fatalf("object tail %X", obj[len(obj)-5:])
	}
	got, err := DecodeCertificate(obj)
	if err != nil || !got.Equal(cert) {
		t.Fatalf("decode: %v", err)
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(cert.Raw)
	zw.Close()
	compressed := tlv.EncodeAll(tlv.New(0x70, z.Bytes()), tlv.New(0x71, []byte{0x01}), tlv.New(0xFE, nil))
	if got, err := DecodeCertificate(compressed); err != nil || !got.Equal(cert) {
		t.Fatalf("gzip: %v", err)
	}
	if _, err := DecodeCertificate(unhex(t, "7100FE00")); !errors.Is(err, ErrNoCertificate) {
		t.Fatalf("no cert: %v", err)
	}
	if _, err := DecodeCertificate(unhex(t, "7003010203")); err == nil {
		t.Fatal("garbage certificate decoded")
	}
}

func TestSlotObjects(t *testing.T) {
	if SlotCardAuthentication.Object != 0x5FC101 || SlotAuthentication.Object != 0x5FC105 {
		t.Error("slot objects")
	}
}

// serialOf parses encoded CHUID contents and returns the card serial.
func serialOf(b []byte) (string, error) {
	c, err := ParseCHUID(b)
	if err != nil {
		return "", err
	}
	return c.Serial()
}

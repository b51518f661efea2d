package domain

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"testing"
	"time"
)

// fakeCA issues certificates naming user, serial and slot, signed by its
// own key; Verify checks exactly that, like the real service CA.
type fakeCA struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
}

func newFakeCA(t *testing.T) *fakeCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(5, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &fakeCA{key: key, cert: cert}
}

func (ca *fakeCA) Issue(pub crypto.PublicKey, user UserID, serial CardSerial, slot KeySlot, notBefore, notAfter time.Time) ([]byte, error) {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: string(user), SerialNumber: string(serial), OrganizationalUnit: []string{string(slot)}},
		NotBefore:    notBefore, NotAfter: notAfter,
	}
	return x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
}

func (ca *fakeCA) Verify(der []byte, user UserID, serial CardSerial, slot KeySlot) (*x509.Certificate, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	if err := cert.CheckSignatureFrom(ca.cert); err != nil {
		return nil, err
	}
	s := cert.Subject
	if s.CommonName != string(user) || s.SerialNumber != string(serial) || len(s.OrganizationalUnit) != 1 || s.OrganizationalUnit[0] != string(slot) {
		return nil, fmt.Errorf("certificate names %s/%s", s.CommonName, s.SerialNumber)
	}
	return cert, nil
}

// keyCard is a Card that signs with a key in memory and records the
// digests it was asked to sign.
type keyCard struct {
	Card // other methods are not used
	key  *ecdsa.PrivateKey
	err  error
	seen [][]byte
}

func (c *keyCard) Sign(_ context.Context, digest []byte) ([]byte, error) {
	c.seen = append(c.seen, bytes.Clone(digest))
	if c.err != nil {
		return nil, c.err
	}
	return ecdsa.SignASN1(rand.Reader, c.key, digest)
}

func TestProveGenuine(t *testing.T) {
	ctx := context.Background()
	ca := newFakeCA(t)
	const user, serial = UserID("555001799894"), CardSerial("4082A001132F2817")
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	cardKey := newKey()
	now := time.Now()
	issue := func(pub crypto.PublicKey, user UserID, serial CardSerial, slot KeySlot) []byte {
		der, err := ca.Issue(pub, user, serial, slot, now.Add(-time.Hour), now.AddDate(2, 0, 0))
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	expired, err := ca.Issue(cardKey.Public(), user, serial, KeyCardAuth, now.AddDate(-2, 0, -1), now.AddDate(0, 0, -1))
	if err != nil {
		t.Fatal(err)
	}
	removed := errors.New("the smartcard was removed (test)")

	tests := []struct {
		name    string
		cert    []byte
		key     *ecdsa.PrivateKey
		signErr error
		want    error // nil: genuine
	}{
		{"genuine", issue(cardKey.Public(), user, serial, KeyCardAuth), cardKey, nil, nil},
		{"expired certificate is still recognised", expired, cardKey, nil, nil},
		{"card key differs from the recorded certificate", issue(cardKey.Public(), user, serial, KeyCardAuth), newKey(), nil, ErrCardNotGenuine},
		{"certificate for another serial", issue(cardKey.Public(), user, "4082A00100000011", KeyCardAuth), cardKey, nil, ErrCardNotGenuine},
		{"certificate for another user", issue(cardKey.Public(), "555000000011", serial, KeyCardAuth), cardKey, nil, ErrCardNotGenuine},
		{"certificate for the PIV authentication key", issue(cardKey.Public(), user, serial, KeyPIVAuth), cardKey, nil, ErrCardNotGenuine},
		{"certificate from another CA", func() []byte {
			der, _ := newFakeCA(t).Issue(cardKey.Public(), user, serial, KeyCardAuth, now, now.AddDate(2, 0, 0))
			return der
		}(), cardKey, nil, ErrCardNotGenuine},
		{"no certificate recorded", nil, cardKey, nil, ErrCardNotGenuine},
		{"garbage recorded", []byte("not a certificate"), cardKey, nil, ErrCardNotGenuine},
		{"not an ECDSA key", issue(edPub, user, serial, KeyCardAuth), cardKey, nil, ErrCardNotGenuine},
		{"card pulled while signing", issue(cardKey.Public(), user, serial, KeyCardAuth), cardKey, removed, removed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			card := &keyCard{key: tt.key, err: tt.signErr}
			rec := Smartcard{Serial: serial, UserID: user, CardAuthCert: tt.cert}
			err := ProveGenuine(ctx, card, rec, ca, nil)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("got %v, want genuine", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if tt.want != ErrCardNotGenuine && errors.Is(err, ErrCardNotGenuine) {
				t.Fatalf("a reader failure is reported as a fake card: %v", err)
			}
		})
	}

	// Each check uses a fresh challenge, so a recorded signature cannot be
	// replayed.
	card := &keyCard{key: cardKey}
	rec := Smartcard{Serial: serial, UserID: user, CardAuthCert: issue(cardKey.Public(), user, serial, KeyCardAuth)}
	for range 2 {
		if err := ProveGenuine(ctx, card, rec, ca, nil); err != nil {
			t.Fatal(err)
		}
	}
	if len(card.seen) != 2 || bytes.Equal(card.seen[0], card.seen[1]) {
		t.Fatalf("challenges %x", card.seen)
	}
}

package domain_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/cardio/ca"
	"github.com/smartcard-service-centre/kiosk/domain"
)

// keyCard is a Card that signs with a key in memory and records the
// digests it was asked to sign.
type keyCard struct {
	domain.Card // other methods are not used
	key         *ecdsa.PrivateKey
	err         error
	seen        [][]byte
}

func (c *keyCard) Sign(_ context.Context, digest []byte) ([]byte, error) {
	c.seen = append(c.seen, bytes.Clone(digest))
	if c.err != nil {
		return nil, c.err
	}
	return ecdsa.SignASN1(rand.Reader, c.key, digest)
}

// newAuthority is the service's real CA in a temporary directory, which
// it returns too; it was set up three years ago.
func newAuthority(t *testing.T) (domain.CertificateAuthority, string) {
	t.Helper()
	dir := t.TempDir()
	a, err := ca.Generate(dir, time.Now().AddDate(-3, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	return ca.ForDomain(a), dir
}

// issueRaw signs a certificate for pub with the issuing key in the CA's
// directory, with the subject and usage of like: what the CA itself would
// never issue (it certifies ECDSA keys only).
func issueRaw(t *testing.T, dir string, pub crypto.PublicKey, like []byte) []byte {
	t.Helper()
	read := func(name, typ string) []byte {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(raw)
		if block == nil || block.Type != typ {
			t.Fatalf("%s: no PEM %s", name, typ)
		}
		return block.Bytes
	}
	issuer, err := x509.ParseCertificate(read(ca.IssuerCertFile, "CERTIFICATE"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := x509.ParsePKCS8PrivateKey(read(ca.IssuerKeyFile, "PRIVATE KEY"))
	if err != nil {
		t.Fatal(err)
	}
	model, err := x509.ParseCertificate(like)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: model.Subject,
		NotBefore: model.NotBefore, NotAfter: model.NotAfter, KeyUsage: model.KeyUsage, ExtKeyUsage: model.ExtKeyUsage,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestProveGenuine(t *testing.T) {
	ctx := context.Background()
	authority, dir := newAuthority(t)
	const user, serial = domain.UserID("555001799894"), domain.CardSerial("4082A001132F2817")
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	cardKey := newKey()
	now := time.Now()
	issueBy := func(a domain.CertificateAuthority, pub crypto.PublicKey, user domain.UserID, serial domain.CardSerial, slot domain.KeySlot) []byte {
		der, err := a.Issue(pub, user, serial, slot, now.Add(-time.Hour), now.AddDate(1, 0, 0))
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	issue := func(pub crypto.PublicKey, user domain.UserID, serial domain.CardSerial, slot domain.KeySlot) []byte {
		return issueBy(authority, pub, user, serial, slot)
	}
	genuine := issue(cardKey.Public(), user, serial, domain.KeyCardAuth)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	expired, err := authority.Issue(cardKey.Public(), user, serial, domain.KeyCardAuth, now.AddDate(-1, 0, -1), now.AddDate(0, 0, -1))
	if err != nil {
		t.Fatal(err)
	}
	otherCA, _ := newAuthority(t)
	removed := errors.New("the smartcard was removed (test)")

	tests := []struct {
		name    string
		cert    []byte
		key     *ecdsa.PrivateKey
		signErr error
		want    error // nil: genuine
	}{
		{"genuine", genuine, cardKey, nil, nil},
		{"expired certificate is still recognised", expired, cardKey, nil, nil},
		{"card key differs from the recorded certificate", genuine, newKey(), nil, domain.ErrCardNotGenuine},
		{"certificate for another serial", issue(cardKey.Public(), user, "4082A00100000011", domain.KeyCardAuth), cardKey, nil, domain.ErrCardNotGenuine},
		{"certificate for another user", issue(cardKey.Public(), "555000000011", serial, domain.KeyCardAuth), cardKey, nil, domain.ErrCardNotGenuine},
		{"certificate for the PIV authentication key", issue(cardKey.Public(), user, serial, domain.KeyPIVAuth), cardKey, nil, domain.ErrCardNotGenuine},
		{"certificate from another CA", issueBy(otherCA, cardKey.Public(), user, serial, domain.KeyCardAuth), cardKey, nil, domain.ErrCardNotGenuine},
		{"no certificate recorded", nil, cardKey, nil, domain.ErrCardNotGenuine},
		{"garbage recorded", []byte("not a certificate"), cardKey, nil, domain.ErrCardNotGenuine},
		{"not an ECDSA key", issueRaw(t, dir, edPub, genuine), cardKey, nil, domain.ErrCardNotGenuine},
		{"card pulled while signing", genuine, cardKey, removed, removed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			card := &keyCard{key: tt.key, err: tt.signErr}
			rec := domain.Smartcard{Serial: serial, UserID: user, CardAuthCert: tt.cert}
			err := domain.ProveGenuine(ctx, card, rec, authority, nil)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("got %v, want genuine", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if tt.want != domain.ErrCardNotGenuine && errors.Is(err, domain.ErrCardNotGenuine) {
				t.Fatalf("a reader failure is reported as a fake card: %v", err)
			}
		})
	}

	// Each check uses a fresh challenge, so a recorded signature cannot be
	// replayed.
	card := &keyCard{key: cardKey}
	rec := domain.Smartcard{Serial: serial, UserID: user, CardAuthCert: genuine}
	for range 2 {
		if err := domain.ProveGenuine(ctx, card, rec, authority, nil); err != nil {
			t.Fatal(err)
		}
	}
	if len(card.seen) != 2 || bytes.Equal(card.seen[0], card.seen[1]) {
		t.Fatalf("challenges %x", card.seen)
	}
}

package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestIssueAndVerify(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	a, err := Generate(dir, now.AddDate(-3, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(dir, now); err == nil {
		t.Fatal("Generate overwrote an existing CA")
	}
	loaded, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}

	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	subj := Subject{UserID: "555001799894", CardSerial: "4082A001132F2817", Slot: SlotCardAuth}
	der, err := loaded.Issue(key.Public(), subj, now, now.AddDate(2, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := a.Verify(der, subj)
	if err != nil {
		t.Fatal(err)
	}
	if !cert.NotAfter.Equal(now.AddDate(2, 0, 0)) || !key.PublicKey.Equal(cert.PublicKey) {
		t.Fatalf("certificate: %v %v", cert.NotAfter, cert.PublicKey)
	}

	// An expired certificate is still recognised (for Repair).
	old, _ := a.Issue(key.Public(), subj, now.AddDate(-2, 0, -10), now.AddDate(0, 0, -10))
	if _, err := a.Verify(old, subj); err != nil {
		t.Fatalf("expired certificate not recognised: %v", err)
	}

	for name, s := range map[string]Subject{
		"other card": {UserID: subj.UserID, CardSerial: "4082A00100000011", Slot: SlotCardAuth},
		"other user": {UserID: "555000000011", CardSerial: subj.CardSerial, Slot: SlotCardAuth},
		"other slot": {UserID: subj.UserID, CardSerial: subj.CardSerial, Slot: SlotPIVAuth},
	} {
		if _, err := a.Verify(der, s); !errors.Is(err, ErrUntrusted) {
			t.Errorf("%s: %v", name, err)
		}
	}

	other, _ := Generate(t.TempDir(), now)
	foreign, _ := other.Issue(key.Public(), subj, now, now.AddDate(2, 0, 0))
	if _, err := a.Verify(foreign, subj); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("certificate from another CA accepted: %v", err)
	}
	if _, err := a.Verify([]byte("junk"), subj); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("junk accepted: %v", err)
	}
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	if _, err := a.Issue(rsaKey.Public(), subj, now, now.AddDate(2, 0, 0)); err == nil {
		t.Fatal("issued for an RSA key")
	}
	if !strings.Contains(string(a.RootPEM()), "BEGIN CERTIFICATE") {
		t.Fatal("RootPEM")
	}
}

func TestLoadErrors(t *testing.T) {
	now := time.Now()
	dir := t.TempDir()
	if _, err := Load(dir); err == nil {
		t.Fatal("loaded an empty directory")
	}
	if _, err := Generate(dir, now); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(dir, IssuerKeyFile), 0o644)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable key: %v", err)
	}
	os.Chmod(filepath.Join(dir, IssuerKeyFile), 0o600)

	// An issuer key that does not match its certificate.
	other := t.TempDir()
	Generate(other, now)
	key, _ := os.ReadFile(filepath.Join(other, IssuerKeyFile))
	os.WriteFile(filepath.Join(dir, IssuerKeyFile), key, 0o600)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("mismatched key: %v", err)
	}
	os.WriteFile(filepath.Join(dir, RootCertFile), []byte("not pem"), 0o644)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "not a PEM certificate") {
		t.Fatalf("bad root: %v", err)
	}
}

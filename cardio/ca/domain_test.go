package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
)

func TestForDomain(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	a, err := Generate(t.TempDir(), now.AddDate(-3, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	d := ForDomain(a)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	const user, serial = domain.UserID("555001799894"), domain.CardSerial("4082A001132F2817")
	// Issued two years ago and expired yesterday: still recognised.
	from, to := now.AddDate(-2, 0, -1), now.AddDate(0, 0, -1)
	der, err := d.Issue(key.Public(), user, serial, domain.KeyCardAuth, from, to)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := d.Verify(der, user, serial, domain.KeyCardAuth)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != string(user) || cert.Subject.SerialNumber != string(serial) ||
		!cert.NotBefore.Equal(from) || !cert.NotAfter.Equal(to) {
		t.Fatalf("certificate %v valid %v to %v", cert.Subject, cert.NotBefore, cert.NotAfter)
	}
	for _, tt := range []struct {
		name   string
		user   domain.UserID
		serial domain.CardSerial
		slot   domain.KeySlot
	}{
		{"other user", "555000000011", serial, domain.KeyCardAuth},
		{"other serial", user, "4082A00100000011", domain.KeyCardAuth},
		{"other slot", user, serial, domain.KeyPIVAuth},
		{"unknown slot", user, serial, "9C"},
	} {
		if _, err := d.Verify(der, tt.user, tt.serial, tt.slot); !errors.Is(err, ErrUntrusted) {
			t.Errorf("%s: %v, want ErrUntrusted", tt.name, err)
		}
	}

	for _, tt := range []struct {
		name     string
		user     domain.UserID
		serial   domain.CardSerial
		slot     domain.KeySlot
		from, to time.Time
	}{
		{"longer than 2 years", user, serial, domain.KeyPIVAuth, now, now.AddDate(2, 0, 2)},
		{"ends before it starts", user, serial, domain.KeyPIVAuth, now, now.Add(-time.Hour)},
		{"bad user ID", "5550", serial, domain.KeyPIVAuth, now, now.AddDate(2, 0, 0)},
		{"bad serial", user, "XYZ", domain.KeyPIVAuth, now, now.AddDate(2, 0, 0)},
		{"unknown slot", user, serial, "9D", now, now.AddDate(2, 0, 0)},
	} {
		if _, err := d.Issue(key.Public(), tt.user, tt.serial, tt.slot, tt.from, tt.to); err == nil {
			t.Errorf("%s: issued", tt.name)
		}
	}
	// A leap year's 2 years are 731 days.
	leap := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
	if _, err := d.Issue(key.Public(), user, serial, domain.KeyPIVAuth, leap, leap.AddDate(2, 0, 0)); err != nil {
		t.Errorf("2 years over a leap day: %v", err)
	}
}

func TestLoadOrGenerate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	now := time.Now()
	a, generated, err := LoadOrGenerate(dir, now)
	if err != nil || !generated {
		t.Fatalf("first: %v generated=%v", err, generated)
	}
	b, generated, err := LoadOrGenerate(dir, now)
	if err != nil || generated {
		t.Fatalf("second: %v generated=%v", err, generated)
	}
	if string(a.RootPEM()) != string(b.RootPEM()) {
		t.Fatal("second call did not load the same CA")
	}
	if err := os.Chmod(filepath.Join(dir, IssuerKeyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrGenerate(dir, now); err == nil {
		t.Fatal("loaded a key others can read")
	}
}

package ca

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
)

// MaxValidity is the longest certificate the service issues: 2 years, plus
// the day a leap year adds.
const MaxValidity = (2*365 + 1) * 24 * time.Hour

// ForDomain adapts a to the domain's certificate authority port.
func ForDomain(a *Authority) domain.CertificateAuthority { return domainCA{a} }

type domainCA struct{ a *Authority }

func slotFor(s domain.KeySlot) (Slot, error) {
	switch s {
	case domain.KeyPIVAuth:
		return SlotPIVAuth, nil
	case domain.KeyCardAuth:
		return SlotCardAuth, nil
	}
	return "", fmt.Errorf("no certificates are issued for key slot %q", s)
}

func subject(user domain.UserID, serial domain.CardSerial, slot domain.KeySlot) (Subject, error) {
	s, err := slotFor(slot)
	if err != nil {
		return Subject{}, err
	}
	if _, err := domain.ParseUserID(string(user)); err != nil {
		return Subject{}, err
	}
	if _, err := domain.ParseCardSerial(string(serial)); err != nil {
		return Subject{}, err
	}
	return Subject{UserID: string(user), CardSerial: string(serial), Slot: s}, nil
}

// Issue certifies pub for the user's card and slot; the validity must be at
// most MaxValidity.
func (d domainCA) Issue(pub crypto.PublicKey, user domain.UserID, serial domain.CardSerial, slot domain.KeySlot, notBefore, notAfter time.Time) ([]byte, error) {
	s, err := subject(user, serial, slot)
	if err != nil {
		return nil, fmt.Errorf("issue certificate: %w", err)
	}
	if !notAfter.After(notBefore) || notAfter.Sub(notBefore) > MaxValidity {
		return nil, fmt.Errorf("issue certificate: validity %s to %s is not within 2 years",
			notBefore.Format(time.DateOnly), notAfter.Format(time.DateOnly))
	}
	return d.a.Issue(pub, s, notBefore, notAfter)
}

// Verify checks der was issued by this CA for that user, card and slot.
func (d domainCA) Verify(der []byte, user domain.UserID, serial domain.CardSerial, slot domain.KeySlot) (*x509.Certificate, error) {
	s, err := slotFor(slot)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUntrusted, err)
	}
	return d.a.Verify(der, Subject{UserID: string(user), CardSerial: string(serial), Slot: s})
}

// LoadOrGenerate loads the CA in dir, or generates one there as Generate
// does at now when dir holds none: for the demo, never for production.
func LoadOrGenerate(dir string, now time.Time) (a *Authority, generated bool, err error) {
	if _, err := os.Stat(filepath.Join(dir, IssuerKeyFile)); err == nil {
		a, err := Load(dir)
		return a, false, err
	}
	a, err = Generate(dir, now)
	if err != nil {
		return nil, false, err
	}
	return a, true, nil
}

// Package ca is the service's certificate authority: a root and an issuing
// key, read from files (generated for the demo), that issue the 2-year
// certificates for each card's PIV Authentication (9A) and Card
// Authentication (9E) keys, and verify them later.
package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// File names inside a CA directory.
const (
	RootCertFile   = "root.crt"
	IssuerCertFile = "issuer.crt"
	IssuerKeyFile  = "issuer.key"
)

// Slot says which card key a certificate is for.
type Slot string

const (
	SlotPIVAuth  Slot = "PIV Authentication"  // 9A, PIN required
	SlotCardAuth Slot = "Card Authentication" // 9E, no PIN
)

var ErrUntrusted = errors.New("certificate was not issued by this service")

// Authority issues and verifies card certificates.
type Authority struct {
	root   *x509.Certificate
	issuer *x509.Certificate
	key    crypto.Signer
	roots  *x509.CertPool
	inter  *x509.CertPool
}

// Load reads a CA directory: root.crt, issuer.crt and issuer.key (PEM; the
// key PKCS#8, readable by its owner only). The root's key is not needed.
func Load(dir string) (*Authority, error) {
	root, err := readCert(filepath.Join(dir, RootCertFile))
	if err != nil {
		return nil, err
	}
	issuer, err := readCert(filepath.Join(dir, IssuerCertFile))
	if err != nil {
		return nil, err
	}
	keyPath := filepath.Join(dir, IssuerKeyFile)
	fi, err := os.Stat(keyPath)
	if err != nil {
		return nil, fmt.Errorf("certificate authority key: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("certificate authority key %s is readable by other users; run chmod 600 %s", keyPath, keyPath)
	}
	raw, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("certificate authority key: %w", err)
	}
	block, _ := pem.Decode(raw)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("certificate authority key %s: not a PEM PKCS#8 private key", keyPath)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("certificate authority key %s: %w", keyPath, err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("certificate authority key %s: unsupported key type", keyPath)
	}
	return newAuthority(root, issuer, signer)
}

func newAuthority(root, issuer *x509.Certificate, key crypto.Signer) (*Authority, error) {
	a := &Authority{root: root, issuer: issuer, key: key, roots: x509.NewCertPool(), inter: x509.NewCertPool()}
	a.roots.AddCert(root)
	a.inter.AddCert(issuer)
	if _, err := issuer.Verify(x509.VerifyOptions{Roots: a.roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, fmt.Errorf("issuing certificate does not chain to the root: %w", err)
	}
	if !publicKeysEqual(issuer.PublicKey, key.Public()) {
		return nil, errors.New("issuing key does not match the issuing certificate")
	}
	return a, nil
}

// Generate creates a new root and issuing CA in dir, for the demo and tests.
// It refuses to overwrite an existing CA.
func Generate(dir string, now time.Time) (*Authority, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create CA directory: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, IssuerKeyFile)); err == nil {
		return nil, fmt.Errorf("a certificate authority already exists in %s", dir)
	}
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	rootTmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "Smartcard Service Centre Root CA", Organization: []string{"Smartcard Service Centre"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(20, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	if err != nil {
		return nil, fmt.Errorf("create root certificate: %w", err)
	}
	root, _ := x509.ParseCertificate(rootDER)

	issuerKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	issuerTmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "Smartcard Service Centre Issuing CA", Organization: []string{"Smartcard Service Centre"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	issuerDER, err := x509.CreateCertificate(rand.Reader, issuerTmpl, root, issuerKey.Public(), rootKey)
	if err != nil {
		return nil, fmt.Errorf("create issuing certificate: %w", err)
	}
	issuer, _ := x509.ParseCertificate(issuerDER)
	keyDER, err := x509.MarshalPKCS8PrivateKey(issuerKey)
	if err != nil {
		return nil, err
	}
	files := []struct {
		name, typ string
		der       []byte
		mode      os.FileMode
	}{
		{RootCertFile, "CERTIFICATE", rootDER, 0o644},
		{IssuerCertFile, "CERTIFICATE", issuerDER, 0o644},
		{IssuerKeyFile, "PRIVATE KEY", keyDER, 0o600},
	}
	for _, f := range files {
		data := pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der})
		if err := os.WriteFile(filepath.Join(dir, f.name), data, f.mode); err != nil {
			return nil, fmt.Errorf("write %s: %w", f.name, err)
		}
	}
	// The root key is not kept: the demo never needs to issue a new issuer.
	return newAuthority(root, issuer, issuerKey)
}

// Subject is who and what a certificate is for.
type Subject struct {
	UserID     string // 12 digits
	CardSerial string // 16 hex digits
	Slot       Slot
}

// Issue certifies a card's public key for validity [notBefore, notAfter).
func (a *Authority) Issue(pub crypto.PublicKey, s Subject, notBefore, notAfter time.Time) ([]byte, error) {
	if _, ok := pub.(*ecdsa.PublicKey); !ok {
		return nil, fmt.Errorf("issue certificate: want an ECDSA public key, got %T", pub)
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject: pkix.Name{
			CommonName:         s.UserID,
			SerialNumber:       s.CardSerial,
			OrganizationalUnit: []string{string(s.Slot)},
			Organization:       []string{"Smartcard Service Centre"},
		},
		NotBefore:   notBefore,
		NotAfter:    notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.issuer, pub, a.key)
	if err != nil {
		return nil, fmt.Errorf("issue certificate: %w", err)
	}
	return der, nil
}

// Verify checks a card certificate was issued by this service for the
// given subject and returns it. Expiry is not judged here: an expired
// card must still be recognised so that it can be repaired.
func (a *Authority) Verify(der []byte, s Subject) (*x509.Certificate, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUntrusted, err)
	}
	opts := x509.VerifyOptions{
		Roots: a.roots, Intermediates: a.inter,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		CurrentTime: cert.NotBefore.Add(time.Second),
	}
	if _, err := cert.Verify(opts); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUntrusted, err)
	}
	if cert.Subject.CommonName != s.UserID || cert.Subject.SerialNumber != s.CardSerial ||
		len(cert.Subject.OrganizationalUnit) != 1 || cert.Subject.OrganizationalUnit[0] != string(s.Slot) {
		return nil, fmt.Errorf("%w: it names %s/%s, not %s/%s", ErrUntrusted, cert.Subject.CommonName, cert.Subject.SerialNumber, s.UserID, s.CardSerial)
	}
	return cert, nil
}

// RootPEM is the root certificate, for relying parties.
func (a *Authority) RootPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.root.Raw})
}

func readCert(path string) (*x509.Certificate, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("certificate authority: %w", err)
	}
	block, _ := pem.Decode(raw)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("certificate authority: %s is not a PEM certificate", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("certificate authority: %s: %w", path, err)
	}
	return c, nil
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		// crypto/rand does not fail on supported platforms (Go 1.24+ panics instead).
		panic(err)
	}
	return n.Add(n, big.NewInt(1))
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	ea, ok := a.(equaler)
	return ok && ea.Equal(b)
}

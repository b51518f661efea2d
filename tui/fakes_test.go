package tui_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sync"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
)

// fakeCard is an in-memory PIV card: a passcode (PIN) and PUK with retry
// counters, and ECDSA P-256 keys for slots 9A and 9E. It refuses what a
// real card refuses, and everything once it has been pulled out.
type fakeCard struct {
	mu       sync.Mutex
	serial   domain.CardSerial
	pin      string
	pinTries int
	puk      []byte
	pukTries int
	mgmt     []byte
	keys     map[domain.KeySlot]*ecdsa.PrivateKey
	certs    map[domain.KeySlot][]byte
	removed  bool
}

const maxTries = 3

func newFakeCard(serial domain.CardSerial, pin string, puk, mgmt []byte) *fakeCard {
	c := &fakeCard{serial: serial, pin: pin, pinTries: maxTries, puk: puk, pukTries: maxTries, mgmt: mgmt,
		keys: map[domain.KeySlot]*ecdsa.PrivateKey{}, certs: map[domain.KeySlot][]byte{}}
	for _, slot := range []domain.KeySlot{domain.KeyPIVAuth, domain.KeyCardAuth} {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err) // crypto/rand does not fail
		}
		c.keys[slot] = k
	}
	return c
}

var _ domain.Card = (*fakeCard)(nil)

func (c *fakeCard) check() error {
	if c.removed {
		return domain.ErrCardRemoved
	}
	return nil
}

func (c *fakeCard) Status(context.Context) (domain.CardStatus, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.check(); err != nil {
		return domain.CardStatus{}, err
	}
	return domain.CardStatus{Serial: c.serial, PasscodeTriesLeft: c.pinTries, Blocked: c.pinTries == 0}, nil
}

func (c *fakeCard) Sign(_ context.Context, digest []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.check(); err != nil {
		return nil, err
	}
	return ecdsa.SignASN1(rand.Reader, c.keys[domain.KeyCardAuth], digest)
}

func (c *fakeCard) SignWithPasscode(_ context.Context, passcode string, digest []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.verify(passcode); err != nil {
		return nil, err
	}
	return ecdsa.SignASN1(rand.Reader, c.keys[domain.KeyPIVAuth], digest)
}

// verify is VERIFY: a wrong passcode costs a try; none left is blocked.
func (c *fakeCard) verify(passcode string) error {
	if err := c.check(); err != nil {
		return err
	}
	if c.pinTries == 0 {
		return domain.ErrCardBlocked
	}
	if subtle.ConstantTimeCompare([]byte(passcode), []byte(c.pin)) != 1 {
		c.pinTries--
		return &domain.PasscodeError{TriesLeft: c.pinTries}
	}
	c.pinTries = maxTries
	return nil
}

func (c *fakeCard) VerifyPasscode(_ context.Context, passcode string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.verify(passcode)
}

func (c *fakeCard) ChangePasscode(_ context.Context, oldPasscode, newPasscode string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.verify(oldPasscode); err != nil {
		return err
	}
	c.pin = newPasscode
	return nil
}

// Unlock is RESET RETRY COUNTER with the PUK, then VERIFY of the new PIN.
func (c *fakeCard) Unlock(_ context.Context, puk []byte, newPasscode string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.check(); err != nil {
		return err
	}
	if c.pukTries == 0 {
		return errors.New("puk blocked")
	}
	if subtle.ConstantTimeCompare(puk, c.puk) != 1 {
		c.pukTries--
		return fmt.Errorf("wrong puk: %d tries left", c.pukTries)
	}
	c.pukTries = maxTries
	c.pin, c.pinTries = newPasscode, maxTries
	return c.verify(newPasscode)
}

func (c *fakeCard) Personalise(_ context.Context, req domain.PersonaliseRequest) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.check(); err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(req.Current.MgmtKey, c.mgmt) != 1 {
		return errors.New("management key authentication failed")
	}
	for _, slot := range []domain.KeySlot{domain.KeyPIVAuth, domain.KeyCardAuth} {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		der, err := req.Certify(slot, k.Public())
		if err != nil {
			return err
		}
		c.keys[slot], c.certs[slot] = k, der
	}
	c.mgmt, c.puk = slices.Clone(req.New.MgmtKey), slices.Clone(req.New.PUK)
	return nil
}

func (c *fakeCard) Close() error { return nil }

func (c *fakeCard) passcode() (string, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pin, c.pinTries
}

func (c *fakeCard) block() {
	c.mu.Lock()
	c.pinTries = 0
	c.mu.Unlock()
}

// fakeReaders is the kiosk's one holder reader, with cards put in and
// taken out by the test.
type fakeReaders struct {
	mu      sync.Mutex
	card    *fakeCard
	subs    []chan domain.CardEvent
	openErr error
}

var _ domain.CardReaders = (*fakeReaders)(nil)

func (r *fakeReaders) Events(ctx context.Context) (<-chan domain.CardEvent, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ch := make(chan domain.CardEvent, 16)
	if r.card != nil {
		ch <- domain.CardEvent{Role: domain.ReaderHolder, Present: true}
	}
	r.subs = append(r.subs, ch)
	go func() {
		<-ctx.Done()
		r.mu.Lock()
		defer r.mu.Unlock()
		r.subs = slices.DeleteFunc(r.subs, func(c chan domain.CardEvent) bool { return c == ch })
		close(ch)
	}()
	return ch, nil
}

func (r *fakeReaders) Open(context.Context, domain.ReaderRole) (domain.Card, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.openErr != nil {
		return nil, r.openErr
	}
	if r.card == nil {
		return nil, domain.ErrNoCard
	}
	return r.card, nil
}

func (r *fakeReaders) insert(c *fakeCard) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c.mu.Lock()
	c.removed = false
	c.mu.Unlock()
	r.card = c
	r.send(domain.CardEvent{Role: domain.ReaderHolder, Present: true})
}

func (r *fakeReaders) remove() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.card != nil {
		r.card.mu.Lock()
		r.card.removed = true
		r.card.mu.Unlock()
	}
	r.card = nil
	r.send(domain.CardEvent{Role: domain.ReaderHolder, Present: false})
}

func (r *fakeReaders) send(ev domain.CardEvent) {
	for _, ch := range r.subs {
		ch <- ev
	}
}

// fakeCA issues real X.509 certificates under a throwaway CA key, naming
// the user, card and slot, and verifies them the same way.
type fakeCA struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
}

var _ domain.CertificateAuthority = (*fakeCA)(nil)

func newFakeCA() (*fakeCA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test Service CA"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &fakeCA{key: key, cert: cert}, nil
}

func (ca *fakeCA) Issue(pub crypto.PublicKey, user domain.UserID, serial domain.CardSerial, slot domain.KeySlot, notBefore, notAfter time.Time) ([]byte, error) {
	sn, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: string(user), OrganizationalUnit: []string{string(serial) + "/" + string(slot)}},
		NotBefore:    notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	return x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
}

func (ca *fakeCA) Verify(der []byte, user domain.UserID, serial domain.CardSerial, slot domain.KeySlot) (*x509.Certificate, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	if err := cert.CheckSignatureFrom(ca.cert); err != nil {
		return nil, fmt.Errorf("not issued by the service: %w", err)
	}
	if cert.Subject.CommonName != string(user) || !slices.Equal(cert.Subject.OrganizationalUnit, []string{string(serial) + "/" + string(slot)}) {
		return nil, errors.New("certificate is for another card")
	}
	return cert, nil
}

// fakeClock is a settable clock shared by the service and the UI.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

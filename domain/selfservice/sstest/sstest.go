// Package sstest provides plain-Go fakes of the card ports and a ready
// Service over a real embedded store, for tests of the self-service
// workflows and of the screens that drive them.
package sstest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
)

// Card is an in-memory PIV card: passcode and PUK retry counters, a Card
// Authentication key, and a Removed switch that makes every operation fail
// as a pulled card does.
type Card struct {
	mu        sync.Mutex
	Serial    domain.CardSerial
	PIN, PUK  string
	PINTries  int // left; 0 = blocked
	PUKTries  int
	Key       *ecdsa.PrivateKey // 9E
	Removed   bool
	Personals int // Personalise calls

	// Hook, if set, is called (without the card's lock) as Unlock,
	// ChangePasscode and Personalise begin, with the operation's name: a
	// test may hold the card there, as a card slow to answer. Set it
	// before the card is inserted.
	Hook func(op string)
	// BreakPersonalise, if set, makes Personalise fail with it once the
	// new keys are on the card and certified, as a card pulled part-way.
	BreakPersonalise error
}

func (c *Card) hook(op string) {
	if c.Hook != nil {
		c.Hook(op)
	}
}

// NewCard returns a card with a fresh 9E key and 3 tries on each counter.
func NewCard(serial domain.CardSerial, pin, puk string) *Card {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err) // crypto/rand failing is not an input error
	}
	return &Card{Serial: serial, PIN: pin, PUK: puk, PINTries: 3, PUKTries: 3, Key: k}
}

func (c *Card) check() error {
	if c.Removed {
		return domain.ErrCardRemoved
	}
	return nil
}

func (c *Card) Status(ctx context.Context) (domain.CardStatus, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.check(); err != nil {
		return domain.CardStatus{}, err
	}
	return domain.CardStatus{Serial: c.Serial, PasscodeTriesLeft: c.PINTries, Blocked: c.PINTries == 0}, nil
}

func (c *Card) Sign(ctx context.Context, digest []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.check(); err != nil {
		return nil, err
	}
	return ecdsa.SignASN1(rand.Reader, c.Key, digest)
}

func (c *Card) verify(pin string) error {
	if c.PINTries == 0 {
		return domain.ErrCardBlocked
	}
	if pin != c.PIN {
		c.PINTries--
		return &domain.PasscodeError{TriesLeft: c.PINTries}
	}
	c.PINTries = 3
	return nil
}

func (c *Card) SignWithPasscode(ctx context.Context, passcode string, digest []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.check(); err != nil {
		return nil, err
	}
	if err := c.verify(passcode); err != nil {
		return nil, err
	}
	return ecdsa.SignASN1(rand.Reader, c.Key, digest)
}

func (c *Card) VerifyPasscode(ctx context.Context, passcode string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.check(); err != nil {
		return err
	}
	return c.verify(passcode)
}

func (c *Card) ChangePasscode(ctx context.Context, old, newPIN string) error {
	c.hook("ChangePasscode")
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.check(); err != nil {
		return err
	}
	if err := c.verify(old); err != nil {
		return err
	}
	c.PIN = newPIN
	return nil
}

func (c *Card) Unlock(ctx context.Context, puk []byte, newPIN string) error {
	c.hook("Unlock")
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.check(); err != nil {
		return err
	}
	if c.PUKTries == 0 {
		return fmt.Errorf("PUK blocked: %w", domain.ErrCardSecretRejected)
	}
	if string(puk) != c.PUK {
		c.PUKTries--
		return fmt.Errorf("wrong PUK: %w", domain.ErrCardSecretRejected)
	}
	c.PIN, c.PINTries = newPIN, 3
	return c.verify(newPIN)
}

func (c *Card) Personalise(ctx context.Context, req domain.PersonaliseRequest) error {
	c.hook("Personalise")
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.check(); err != nil {
		return err
	}
	if string(req.Current.PUK) != c.PUK {
		return errors.New("security status not satisfied")
	}
	for _, slot := range []domain.KeySlot{domain.KeyPIVAuth, domain.KeyCardAuth} {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		if _, err := req.Certify(slot, k.Public()); err != nil {
			return err
		}
		if slot == domain.KeyCardAuth {
			c.Key = k
		}
	}
	if c.BreakPersonalise != nil {
		return c.BreakPersonalise
	}
	c.PUK = string(req.New.PUK)
	c.Personals++
	return nil
}

func (c *Card) Close() error { return nil }

// SetRemoved pulls the card out (true) or puts it back.
func (c *Card) SetRemoved(v bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.Removed = v
}

// PINIs reports whether pin is the card's passcode now.
func (c *Card) PINIs(pin string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.PIN == pin
}

// Clock is a settable clock, to share between the service and whatever
// else tells the time in a test.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// CA is a real, in-memory certificate authority: Verify checks its
// signature and the subject, so a card with another key is not genuine.
type CA struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
}

// NewCA makes a self-signed CA.
func NewCA() *CA {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(10, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		panic(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &CA{key: k, cert: cert}
}

func subject(user domain.UserID, serial domain.CardSerial, slot domain.KeySlot) string {
	return fmt.Sprintf("%s/%s/%s", user, serial, slot)
}

func (ca *CA) Issue(pub crypto.PublicKey, user domain.UserID, serial domain.CardSerial, slot domain.KeySlot, notBefore, notAfter time.Time) ([]byte, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: n, Subject: pkix.Name{CommonName: subject(user, serial, slot)},
		NotBefore: notBefore, NotAfter: notAfter,
	}
	return x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
}

func (ca *CA) Verify(der []byte, user domain.UserID, serial domain.CardSerial, slot domain.KeySlot) (*x509.Certificate, error) {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	if err := c.CheckSignatureFrom(ca.cert); err != nil {
		return nil, err
	}
	if c.Subject.CommonName != subject(user, serial, slot) {
		return nil, errors.New("certificate is for another card")
	}
	return c, nil
}

// Readers is one holder reader holding at most one fake card.
type Readers struct {
	mu        sync.Mutex
	card      *Card
	events    chan domain.CardEvent
	openErr   error
	eventsErr error

	subscribers atomic.Int32 // Events subscriptions whose context has not ended
	subscribed  atomic.Int32 // Events calls, failed ones included
}

// Subscribers is how many Events subscriptions are still open.
func (r *Readers) Subscribers() int { return int(r.subscribers.Load()) }

// Subscriptions is how many times Events was called.
func (r *Readers) Subscriptions() int { return int(r.subscribed.Load()) }

// FailOpen makes Open fail with err, as a reader that cannot read the
// card; nil makes it work again.
func (r *Readers) FailOpen(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.openErr = err
}

// FailEvents makes Events fail with err, as a card service that cannot
// be reached; nil makes it work again.
func (r *Readers) FailEvents(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.eventsErr = err
}

// NewReaders returns an empty reader.
func NewReaders() *Readers { return &Readers{events: make(chan domain.CardEvent, 16)} }

// Insert puts c in the reader (nil takes the card out).
func (r *Readers) Insert(c *Card) {
	r.mu.Lock()
	if r.card != nil && r.card != c {
		r.card.SetRemoved(true)
	}
	r.card = c
	if c != nil {
		c.SetRemoved(false)
	}
	r.mu.Unlock()
	r.events <- domain.CardEvent{Role: domain.ReaderHolder, Present: c != nil}
}

func (r *Readers) Events(ctx context.Context) (<-chan domain.CardEvent, error) {
	r.subscribed.Add(1)
	r.mu.Lock()
	err := r.eventsErr
	r.mu.Unlock()
	if err != nil {
		return nil, err
	}
	out := make(chan domain.CardEvent)
	r.subscribers.Add(1)
	go func() {
		defer r.subscribers.Add(-1)
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case e := <-r.events:
				select {
				case out <- e:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

func (r *Readers) Open(ctx context.Context, role domain.ReaderRole) (domain.Card, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if role != domain.ReaderHolder {
		return nil, domain.ErrReaderUnavailable
	}
	if r.openErr != nil {
		return nil, r.openErr
	}
	if r.card == nil {
		return nil, domain.ErrNoCard
	}
	return r.card, nil
}

// Holder describes a card holder for Enrol.
type Holder struct {
	ID         domain.UserID
	Title      string // "" is "Mx"
	Given      string
	Family     string
	Email      string
	Serial     domain.CardSerial
	PIN, PUK   string
	Blocked    bool
	CertExpiry time.Time // zero: a year after Now
	Renewals   int       // self-renewals since one with an operator
	Cancelled  bool
	Reason     string // why it was cancelled; "" is "Lost"
	// Now is when the holder is enrolled, for tests on a fake clock;
	// zero: time.Now().
	Now time.Time
	// Answers, when set, registers the holder: question → answer.
	Answers map[domain.QuestionID]string
	// FailedAttempts and LockedOut set the registration's failed
	// unlock attempts and lock-out.
	FailedAttempts int
	LockedOut      bool
	// Hash hashes an answer (secret.HashAnswer with cheap test parameters).
	Hash func(answer string) (string, error)
	// Seal seals the PUK and management key (secret.Keys.SealCard).
	Seal func(serial domain.CardSerial, puk, mgmtKey []byte) (domain.CardSecrets, error)
}

// Enrol stores the holder, their card (certified by ca) and, if Answers
// is set, their registration; it returns the matching fake card.
func Enrol(ctx context.Context, s domain.Store, ca *CA, h Holder) (*Card, error) {
	card := NewCard(h.Serial, h.PIN, h.PUK)
	if h.Blocked {
		card.PINTries = 0
	}
	now := h.Now.UTC()
	if h.Now.IsZero() {
		now = time.Now().UTC()
	}
	if h.Title == "" {
		h.Title = "Mx"
	}
	if h.Reason == "" {
		h.Reason = "Lost"
	}
	if h.CertExpiry.IsZero() {
		h.CertExpiry = now.AddDate(1, 0, 0)
	}
	cert, err := ca.Issue(card.Key.Public(), h.ID, h.Serial, domain.KeyCardAuth, now.Add(-time.Hour), h.CertExpiry)
	if err != nil {
		return nil, err
	}
	err = s.InTx(ctx, func(q domain.Queries) error {
		if err := q.PutUser(ctx, domain.User{ID: h.ID, Title: h.Title, GivenName: h.Given, FamilyName: h.Family, Email: h.Email, CreatedAt: now}); err != nil {
			return err
		}
		rec := domain.Smartcard{Serial: h.Serial, UserID: h.ID, Type: "PIV", IssuedAt: now.AddDate(-1, 0, 0), CertExpiry: h.CertExpiry, CardAuthCert: cert, RenewalsSinceOperator: h.Renewals}
		if h.Cancelled {
			rec.CancelledAt, rec.CancelReason = now, h.Reason
		}
		if err := q.PutSmartcard(ctx, rec); err != nil {
			return err
		}
		sealed, err := h.Seal(h.Serial, []byte(h.PUK), make([]byte, 32))
		if err != nil {
			return err
		}
		if err := q.PutCardSecrets(ctx, sealed); err != nil {
			return err
		}
		if h.Answers == nil {
			return nil
		}
		reg := domain.Registration{UserID: h.ID, Email: h.Email, RegisteredAt: now, FailedAttempts: h.FailedAttempts}
		if h.LockedOut {
			reg.LockedOutAt = now
		}
		for qid, a := range h.Answers {
			hash, err := h.Hash(a)
			if err != nil {
				return err
			}
			reg.Answers = append(reg.Answers, domain.Answer{Question: qid, Hash: hash})
		}
		return q.PutRegistration(ctx, reg)
	})
	if err != nil {
		return nil, fmt.Errorf("enrol %s: %w", h.ID, err)
	}
	return card, nil
}

// Package sstest provides test doubles for the self-service workflows and
// the screens that drive them: a card (held to the real adapter's
// behaviour by the domain/cardtest suite), a reader, a clock, the
// service's real certificate authority on a temporary directory, and
// Enrol to put a card holder in a store.
package sstest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/cardio/ca"
	"github.com/smartcard-service-centre/kiosk/cardio/piv"
	"github.com/smartcard-service-centre/kiosk/domain"
)

// Card is an in-memory PIV card that behaves as cardio/pivcard over a
// real card does (domain/cardtest checks that): passcode and PUK retry
// counters, a verified passcode that lasts until the next operation, a
// reset or the card leaving the reader, PIV Authentication (9A) and Card
// Authentication (9E) keys, and a management key that guards Personalise.
type Card struct {
	mu       sync.Mutex
	Serial   domain.CardSerial
	PIN, PUK string
	PINTries int // left; 0 = blocked
	PUKTries int
	// Personals counts Personalise calls that completed.
	Personals int

	mgmtAlg           string
	mgmtKey           []byte
	pivAuth, cardAuth *ecdsa.PrivateKey // 9A, 9E
	verified          bool
	removed           bool

	// Hook, if set, is called (without the card's lock) as each operation
	// begins, with the operation's name ("Status", "Unlock", …): a test
	// may hold the card there, as a card slow to answer, or pull it. Set
	// it before the card is inserted.
	Hook func(op string)
	// BreakPersonalise, if set, makes Personalise fail with it once the
	// new keys are on the card and certified, before the serial and the
	// secrets change, as a card failing part-way; if it is (or wraps)
	// domain.ErrCardRemoved, the card has been pulled part-way and is out.
	BreakPersonalise error
}

var _ domain.Card = (*Card)(nil)

func (c *Card) hook(op string) {
	if c.Hook != nil {
		c.Hook(op)
	}
}

// NewCard returns a card with fresh 9A and 9E keys, a random AES-256
// management key and full retry counters; its keys are not certified.
func NewCard(serial domain.CardSerial, pin, puk string) *Card {
	mk := make([]byte, 32)
	rand.Read(mk) // crypto/rand.Read never fails on supported platforms
	return &Card{
		Serial: serial, PIN: pin, PUK: puk, PINTries: domain.PasscodeTries, PUKTries: domain.PUKTries,
		mgmtAlg: "AES256", mgmtKey: mk, pivAuth: newKey(), cardAuth: newKey(),
	}
}

// Issue returns a card as the service issues it: the passcode, PUK and
// management key given, and its 9A and 9E keys certified through certify
// (as domain.PersonaliseRequest.Certify).
func Issue(serial domain.CardSerial, pin string, keys domain.CardKeys, certify func(domain.KeySlot, crypto.PublicKey) ([]byte, error)) (*Card, error) {
	// A card holds only what its format allows.
	if err := checkMgmtKey(keys.MgmtAlg, keys.MgmtKey); err != nil {
		return nil, err
	}
	for _, v := range []string{pin, string(keys.PUK)} {
		if err := piv.CheckPIN(v); err != nil {
			return nil, err
		}
	}
	c := NewCard(serial, pin, string(keys.PUK))
	c.mgmtAlg, c.mgmtKey = keys.MgmtAlg, bytes.Clone(keys.MgmtKey)
	for _, k := range []struct {
		slot domain.KeySlot
		key  *ecdsa.PrivateKey
	}{{domain.KeyPIVAuth, c.pivAuth}, {domain.KeyCardAuth, c.cardAuth}} {
		der, err := certify(k.slot, k.key.Public())
		if err != nil {
			return nil, fmt.Errorf("certify the %s key: %w", k.slot, err)
		}
		if err := domain.Certifies(der, k.key.Public()); err != nil {
			return nil, fmt.Errorf("certificate for %s: %w", k.slot, err)
		}
	}
	return c, nil
}

func newKey() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err) // crypto/rand failing is not an input error
	}
	return k
}

// checkMgmtKey checks a management key against its algorithm, as the
// adapter does before it talks to the card.
func checkMgmtKey(alg string, key []byte) error {
	n, ok := map[string]int{"AES256": 32, "AES192": 24, "AES128": 16, "3DES": 24}[alg]
	switch {
	case !ok:
		return fmt.Errorf("unknown management key algorithm %q", alg)
	case len(key) != n:
		return fmt.Errorf("%s management key of %d bytes", alg, len(key))
	}
	return nil
}

// begin starts an operation as the adapter does, by selecting the card's
// application, which ends a passcode an earlier operation verified. The
// caller holds mu.
func (c *Card) begin() error {
	if c.removed {
		return domain.ErrCardRemoved
	}
	c.verified = false
	return nil
}

func (c *Card) Status(ctx context.Context) (domain.CardStatus, error) {
	c.hook("Status")
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.begin(); err != nil {
		return domain.CardStatus{}, err
	}
	return domain.CardStatus{Serial: c.Serial, PasscodeTriesLeft: c.PINTries, Blocked: c.PINTries == 0}, nil
}

func (c *Card) Sign(ctx context.Context, digest []byte) ([]byte, error) {
	c.hook("Sign")
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.begin(); err != nil {
		return nil, err
	}
	return ecdsa.SignASN1(rand.Reader, c.cardAuth, digest)
}

// verify checks a passcode as the card and adapter do: a blocked card
// checks nothing; one the card's format refuses costs no try; the try that
// blocks the card is both ErrCardBlocked and *PasscodeError{0}.
func (c *Card) verify(pin string) error {
	if c.PINTries == 0 {
		return domain.ErrCardBlocked
	}
	if piv.CheckPIN(pin) != nil {
		return &domain.PasscodeError{TriesLeft: c.PINTries}
	}
	if pin != c.PIN {
		c.PINTries--
		if c.PINTries == 0 {
			return fmt.Errorf("%w: %w", domain.ErrCardBlocked, &domain.PasscodeError{TriesLeft: 0})
		}
		return &domain.PasscodeError{TriesLeft: c.PINTries}
	}
	c.PINTries = domain.PasscodeTries
	c.verified = true
	return nil
}

func (c *Card) SignWithPasscode(ctx context.Context, passcode string, digest []byte) ([]byte, error) {
	c.hook("SignWithPasscode")
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.begin(); err != nil {
		return nil, err
	}
	if err := c.verify(passcode); err != nil {
		return nil, err
	}
	return ecdsa.SignASN1(rand.Reader, c.pivAuth, digest)
}

func (c *Card) VerifyPasscode(ctx context.Context, passcode string) error {
	c.hook("VerifyPasscode")
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.begin(); err != nil {
		return err
	}
	return c.verify(passcode)
}

// checkNew refuses a new passcode the card's format does not allow before
// anything reaches the card.
func checkNew(pin string) error {
	if err := piv.CheckPIN(pin); err != nil {
		return fmt.Errorf("%w: %w", domain.ErrPasscodePolicy, err)
	}
	return nil
}

func (c *Card) ChangePasscode(ctx context.Context, old, newPIN string) error {
	if err := checkNew(newPIN); err != nil {
		return err
	}
	c.hook("ChangePasscode")
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.begin(); err != nil {
		return err
	}
	if err := c.verify(old); err != nil {
		return err
	}
	// CHANGE REFERENCE DATA checks the old passcode without verifying it.
	c.PIN, c.verified = newPIN, false
	return nil
}

// checkPUK checks the PUK against its own counter; a wrong one is the
// service's record disagreeing with the card.
func (c *Card) checkPUK(puk []byte) error {
	if c.PUKTries == 0 {
		return fmt.Errorf("%w: the PUK is blocked", domain.ErrCardSecretRejected)
	}
	if string(puk) != c.PUK {
		c.PUKTries--
		return fmt.Errorf("%w: wrong PUK (%d tries left)", domain.ErrCardSecretRejected, c.PUKTries)
	}
	c.PUKTries = domain.PUKTries
	return nil
}

func (c *Card) Unlock(ctx context.Context, puk []byte, newPIN string) error {
	if err := checkNew(newPIN); err != nil {
		return err
	}
	if piv.CheckPIN(string(puk)) != nil {
		return fmt.Errorf("%w: the recorded PUK is malformed", domain.ErrCardSecretRejected)
	}
	c.hook("Unlock")
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.begin(); err != nil {
		return err
	}
	if err := c.checkPUK(puk); err != nil {
		return err
	}
	c.PIN, c.PINTries = newPIN, domain.PasscodeTries
	return c.verify(newPIN)
}

// Personalise authenticates with the current management key, replaces the
// 9A and 9E keys with certified new ones, writes the serial, then changes
// the PUK and the management key, in the adapter's order.
func (c *Card) Personalise(ctx context.Context, req domain.PersonaliseRequest) error {
	if err := checkMgmtKey(req.Current.MgmtAlg, req.Current.MgmtKey); err != nil {
		return fmt.Errorf("personalise: current keys: %w", err)
	}
	if err := checkMgmtKey(req.New.MgmtAlg, req.New.MgmtKey); err != nil {
		return fmt.Errorf("personalise: new keys: %w", err)
	}
	for _, puk := range [][]byte{req.Current.PUK, req.New.PUK} {
		if err := piv.CheckPIN(string(puk)); err != nil {
			return fmt.Errorf("personalise: PUK: %w", err)
		}
	}
	if _, err := domain.ParseCardSerial(string(req.Serial)); err != nil {
		return fmt.Errorf("personalise: %w", err)
	}
	if req.Certify == nil {
		return errors.New("personalise: no Certify function")
	}
	c.hook("Personalise")
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.begin(); err != nil {
		return err
	}
	if req.Current.MgmtAlg != c.mgmtAlg || !bytes.Equal(req.Current.MgmtKey, c.mgmtKey) {
		return fmt.Errorf("personalise: %w: wrong management key", domain.ErrCardSecretRejected)
	}
	for _, slot := range []domain.KeySlot{domain.KeyPIVAuth, domain.KeyCardAuth} {
		k := newKey()
		if slot == domain.KeyPIVAuth {
			c.pivAuth = k
		} else {
			c.cardAuth = k
		}
		der, err := req.Certify(slot, k.Public())
		if err != nil {
			return fmt.Errorf("personalise: certify the %s key: %w", slot, err)
		}
		if err := domain.Certifies(der, k.Public()); err != nil {
			return fmt.Errorf("personalise: certificate for %s: %w", slot, err)
		}
	}
	if err := c.BreakPersonalise; err != nil {
		if errors.Is(err, domain.ErrCardRemoved) {
			c.removed, c.verified = true, false
		}
		return err
	}
	c.Serial = req.Serial
	if string(req.Current.PUK) != string(req.New.PUK) {
		if err := c.checkPUK(req.Current.PUK); err != nil {
			return fmt.Errorf("personalise: %w", err)
		}
		c.PUK = string(req.New.PUK)
	}
	c.mgmtAlg, c.mgmtKey = req.New.MgmtAlg, bytes.Clone(req.New.MgmtKey)
	c.Personals++
	return nil
}

// Close ends the session: like a disconnect that resets the card, the
// verified passcode does not outlive it.
func (c *Card) Close() error {
	c.Reset()
	return nil
}

// Reset resets the card, as a power glitch or another application does:
// the verified passcode is gone.
func (c *Card) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.verified = false
}

// PasscodeVerified reports whether the card holds its passcode as verified.
func (c *Card) PasscodeVerified() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.verified
}

// SetRemoved pulls the card out (true) or puts it back; leaving the reader
// cuts the card's power, so the verified passcode is gone.
func (c *Card) SetRemoved(v bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removed = v
	if v {
		c.verified = false
	}
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

// NewCA returns the service's real certificate authority (cardio/ca) in a
// temporary directory of t. Its certificates start five years back, so
// that tests on a clock set in the past can issue and verify.
func NewCA(t testing.TB) domain.CertificateAuthority {
	t.Helper()
	a, err := ca.Generate(t.TempDir(), time.Now().AddDate(-5, 0, 0))
	if err != nil {
		t.Fatalf("generate CA: %v", err)
	}
	return ca.ForDomain(a)
}

// Readers is a holder reader and an operator reader (the operator
// terminal's second one), each holding at most one fake card.
type Readers struct {
	mu        sync.Mutex
	card      *Card // in the holder's reader
	opCard    *Card // in the operator's reader
	events    chan domain.CardEvent
	openErr   error
	eventsErr error
	down      bool // the card service is lost (LoseService)

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

// LoseService reports the card service gone, as the real readers do when
// pcscd stops: the card stays in the reader but cannot be opened until
// RestoreService.
func (r *Readers) LoseService() {
	r.mu.Lock()
	r.down = true
	r.mu.Unlock()
	r.events <- domain.CardEvent{Role: domain.ReaderHolder, Unavailable: true}
}

// RestoreService brings the card service back: the reader is usable, and
// a card still in it is reported present again.
func (r *Readers) RestoreService() {
	r.mu.Lock()
	r.down = false
	in := r.card != nil
	r.mu.Unlock()
	r.events <- domain.CardEvent{Role: domain.ReaderHolder}
	if in {
		r.events <- domain.CardEvent{Role: domain.ReaderHolder, Present: true}
	}
}

// NewReaders returns an empty reader.
func NewReaders() *Readers { return &Readers{events: make(chan domain.CardEvent, 16)} }

// Insert puts c in the holder's reader (nil takes the card out).
func (r *Readers) Insert(c *Card) { r.InsertInto(domain.ReaderHolder, c) }

// InsertOperator puts c in the operator's reader (nil takes the card
// out).
func (r *Readers) InsertOperator(c *Card) { r.InsertInto(domain.ReaderOperator, c) }

// InsertInto puts c in the reader of role (nil takes the card out).
func (r *Readers) InsertInto(role domain.ReaderRole, c *Card) {
	r.mu.Lock()
	slot := &r.card
	if role == domain.ReaderOperator {
		slot = &r.opCard
	}
	if *slot != nil && *slot != c {
		(*slot).SetRemoved(true)
	}
	*slot = c
	if c != nil {
		c.SetRemoved(false)
	}
	r.mu.Unlock()
	r.events <- domain.CardEvent{Role: role, Present: c != nil}
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
	card := r.card
	switch role {
	case domain.ReaderHolder:
	case domain.ReaderOperator:
		card = r.opCard
	default:
		return nil, domain.ErrReaderUnavailable
	}
	if r.openErr != nil {
		return nil, r.openErr
	}
	if r.down {
		return nil, fmt.Errorf("%w: card service lost", domain.ErrReaderUnavailable)
	}
	if card == nil {
		return nil, domain.ErrNoCard
	}
	return card, nil
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
	// HashAnswers hashes the answers as a registration holds them
	// (secret.HashAnswerSets with cheap test parameters).
	HashAnswers func(answers map[domain.QuestionID]string) ([]domain.AnswerSet, error)
	// Seal seals the PUK and management key (secret.Keys.SealCard).
	Seal func(serial domain.CardSerial, puk, mgmtKey []byte) (domain.CardSecrets, error)
}

// Enrol stores the holder, their card (its keys certified by authority)
// and, if Answers is set, their registration; it returns the card.
func Enrol(ctx context.Context, s domain.Store, authority domain.CertificateAuthority, h Holder) (*Card, error) {
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
	mgmtKey := make([]byte, 32)
	rand.Read(mgmtKey) // crypto/rand.Read never fails on supported platforms
	certs := map[domain.KeySlot][]byte{}
	// The service's certificates last two years.
	card, err := Issue(h.Serial, h.PIN, domain.CardKeys{MgmtAlg: "AES256", MgmtKey: mgmtKey, PUK: []byte(h.PUK)},
		func(slot domain.KeySlot, pub crypto.PublicKey) ([]byte, error) {
			der, err := authority.Issue(pub, h.ID, h.Serial, slot, h.CertExpiry.AddDate(-2, 0, 0), h.CertExpiry)
			certs[slot] = der
			return der, err
		})
	if err != nil {
		return nil, fmt.Errorf("enrol %s: %w", h.ID, err)
	}
	if h.Blocked {
		card.PINTries = 0
	}
	err = s.InTx(ctx, func(q domain.Queries) error {
		if err := q.PutUser(ctx, domain.User{ID: h.ID, Title: h.Title, GivenName: h.Given, FamilyName: h.Family, Email: h.Email, CreatedAt: now}); err != nil {
			return err
		}
		rec := domain.Smartcard{Serial: h.Serial, UserID: h.ID, Type: "PIV", IssuedAt: now.AddDate(-1, 0, 0), CertExpiry: h.CertExpiry,
			CardAuthCert: certs[domain.KeyCardAuth], PIVAuthCert: certs[domain.KeyPIVAuth], RenewalsSinceOperator: h.Renewals}
		if h.Cancelled {
			rec.CancelledAt, rec.CancelReason = now, h.Reason
		}
		if err := q.PutSmartcard(ctx, rec); err != nil {
			return err
		}
		sealed, err := h.Seal(h.Serial, []byte(h.PUK), mgmtKey)
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
		if reg.Sets, err = h.HashAnswers(h.Answers); err != nil {
			return err
		}
		return q.PutRegistration(ctx, reg)
	})
	if err != nil {
		return nil, fmt.Errorf("enrol %s: %w", h.ID, err)
	}
	return card, nil
}

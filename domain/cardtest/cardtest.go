// Package cardtest is the conformance suite every domain.Card must pass.
// It runs against the real adapter (cardio/pivcard over the software card,
// in-process and through pcscd) and against the test double the domain and
// screen tests use (internal/sstest), so that a test passing
// against the double means what it would mean against a card.
//
// Each implementation's tests call Run with a certificate authority and a
// function that makes a card in a known state and puts it in a reader.
package cardtest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
)

// Spec is the state a fresh card is made in.
type Spec struct {
	Serial   domain.CardSerial
	Passcode string
	Keys     domain.CardKeys // the PUK and management key the card holds
	Blocked  bool            // no passcode tries left
	// Certify certifies the keys the card holds in slots 9A and 9E: call
	// it once per slot, as domain.PersonaliseRequest.Certify is called.
	Certify func(slot domain.KeySlot, pub crypto.PublicKey) ([]byte, error)
}

// Reader holds a card made for one test and does to it what people and
// other programs do. Its methods fail the test instead of returning errors.
type Reader interface {
	// Card is the port on the card, opened when the card was made, last
	// inserted or reopened.
	Card() domain.Card
	// Pull takes the card out of the reader.
	Pull()
	// Insert puts the card back and opens a new port on it, as the kiosk
	// does when it sees a card arrive.
	Insert()
	// PullDuringNext makes the card leave the reader while the next
	// operation is under way, before the card answers it.
	PullDuringNext()
	// Reset resets the card between two operations, as a power glitch or
	// another application does; the port stays open.
	Reset()
	// Reopen closes the port and opens a new one on the card, which stays
	// in the reader: a new session.
	Reopen()
	// PasscodeVerified asks the card itself, outside the port and without
	// changing its state, whether it holds its passcode as verified now,
	// as another application would find it (PIV: VERIFY with no data).
	PasscodeVerified() bool
}

// NewCard makes a card in the state spec gives and puts it in a reader;
// whatever it starts ends at t's cleanup.
type NewCard func(t *testing.T, spec Spec) Reader

// The card every test starts from, and what tests change it to.
const (
	user        = domain.UserID("555001799894")
	serial      = domain.CardSerial("4082A001132F2817")
	otherSerial = domain.CardSerial("4082A00100000011")
	passcode    = "1357"
	newPasscode = "2468"
	puk         = "87654321"
)

// wrongPasscode is the i-th well-formed passcode that is not the card's.
func wrongPasscode(i int) string { return fmt.Sprintf("90%02d", i) }

// wrongPUK is the i-th well-formed PUK that is not the card's.
func wrongPUK(i int) []byte { return fmt.Appendf(nil, "000000%02d", i) }

// Passcodes and PUKs the card's format (4–8 printable ASCII characters)
// refuses, so they must never cost a try.
var malformed = []string{"", "135", "135713571", "13\x007", "13é7"}

// Run runs the suite; each test makes its own card with newCard.
func Run(t *testing.T, ca domain.CertificateAuthority, newCard NewCard) {
	tests := []struct {
		name    string
		blocked bool
		fn      func(t *testing.T, f *fixture)
	}{
		{"Status", false, testStatus},
		{"Genuine", false, testGenuine},
		{"Genuine/OtherKey", false, testNotGenuine},
		{"SignWithPasscode", false, testSignWithPasscode},
		{"VerifyPasscode", false, testVerifyPasscode},
		{"VerifyPasscode/BlockingTry", false, testBlockingTry(opVerify)},
		{"SignWithPasscode/BlockingTry", false, testBlockingTry(opSignWithPasscode)},
		{"ChangePasscode/BlockingTry", false, testBlockingTry(opChange)},
		{"Blocked", true, testBlocked},
		{"ChangePasscode", false, testChangePasscode},
		{"Unlock", true, testUnlock},
		{"Unlock/WrongPUK", true, testWrongPUK},
		{"Personalise/NewSecrets", false, testPersonalise(true)},
		{"Personalise/SameSecrets", false, testPersonalise(false)},
		{"Personalise/WrongManagementKey", false, testWrongManagementKey},
		{"Removed/BetweenOperations", false, testRemovedBetween},
		{"Removed/DuringOperation", false, testRemovedDuring},
		{"Verified", false, testVerified},
		{"Reset", false, testReset},
		{"NewSession", false, testNewSession},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newFixture(t, ca, newCard, tc.blocked))
		})
	}
}

// fixture is one test's card and what the service recorded when it
// issued it.
type fixture struct {
	ca   domain.CertificateAuthority
	r    Reader
	keys domain.CardKeys
	rec  domain.Smartcard // with the 9E certificate, as the store keeps it
	// pivAuth is the 9A certificate.
	pivAuth []byte
}

func newFixture(t *testing.T, ca domain.CertificateAuthority, newCard NewCard, blocked bool) *fixture {
	t.Helper()
	f := &fixture{ca: ca, keys: newKeys(t, "AES256", puk)}
	certs := &certified{}
	f.r = newCard(t, Spec{
		Serial: serial, Passcode: passcode, Keys: cloneKeys(f.keys), Blocked: blocked,
		Certify: f.certifier(serial, certs),
	})
	if got := certs.slots(); !slices.Equal(got, []domain.KeySlot{domain.KeyPIVAuth, domain.KeyCardAuth}) {
		t.Fatalf("the harness certified slots %v, want 9A and 9E", got)
	}
	f.rec = domain.Smartcard{Serial: serial, UserID: user, CardAuthCert: certs.get(domain.KeyCardAuth)}
	f.pivAuth = certs.get(domain.KeyPIVAuth)
	return f
}

func (f *fixture) card() domain.Card { return f.r.Card() }

// certified keeps the certificates a Certify function issued, by slot.
type certified struct {
	mu    sync.Mutex
	certs map[domain.KeySlot][]byte
}

func (c *certified) get(slot domain.KeySlot) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.certs[slot]
}

func (c *certified) slots() []domain.KeySlot {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Sorted(maps.Keys(c.certs))
}

// certifier issues certificates for the user's card with serial s through
// the CA, as the service does, and keeps them in into.
func (f *fixture) certifier(s domain.CardSerial, into *certified) func(domain.KeySlot, crypto.PublicKey) ([]byte, error) {
	now := time.Now()
	return func(slot domain.KeySlot, pub crypto.PublicKey) ([]byte, error) {
		into.mu.Lock()
		defer into.mu.Unlock()
		if _, dup := into.certs[slot]; dup {
			return nil, fmt.Errorf("slot %s certified twice", slot)
		}
		der, err := f.ca.Issue(pub, user, s, slot, now.Add(-time.Hour), now.AddDate(1, 0, 0))
		if err != nil {
			return nil, err
		}
		if into.certs == nil {
			into.certs = map[domain.KeySlot][]byte{}
		}
		into.certs[slot] = der
		return der, nil
	}
}

// refuseCertify fails the test if the card gets as far as certifying.
func refuseCertify(t *testing.T) func(domain.KeySlot, crypto.PublicKey) ([]byte, error) {
	return func(slot domain.KeySlot, _ crypto.PublicKey) ([]byte, error) {
		t.Errorf("the card generated a %s key without the management key", slot)
		return nil, errors.New("not to be certified")
	}
}

func newKeys(t *testing.T, alg string, puk string) domain.CardKeys {
	t.Helper()
	n := map[string]int{"AES128": 16, "AES192": 24, "AES256": 32, "3DES": 24}[alg]
	k := make([]byte, n)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return domain.CardKeys{MgmtAlg: alg, MgmtKey: k, PUK: []byte(puk)}
}

// cloneKeys copies k: callers such as the domain clear the secrets they
// hand over once the operation is done.
func cloneKeys(k domain.CardKeys) domain.CardKeys {
	return domain.CardKeys{MgmtAlg: k.MgmtAlg, MgmtKey: bytes.Clone(k.MgmtKey), PUK: bytes.Clone(k.PUK)}
}

var digest = sha256.Sum256([]byte("a challenge from the kiosk"))

// certKey is the public key a certificate certifies.
func certKey(t *testing.T, der []byte) *ecdsa.PublicKey {
	t.Helper()
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		t.Fatalf("certificate key is %T, want ECDSA", cert.PublicKey)
	}
	return pub
}

func noErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got %v, want %v", what, err, target)
	}
}

// wantWrong checks the error of a refused passcode: a *PasscodeError with
// the tries left, which matches ErrCardBlocked exactly when it was the try
// that blocked the card.
func wantWrong(t *testing.T, what string, err error, left int) {
	t.Helper()
	var pe *domain.PasscodeError
	if !errors.As(err, &pe) || pe.TriesLeft != left || !errors.Is(err, domain.ErrWrongPasscode) {
		t.Fatalf("%s: got %v, want *domain.PasscodeError{TriesLeft: %d}", what, err, left)
	}
	if blocked := errors.Is(err, domain.ErrCardBlocked); blocked != (left == 0) {
		t.Fatalf("%s: %v: matches ErrCardBlocked = %v, want %v", what, err, blocked, left == 0)
	}
}

// wantBlocked checks the error of a blocked card, which did not check the
// passcode: ErrCardBlocked and no *PasscodeError.
func wantBlocked(t *testing.T, what string, err error) {
	t.Helper()
	var pe *domain.PasscodeError
	if !errors.Is(err, domain.ErrCardBlocked) || errors.As(err, &pe) {
		t.Fatalf("%s: got %v, want ErrCardBlocked without a passcode error", what, err)
	}
}

// wantRejected checks the error of a refused PUK or management key, which
// is not about the passcode.
func wantRejected(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, domain.ErrCardSecretRejected) {
		t.Fatalf("%s: got %v, want ErrCardSecretRejected", what, err)
	}
	if errors.Is(err, domain.ErrWrongPasscode) || errors.Is(err, domain.ErrCardBlocked) {
		t.Fatalf("%s: %v: a refused card secret reads as a passcode error", what, err)
	}
}

func wantStatus(t *testing.T, card domain.Card, want domain.CardStatus) {
	t.Helper()
	got, err := card.Status(t.Context())
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	if got != want {
		t.Fatalf("status %+v, want %+v", got, want)
	}
}

// full is the status of the fixture's card with all its passcode tries.
func full(s domain.CardSerial) domain.CardStatus {
	return domain.CardStatus{Serial: s, PasscodeTriesLeft: domain.PasscodeTries}
}

func triesLeft(n int) domain.CardStatus {
	return domain.CardStatus{Serial: serial, PasscodeTriesLeft: n, Blocked: n == 0}
}

func testStatus(t *testing.T, f *fixture) {
	wantStatus(t, f.card(), full(serial))
}

func testGenuine(t *testing.T, f *fixture) {
	ctx := t.Context()
	noErr(t, "genuine-card check", domain.ProveGenuine(ctx, f.card(), f.rec, f.ca, nil))
	sig, err := f.card().Sign(ctx, digest[:])
	noErr(t, "sign", err)
	if !ecdsa.VerifyASN1(certKey(t, f.rec.CardAuthCert), digest[:], sig) {
		t.Fatal("Sign did not sign with the certified 9E key")
	}
}

// A card whose 9E key is not the one the service certified is not genuine,
// whatever serial it reports.
func testNotGenuine(t *testing.T, f *fixture) {
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	noErr(t, "generate key", err)
	now := time.Now()
	der, err := f.ca.Issue(other.Public(), user, serial, domain.KeyCardAuth, now.Add(-time.Hour), now.AddDate(1, 0, 0))
	noErr(t, "issue", err)
	rec := f.rec
	rec.CardAuthCert = der
	wantErr(t, "genuine-card check against another key's certificate",
		domain.ProveGenuine(t.Context(), f.card(), rec, f.ca, nil), domain.ErrCardNotGenuine)
}

func testSignWithPasscode(t *testing.T, f *fixture) {
	ctx := t.Context()
	sig, err := f.card().SignWithPasscode(ctx, passcode, digest[:])
	noErr(t, "sign with the passcode", err)
	if !ecdsa.VerifyASN1(certKey(t, f.pivAuth), digest[:], sig) {
		t.Fatal("SignWithPasscode did not sign with the certified 9A key")
	}
	if ecdsa.VerifyASN1(certKey(t, f.rec.CardAuthCert), digest[:], sig) {
		t.Fatal("SignWithPasscode signed with the 9E key")
	}
	n := domain.PasscodeTries
	sig, err = f.card().SignWithPasscode(ctx, wrongPasscode(1), digest[:])
	wantWrong(t, "sign with a wrong passcode", err, n-1)
	if sig != nil {
		t.Fatal("signed with a wrong passcode")
	}
	_, err = f.card().SignWithPasscode(ctx, "1", digest[:])
	wantWrong(t, "sign with a malformed passcode (no try)", err, n-1)
	wantStatus(t, f.card(), triesLeft(n-1))
}

func testVerifyPasscode(t *testing.T, f *fixture) {
	ctx := t.Context()
	n := domain.PasscodeTries
	steps := []struct {
		name     string
		passcode string
		left     int // tries left after the step; accepted when n
	}{
		{"right", passcode, n},
		{"wrong", wrongPasscode(1), n - 1},
		{"right resets the counter", passcode, n},
		{"wrong again", wrongPasscode(2), n - 1},
	}
	for _, bad := range malformed {
		steps = append(steps, struct {
			name     string
			passcode string
			left     int
		}{fmt.Sprintf("malformed %q costs no try", bad), bad, n - 1})
	}
	for _, s := range steps {
		err := f.card().VerifyPasscode(ctx, s.passcode)
		if s.left == n {
			noErr(t, s.name, err)
		} else {
			wantWrong(t, s.name, err, s.left)
		}
		wantStatus(t, f.card(), triesLeft(s.left))
	}
}

// passcodeOp is a port operation that checks the passcode.
type passcodeOp struct {
	name string
	do   func(ctx context.Context, c domain.Card, passcode string) error
}

var (
	opVerify = passcodeOp{"verify", func(ctx context.Context, c domain.Card, p string) error {
		return c.VerifyPasscode(ctx, p)
	}}
	opSignWithPasscode = passcodeOp{"sign with the passcode", func(ctx context.Context, c domain.Card, p string) error {
		_, err := c.SignWithPasscode(ctx, p, digest[:])
		return err
	}}
	opChange = passcodeOp{"change passcode", func(ctx context.Context, c domain.Card, p string) error {
		return c.ChangePasscode(ctx, p, newPasscode)
	}}
)

// testBlockingTry counts the passcode's tries down with op: the last one
// blocks the card and says so both ways (ErrCardBlocked and
// *PasscodeError{0}); then even the right passcode is refused.
func testBlockingTry(op passcodeOp) func(t *testing.T, f *fixture) {
	return func(t *testing.T, f *fixture) {
		ctx := t.Context()
		for left := domain.PasscodeTries - 1; left >= 0; left-- {
			err := op.do(ctx, f.card(), wrongPasscode(left))
			wantWrong(t, fmt.Sprintf("%s, wrong with %d left", op.name, left+1), err, left)
			wantStatus(t, f.card(), triesLeft(left))
		}
		wantBlocked(t, op.name+" with the right passcode on a blocked card", op.do(ctx, f.card(), passcode))
		wantBlocked(t, op.name+" with a malformed passcode on a blocked card", op.do(ctx, f.card(), "1"))
		wantStatus(t, f.card(), triesLeft(0))
	}
}

// A blocked card refuses every passcode but still proves itself genuine,
// which unlocking it needs.
func testBlocked(t *testing.T, f *fixture) {
	ctx := t.Context()
	wantStatus(t, f.card(), triesLeft(0))
	for _, op := range []passcodeOp{opVerify, opSignWithPasscode, opChange} {
		wantBlocked(t, op.name+" on a blocked card", op.do(ctx, f.card(), passcode))
	}
	noErr(t, "genuine-card check of a blocked card", domain.ProveGenuine(ctx, f.card(), f.rec, f.ca, nil))
	wantStatus(t, f.card(), triesLeft(0))
}

func testChangePasscode(t *testing.T, f *fixture) {
	ctx := t.Context()
	n := domain.PasscodeTries
	// A new passcode the card would refuse is refused before the current
	// one is checked: no try is spent, even on a wrong current passcode.
	for _, bad := range malformed {
		for _, current := range []string{passcode, wrongPasscode(1)} {
			err := f.card().ChangePasscode(ctx, current, bad)
			wantErr(t, fmt.Sprintf("change %q to %q", current, bad), err, domain.ErrPasscodePolicy)
		}
	}
	wantStatus(t, f.card(), triesLeft(n))
	wantWrong(t, "wrong current passcode", f.card().ChangePasscode(ctx, wrongPasscode(1), newPasscode), n-1)
	wantWrong(t, "malformed current passcode (no try)", f.card().ChangePasscode(ctx, "1", newPasscode), n-1)
	noErr(t, "change passcode", f.card().ChangePasscode(ctx, passcode, newPasscode))
	wantStatus(t, f.card(), triesLeft(n))
	noErr(t, "verify the new passcode", f.card().VerifyPasscode(ctx, newPasscode))
	wantWrong(t, "verify the old passcode", f.card().VerifyPasscode(ctx, passcode), n-1)
}

func testUnlock(t *testing.T, f *fixture) {
	ctx := t.Context()
	for _, bad := range malformed {
		err := f.card().Unlock(ctx, f.keys.PUK, bad)
		wantErr(t, fmt.Sprintf("unlock to %q", bad), err, domain.ErrPasscodePolicy)
	}
	wantStatus(t, f.card(), triesLeft(0))
	noErr(t, "unlock", f.card().Unlock(ctx, f.keys.PUK, newPasscode))
	if !f.r.PasscodeVerified() {
		t.Fatal("Unlock did not verify the new passcode")
	}
	// What the domain shows after an unlock is read back from the card.
	wantStatus(t, f.card(), triesLeft(domain.PasscodeTries))
	noErr(t, "verify the new passcode", f.card().VerifyPasscode(ctx, newPasscode))
	wantWrong(t, "verify the old passcode", f.card().VerifyPasscode(ctx, passcode), domain.PasscodeTries-1)
}

// A wrong PUK is the service's record disagreeing with the card, never the
// holder's passcode; the PUK blocks after domain.PUKTries wrong ones.
func testWrongPUK(t *testing.T, f *fixture) {
	ctx := t.Context()
	const refused = "3579" // what the refused unlocks try to set
	for _, bad := range malformed {
		wantRejected(t, fmt.Sprintf("unlock with PUK %q", bad), f.card().Unlock(ctx, []byte(bad), refused))
	}
	for i := 1; i < domain.PUKTries; i++ {
		wantRejected(t, fmt.Sprintf("wrong PUK #%d", i), f.card().Unlock(ctx, wrongPUK(i), refused))
	}
	wantStatus(t, f.card(), triesLeft(0))
	// One try was left (malformed PUKs cost none); the right PUK restores
	// all of them.
	noErr(t, "unlock with the PUK's last try", f.card().Unlock(ctx, f.keys.PUK, newPasscode))
	for i := 1; i <= domain.PUKTries; i++ {
		wantRejected(t, fmt.Sprintf("wrong PUK #%d after an unlock", i), f.card().Unlock(ctx, wrongPUK(i), refused))
	}
	wantRejected(t, "the right PUK once blocked", f.card().Unlock(ctx, f.keys.PUK, refused))
	wantStatus(t, f.card(), triesLeft(domain.PasscodeTries))
	noErr(t, "the passcode set by the last unlock", f.card().VerifyPasscode(ctx, newPasscode))
}

// testPersonalise gives the card new keys and certificates, and with
// newSecrets also a new PUK, management key (of another algorithm) and
// serial, as a repair or re-issue does; without, as a renewal does.
func testPersonalise(newSecrets bool) func(t *testing.T, f *fixture) {
	return func(t *testing.T, f *fixture) {
		ctx := t.Context()
		next, to := cloneKeys(f.keys), serial
		if newSecrets {
			next, to = newKeys(t, "AES128", "24681357"), otherSerial
		}
		certs := &certified{}
		noErr(t, "personalise", f.card().Personalise(ctx, domain.PersonaliseRequest{
			Serial: to, CHUIDExpiry: time.Now().AddDate(1, 0, 0), Current: cloneKeys(f.keys), New: cloneKeys(next),
			Certify: f.certifier(to, certs),
		}))
		if got := certs.slots(); !slices.Equal(got, []domain.KeySlot{domain.KeyPIVAuth, domain.KeyCardAuth}) {
			t.Fatalf("certified slots %v, want 9A and 9E", got)
		}
		rec := domain.Smartcard{Serial: to, UserID: user, CardAuthCert: certs.get(domain.KeyCardAuth)}
		noErr(t, "genuine-card check against the new certificate", domain.ProveGenuine(ctx, f.card(), rec, f.ca, nil))
		wantErr(t, "genuine-card check against the old certificate",
			domain.ProveGenuine(ctx, f.card(), f.rec, f.ca, nil), domain.ErrCardNotGenuine)
		wantStatus(t, f.card(), full(to))
		sig, err := f.card().SignWithPasscode(ctx, passcode, digest[:])
		noErr(t, "sign with the unchanged passcode", err)
		if !ecdsa.VerifyASN1(certKey(t, certs.get(domain.KeyPIVAuth)), digest[:], sig) {
			t.Fatal("the new 9A key is not the certified one")
		}
		if newSecrets {
			wantRejected(t, "personalise with the old management key", f.card().Personalise(ctx, domain.PersonaliseRequest{
				Serial: to, CHUIDExpiry: time.Now().AddDate(1, 0, 0), Current: cloneKeys(f.keys), New: cloneKeys(next),
				Certify: refuseCertify(t),
			}))
			wantRejected(t, "unlock with the old PUK", f.card().Unlock(ctx, f.keys.PUK, newPasscode))
		}
		noErr(t, "unlock with the PUK now held", f.card().Unlock(ctx, next.PUK, newPasscode))
		noErr(t, "personalise with the management key now held", f.card().Personalise(ctx, domain.PersonaliseRequest{
			Serial: to, CHUIDExpiry: time.Now().AddDate(1, 0, 0), Current: cloneKeys(next), New: cloneKeys(next),
			Certify: f.certifier(to, &certified{}),
		}))
	}
}

// A management key the card does not hold changes nothing: no keys, no
// certificates, no secrets.
func testWrongManagementKey(t *testing.T, f *fixture) {
	ctx := t.Context()
	for _, cur := range []domain.CardKeys{
		newKeys(t, f.keys.MgmtAlg, puk), // another key
		newKeys(t, "3DES", puk),         // another algorithm
	} {
		err := f.card().Personalise(ctx, domain.PersonaliseRequest{
			Serial: otherSerial, CHUIDExpiry: time.Now().AddDate(1, 0, 0), Current: cur, New: newKeys(t, "AES256", "24681357"),
			Certify: refuseCertify(t),
		})
		wantRejected(t, "personalise with a "+cur.MgmtAlg+" key the card does not hold", err)
	}
	noErr(t, "genuine-card check against the old certificate", domain.ProveGenuine(ctx, f.card(), f.rec, f.ca, nil))
	wantStatus(t, f.card(), full(serial))
	noErr(t, "unlock with the unchanged PUK", f.card().Unlock(ctx, f.keys.PUK, newPasscode))
	noErr(t, "personalise with the unchanged management key", f.card().Personalise(ctx, domain.PersonaliseRequest{
		Serial: serial, CHUIDExpiry: time.Now().AddDate(1, 0, 0), Current: cloneKeys(f.keys), New: cloneKeys(f.keys),
		Certify: f.certifier(serial, &certified{}),
	}))
}

// op is one port operation, with arguments that would succeed.
type op struct {
	name string
	do   func(ctx context.Context, c domain.Card) error
}

func (f *fixture) ops() []op {
	return []op{
		{"Status", func(ctx context.Context, c domain.Card) error { _, err := c.Status(ctx); return err }},
		{"Sign", func(ctx context.Context, c domain.Card) error { _, err := c.Sign(ctx, digest[:]); return err }},
		{"SignWithPasscode", func(ctx context.Context, c domain.Card) error {
			_, err := c.SignWithPasscode(ctx, passcode, digest[:])
			return err
		}},
		{"VerifyPasscode", func(ctx context.Context, c domain.Card) error { return c.VerifyPasscode(ctx, passcode) }},
		{"ChangePasscode", func(ctx context.Context, c domain.Card) error { return c.ChangePasscode(ctx, passcode, newPasscode) }},
		{"Unlock", func(ctx context.Context, c domain.Card) error { return c.Unlock(ctx, f.keys.PUK, newPasscode) }},
		{"Personalise", func(ctx context.Context, c domain.Card) error {
			return c.Personalise(ctx, domain.PersonaliseRequest{
				Serial: serial, CHUIDExpiry: time.Now().AddDate(1, 0, 0), Current: cloneKeys(f.keys), New: cloneKeys(f.keys),
				Certify: f.certifier(serial, &certified{}),
			})
		}},
	}
}

// A card pulled out fails every operation with ErrCardRemoved, and keeps
// its retry counter for when it comes back.
func testRemovedBetween(t *testing.T, f *fixture) {
	ctx := t.Context()
	n := domain.PasscodeTries
	wantWrong(t, "wrong passcode", f.card().VerifyPasscode(ctx, wrongPasscode(1)), n-1)
	card := f.card()
	f.r.Pull()
	for _, o := range f.ops() {
		wantErr(t, o.name+" with the card out", o.do(ctx, card), domain.ErrCardRemoved)
	}
	f.r.Insert()
	wantStatus(t, f.card(), triesLeft(n-1))
	noErr(t, "genuine-card check after reinsertion", domain.ProveGenuine(ctx, f.card(), f.rec, f.ca, nil))
}

// A card pulled while an operation is under way fails it with
// ErrCardRemoved, and the port stays unusable; the card works again once
// it is back. What the interrupted command did to the card is not known,
// as with a real card.
func testRemovedDuring(t *testing.T, f *fixture) {
	ctx := t.Context()
	for _, o := range f.ops() {
		card := f.card()
		f.r.PullDuringNext()
		wantErr(t, o.name+" while the card is pulled", o.do(ctx, card), domain.ErrCardRemoved)
		wantErr(t, o.name+" again after the pull", o.do(ctx, card), domain.ErrCardRemoved)
		f.r.Insert()
		st, err := f.card().Status(ctx)
		noErr(t, "status after reinsertion", err)
		if st.Serial != serial {
			t.Fatalf("after %s: serial %s, want %s", o.name, st.Serial, serial)
		}
	}
}

// The card holds a passcode it accepted as verified only until the next
// operation, which starts afresh (the adapter selects the card's
// application, and the card forgets), or until a wrong passcode: nothing
// may rely on a passcode verified by an earlier operation.
func testVerified(t *testing.T, f *fixture) {
	ctx := t.Context()
	noErr(t, "verify", f.card().VerifyPasscode(ctx, passcode))
	if !f.r.PasscodeVerified() {
		t.Fatal("the card does not hold the passcode it accepted as verified")
	}
	wantStatus(t, f.card(), full(serial))
	if f.r.PasscodeVerified() {
		t.Fatal("a verified passcode outlived the next operation")
	}
	noErr(t, "verify", f.card().VerifyPasscode(ctx, passcode))
	wantWrong(t, "a wrong passcode", f.card().VerifyPasscode(ctx, wrongPasscode(1)), domain.PasscodeTries-1)
	if f.r.PasscodeVerified() {
		t.Fatal("a verified passcode outlived a wrong one")
	}
}

// A reset between operations ends the verified passcode but not the port.
func testReset(t *testing.T, f *fixture) {
	ctx := t.Context()
	noErr(t, "verify", f.card().VerifyPasscode(ctx, passcode))
	f.r.Reset()
	if f.r.PasscodeVerified() {
		t.Fatal("a verified passcode outlived a reset")
	}
	wantStatus(t, f.card(), full(serial))
	noErr(t, "verify after the reset", f.card().VerifyPasscode(ctx, passcode))
	noErr(t, "genuine-card check after the reset", domain.ProveGenuine(ctx, f.card(), f.rec, f.ca, nil))
}

// A verified passcode does not outlive its session: not a new port, nor
// the card leaving the reader.
func testNewSession(t *testing.T, f *fixture) {
	ctx := t.Context()
	noErr(t, "verify", f.card().VerifyPasscode(ctx, passcode))
	f.r.Reopen()
	if f.r.PasscodeVerified() {
		t.Fatal("a verified passcode outlived the port that verified it")
	}
	wantStatus(t, f.card(), full(serial))
	noErr(t, "verify in the new session", f.card().VerifyPasscode(ctx, passcode))
	f.r.Pull()
	f.r.Insert()
	if f.r.PasscodeVerified() {
		t.Fatal("a verified passcode outlived the card leaving the reader")
	}
	wantStatus(t, f.card(), full(serial))
}

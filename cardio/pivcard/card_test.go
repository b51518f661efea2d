package pivcard

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/cardio"
	"github.com/smartcard-service-centre/kiosk/cardio/apdu"
	"github.com/smartcard-service-centre/kiosk/cardio/ca"
	"github.com/smartcard-service-centre/kiosk/cardio/sim"
	"github.com/smartcard-service-centre/kiosk/cardio/simreader"
	"github.com/smartcard-service-centre/kiosk/domain"
)

// countConn is a cardio.Conn straight onto a software card that counts and
// records the APDUs each transaction sends.
type countConn struct {
	card *sim.Card
	mu   sync.Mutex
	n    int
	ins  []string
}

func (c *countConn) Transact(ctx context.Context, fn func(apdu.Transport) error) error {
	return fn(c)
}

func (c *countConn) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	c.mu.Lock()
	c.n++
	c.ins = append(c.ins, fmt.Sprintf("%02X", cmd[1]))
	c.mu.Unlock()
	return sim.Transport{Card: c.card}.Transmit(ctx, cmd)
}

func (c *countConn) Close() error {
	c.card.Reset()
	return nil
}

// reset forgets the count.
func (c *countConn) reset() {
	c.mu.Lock()
	c.n, c.ins = 0, nil
	c.mu.Unlock()
}

// authority generates a CA valid for the last three years (cheap: two
// P-256 keys).
func authority(t testing.TB) domain.CertificateAuthority {
	t.Helper()
	a, err := ca.Generate(t.TempDir(), time.Now().AddDate(-3, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	return ca.ForDomain(a)
}

const (
	testUser   = domain.UserID("555001799894")
	testSerial = domain.CardSerial("4082A001132F2817")
	testPIN    = "1357"
)

func newKeys(t testing.TB) domain.CardKeys {
	t.Helper()
	mk := make([]byte, 32)
	if _, err := rand.Read(mk); err != nil {
		t.Fatal(err)
	}
	return domain.CardKeys{MgmtAlg: "AES256", MgmtKey: mk, PUK: []byte("87654321")}
}

// issued is a personalised software card and what the service recorded.
type issued struct {
	sim      *sim.Card
	conn     *countConn
	card     *Card
	keys     domain.CardKeys
	rec      domain.Smartcard
	ca       domain.CertificateAuthority
	notAfter time.Time
}

// personalise issues a factory card to testUser through the adapter, with
// passcode testPIN.
func personalise(t testing.TB, serial domain.CardSerial) *issued {
	t.Helper()
	ctx := context.Background()
	s := sim.New()
	conn := &countConn{card: s}
	card := New(conn)
	auth := authority(t)
	keys := newKeys(t)
	now := time.Now().UTC().Truncate(time.Second)
	notAfter := now.AddDate(2, 0, 0)
	rec := domain.Smartcard{Serial: serial, UserID: testUser, IssuedAt: now, CertExpiry: notAfter}
	err := card.Personalise(ctx, domain.PersonaliseRequest{
		Serial: serial, CHUIDExpiry: notAfter, Current: FactoryKeys(), New: keys,
		Certify: func(slot domain.KeySlot, pub crypto.PublicKey) ([]byte, error) {
			der, err := auth.Issue(pub, testUser, serial, slot, now, notAfter)
			if slot == domain.KeyCardAuth {
				rec.CardAuthCert = der
			}
			return der, err
		},
	})
	if err != nil {
		t.Fatalf("personalise: %v", err)
	}
	if err := card.ChangePasscode(ctx, FactoryPasscode, testPIN); err != nil {
		t.Fatalf("set passcode: %v", err)
	}
	conn.reset()
	return &issued{sim: s, conn: conn, card: card, keys: keys, rec: rec, ca: auth, notAfter: notAfter}
}

func TestPersonaliseStatusAndInspect(t *testing.T) {
	ctx := context.Background()
	c := personalise(t, testSerial)
	st, err := c.card.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st != (domain.CardStatus{Serial: testSerial, PasscodeTriesLeft: 3}) {
		t.Fatalf("status %+v", st)
	}
	if c.conn.n != 3 {
		t.Errorf("status took %d APDUs (%v), want 3", c.conn.n, c.conn.ins)
	}
	in, err := c.card.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if in.Serial != testSerial || in.TriesLeft != 3 || in.Blocked || len(in.Problems) != 0 || len(in.Missing) != 0 || len(in.Certificates) != 2 {
		t.Fatalf("inspection %+v", in)
	}
	for slot, cert := range in.Certificates {
		if _, err := c.ca.Verify(cert.Raw, testUser, testSerial, slot); err != nil {
			t.Errorf("%s certificate: %v", slot, err)
		}
		if !cert.NotAfter.Equal(c.notAfter) {
			t.Errorf("%s certificate expires %v, want %v", slot, cert.NotAfter, c.notAfter)
		}
	}
	if !in.CertExpiry().Equal(c.notAfter) {
		t.Errorf("CertExpiry %v", in.CertExpiry())
	}
	if got, want := in.CHUIDExpiry.Format(time.DateOnly), c.notAfter.Format(time.DateOnly); got != want {
		t.Errorf("CHUID expiry %s, want %s", got, want)
	}
	if err := domain.ProveGenuine(ctx, c.card, c.rec, c.ca, nil); err != nil {
		t.Fatalf("genuine card: %v", err)
	}
	// The same card presented as another serial's is not genuine: its
	// certificate names this serial.
	other := c.rec
	other.Serial = "4082A00100000011"
	if err := domain.ProveGenuine(ctx, c.card, other, c.ca, nil); !errors.Is(err, domain.ErrCardNotGenuine) {
		t.Fatalf("recorded for another serial: %v, want ErrCardNotGenuine", err)
	}

	// The factory secrets are gone: the card only answers to the new ones.
	err = c.card.Personalise(ctx, domain.PersonaliseRequest{
		Serial: testSerial, CHUIDExpiry: c.notAfter, Current: FactoryKeys(), New: c.keys,
		Certify: func(domain.KeySlot, crypto.PublicKey) ([]byte, error) { panic("certify without authentication") },
	})
	if !errors.Is(err, domain.ErrCardSecretRejected) {
		t.Fatalf("personalise with the factory management key: %v, want ErrCardSecretRejected", err)
	}
}

// A repair: personalising again with the recorded keys gives new keys and
// certificates; the old certificate no longer proves the card.
func TestPersonaliseAgain(t *testing.T) {
	ctx := context.Background()
	c := personalise(t, testSerial)
	next := newKeys(t)
	next.PUK = []byte("11223344")
	var newCardAuth []byte
	now := time.Now().UTC().Truncate(time.Second)
	err := c.card.Personalise(ctx, domain.PersonaliseRequest{
		Serial: testSerial, CHUIDExpiry: now.AddDate(2, 0, 0), Current: c.keys, New: next,
		Certify: func(slot domain.KeySlot, pub crypto.PublicKey) ([]byte, error) {
			der, err := c.ca.Issue(pub, testUser, testSerial, slot, now, now.AddDate(2, 0, 0))
			if slot == domain.KeyCardAuth {
				newCardAuth = der
			}
			return der, err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := domain.ProveGenuine(ctx, c.card, c.rec, c.ca, nil); !errors.Is(err, domain.ErrCardNotGenuine) {
		t.Fatalf("old certificate after a new 9E key: %v, want ErrCardNotGenuine", err)
	}
	rec := c.rec
	rec.CardAuthCert = newCardAuth
	if err := domain.ProveGenuine(ctx, c.card, rec, c.ca, nil); err != nil {
		t.Fatalf("new certificate: %v", err)
	}
	// The passcode survives; the PUK is the new one.
	if err := c.card.VerifyPasscode(ctx, testPIN); err != nil {
		t.Fatal(err)
	}
	if err := c.card.Unlock(ctx, next.PUK, "2468"); err != nil {
		t.Fatalf("unlock with the new PUK: %v", err)
	}
}

func TestPersonaliseRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	good := func(domain.KeySlot, crypto.PublicKey) ([]byte, error) { return nil, errors.New("not reached") }
	tests := []struct {
		name string
		req  domain.PersonaliseRequest
	}{
		{"bad serial", domain.PersonaliseRequest{Serial: "XYZ", Current: FactoryKeys(), New: FactoryKeys(), Certify: good}},
		{"unknown algorithm", domain.PersonaliseRequest{Serial: testSerial, Current: FactoryKeys(), New: domain.CardKeys{MgmtAlg: "RC4", MgmtKey: make([]byte, 16), PUK: []byte("12345678")}, Certify: good}},
		{"short key", domain.PersonaliseRequest{Serial: testSerial, Current: FactoryKeys(), New: domain.CardKeys{MgmtAlg: "AES256", MgmtKey: make([]byte, 16), PUK: []byte("12345678")}, Certify: good}},
		{"bad PUK", domain.PersonaliseRequest{Serial: testSerial, Current: FactoryKeys(), New: domain.CardKeys{MgmtAlg: "AES128", MgmtKey: make([]byte, 16), PUK: []byte("1")}, Certify: good}},
		{"no certify", domain.PersonaliseRequest{Serial: testSerial, Current: FactoryKeys(), New: FactoryKeys()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := &countConn{card: sim.New()}
			if err := New(conn).Personalise(ctx, tt.req); err == nil {
				t.Fatal("accepted")
			}
			if conn.n != 0 {
				t.Fatalf("%d APDUs sent for a request that cannot work", conn.n)
			}
		})
	}
	// A CA that certifies another key is caught before the card stores it.
	conn := &countConn{card: sim.New()}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	err := New(conn).Personalise(ctx, domain.PersonaliseRequest{
		Serial: testSerial, CHUIDExpiry: time.Now().AddDate(2, 0, 0), Current: FactoryKeys(), New: newKeys(t),
		Certify: func(slot domain.KeySlot, _ crypto.PublicKey) ([]byte, error) {
			now := time.Now()
			return authority(t).Issue(other.Public(), testUser, testSerial, slot, now, now.AddDate(1, 0, 0))
		},
	})
	if err == nil || !strings.Contains(err.Error(), "does not certify") {
		t.Fatalf("certificate for another key: %v", err)
	}
	// Nor is a Certify error swallowed.
	err = New(&countConn{card: sim.New()}).Personalise(ctx, domain.PersonaliseRequest{
		Serial: testSerial, CHUIDExpiry: time.Now(), Current: FactoryKeys(), New: newKeys(t),
		Certify: func(domain.KeySlot, crypto.PublicKey) ([]byte, error) { return nil, errors.New("CA offline") },
	})
	if err == nil || !strings.Contains(err.Error(), "CA offline") {
		t.Fatalf("certify failure: %v", err)
	}
}

func TestPasscodeErrors(t *testing.T) {
	ctx := context.Background()
	c := personalise(t, testSerial)
	var pe *domain.PasscodeError
	steps := []struct {
		name      string
		passcode  string
		tries     int // want *PasscodeError with these tries; -1: none
		blocked   bool
		wantAPDUs int
	}{
		{"right", testPIN, -1, false, 2},
		{"wrong", "9999", 2, false, 2},
		{"too short costs no try", "12", 2, false, 2},
		{"not ASCII costs no try", "12é4", 2, false, 2},
		{"wrong again", "8888", 1, false, 2},
		{"right resets the counter", testPIN, -1, false, 2},
		{"wrong 1", "0001", 2, false, 2},
		{"wrong 2", "0002", 1, false, 2},
		{"last try blocks", "0003", 0, true, 2},
		{"right but blocked", testPIN, -1, true, 2},
		{"malformed and blocked", "1", -1, true, 2},
	}
	for _, s := range steps {
		c.conn.reset()
		err := c.card.VerifyPasscode(ctx, s.passcode)
		if got := errors.Is(err, domain.ErrCardBlocked); got != s.blocked {
			t.Fatalf("%s: %v: blocked=%v, want %v", s.name, err, got, s.blocked)
		}
		switch {
		case s.tries >= 0:
			if !errors.As(err, &pe) || pe.TriesLeft != s.tries || !errors.Is(err, domain.ErrWrongPasscode) {
				t.Fatalf("%s: %v, want %d tries left", s.name, err, s.tries)
			}
		case s.blocked:
		case err != nil:
			t.Fatalf("%s: %v", s.name, err)
		}
		if c.conn.n != s.wantAPDUs {
			t.Errorf("%s: %d APDUs (%v), want %d", s.name, c.conn.n, c.conn.ins, s.wantAPDUs)
		}
	}
	st, err := c.card.Status(ctx)
	if err != nil || !st.Blocked || st.PasscodeTriesLeft != 0 {
		t.Fatalf("status of a blocked card: %+v %v", st, err)
	}
	if _, err := c.card.SignWithPasscode(ctx, testPIN, make([]byte, 32)); !errors.Is(err, domain.ErrCardBlocked) {
		t.Fatalf("sign on a blocked card: %v", err)
	}
	if err := c.card.ChangePasscode(ctx, testPIN, "2468"); !errors.Is(err, domain.ErrCardBlocked) {
		t.Fatalf("change on a blocked card: %v", err)
	}
}

func TestChangePasscode(t *testing.T) {
	ctx := context.Background()
	c := personalise(t, testSerial)
	var pe *domain.PasscodeError
	if err := c.card.ChangePasscode(ctx, "0000", "2468"); !errors.As(err, &pe) || pe.TriesLeft != 2 {
		t.Fatalf("wrong current passcode: %v", err)
	}
	if err := c.card.ChangePasscode(ctx, testPIN, "246"); !errors.Is(err, domain.ErrPasscodePolicy) {
		t.Fatalf("new passcode too short: %v", err)
	}
	if err := c.card.ChangePasscode(ctx, "0", "2468"); !errors.As(err, &pe) || pe.TriesLeft != 2 {
		t.Fatalf("malformed current passcode: %v, want 2 tries left (none spent)", err)
	}
	if err := c.card.ChangePasscode(ctx, testPIN, "2468"); err != nil {
		t.Fatal(err)
	}
	if err := c.card.VerifyPasscode(ctx, "2468"); err != nil {
		t.Fatal(err)
	}
	if err := c.card.VerifyPasscode(ctx, testPIN); !errors.As(err, &pe) {
		t.Fatalf("old passcode still works: %v", err)
	}
}

// maxUnlockAPDUs is the issue's bound for one unlock, SELECT included.
const maxUnlockAPDUs = 10

func TestUnlockAPDUCount(t *testing.T) {
	ctx := context.Background()
	c := personalise(t, testSerial)
	for i := 0; i < 3; i++ {
		_ = c.card.VerifyPasscode(ctx, "0000")
	}
	if st, _ := c.card.Status(ctx); !st.Blocked {
		t.Fatal("card not blocked")
	}
	c.conn.reset()
	if err := c.card.Unlock(ctx, c.keys.PUK, "2468"); err != nil {
		t.Fatal(err)
	}
	t.Logf("unlock: %d APDUs, INS %v", c.conn.n, c.conn.ins)
	if c.conn.n > maxUnlockAPDUs {
		t.Fatalf("unlock took %d APDUs, want at most %d", c.conn.n, maxUnlockAPDUs)
	}
	if want := "A4 2C 20"; strings.Join(c.conn.ins, " ") != want {
		t.Errorf("unlock sent %v, want %s", c.conn.ins, want)
	}
	st, err := c.card.Status(ctx)
	if err != nil || st.Blocked || st.PasscodeTriesLeft != 3 {
		t.Fatalf("after unlock: %+v %v", st, err)
	}
	if err := c.card.VerifyPasscode(ctx, "2468"); err != nil {
		t.Fatal(err)
	}
}

func TestUnlockErrors(t *testing.T) {
	ctx := context.Background()
	c := personalise(t, testSerial)
	if err := c.card.Unlock(ctx, c.keys.PUK, "12"); !errors.Is(err, domain.ErrPasscodePolicy) {
		t.Fatalf("short new passcode: %v", err)
	}
	if err := c.card.Unlock(ctx, []byte("1"), "2468"); !errors.Is(err, domain.ErrCardSecretRejected) {
		t.Fatalf("malformed PUK: %v", err)
	}
	for i, want := range []string{"2 tries left", "1 tries left", "blocked", "blocked"} {
		err := c.card.Unlock(ctx, []byte("00000000"), "2468")
		if !errors.Is(err, domain.ErrCardSecretRejected) || !strings.Contains(err.Error(), want) {
			t.Fatalf("wrong PUK #%d: %v, want ErrCardSecretRejected saying %q", i+1, err, want)
		}
		if errors.Is(err, domain.ErrWrongPasscode) {
			t.Fatalf("a wrong PUK is reported as a wrong passcode: %v", err)
		}
	}
	// Once the PUK is blocked even the right one is refused (the card checks
	// the PUK on every attempt).
	if err := c.card.Unlock(ctx, c.keys.PUK, "2468"); !errors.Is(err, domain.ErrCardSecretRejected) {
		t.Fatalf("right PUK after blocking: %v", err)
	}
	if err := c.card.VerifyPasscode(ctx, testPIN); err != nil {
		t.Fatalf("the passcode must be untouched: %v", err)
	}
}

func TestSign(t *testing.T) {
	ctx := context.Background()
	c := personalise(t, testSerial)
	in, err := c.card.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("challenge"))
	sig, err := c.card.SignWithPasscode(ctx, testPIN, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(in.Certificates[domain.KeyPIVAuth].PublicKey.(*ecdsa.PublicKey), digest[:], sig) {
		t.Fatal("9A signature does not verify")
	}
	var pe *domain.PasscodeError
	if _, err := c.card.SignWithPasscode(ctx, "0000", digest[:]); !errors.As(err, &pe) || pe.TriesLeft != 2 {
		t.Fatalf("sign with a wrong passcode: %v", err)
	}
	sig, err = c.card.Sign(ctx, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(in.Certificates[domain.KeyCardAuth].PublicKey.(*ecdsa.PublicKey), digest[:], sig) {
		t.Fatal("9E signature does not verify")
	}
}

func TestFactoryCard(t *testing.T) {
	ctx := context.Background()
	card := New(&countConn{card: sim.New()})
	if _, err := card.Status(ctx); !errors.Is(err, domain.ErrCardNotFound) {
		t.Fatalf("status without CHUID: %v, want ErrCardNotFound", err)
	}
	if _, err := card.Sign(ctx, make([]byte, 32)); !errors.Is(err, domain.ErrCardNotGenuine) {
		t.Fatalf("sign without a 9E key: %v, want ErrCardNotGenuine", err)
	}
	in, err := card.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if in.Serial != "" || in.TriesLeft != 3 || len(in.Certificates) != 0 || len(in.Problems) != 0 ||
		strings.Join(in.Missing, ", ") != "CHUID, 9A certificate, 9E certificate" {
		t.Fatalf("inspection of a factory card: %+v", in)
	}
}

// notPIV answers every command with 6A82 (file not found), like a payment
// card asked for the PIV application.
type notPIV struct{}

func (notPIV) ATR() []byte                { return []byte{0x3B, 0x00} }
func (notPIV) Reset()                     {}
func (notPIV) Transmit(cmd []byte) []byte { return []byte{0x6A, 0x82} }

func TestNotAPIVCard(t *testing.T) {
	ctx := context.Background()
	tray := simreader.New("R")
	defer tray.Close()
	if err := tray.Insert("R", notPIV{}); err != nil {
		t.Fatal(err)
	}
	conn, err := tray.Connect(ctx, "R")
	if err != nil {
		t.Fatal(err)
	}
	card := New(conn)
	defer card.Close()
	if _, err := card.Status(ctx); !errors.Is(err, domain.ErrCardNotFound) || !strings.Contains(err.Error(), "no PIV application") {
		t.Fatalf("status: %v", err)
	}
	if _, err := card.Inspect(ctx); !errors.Is(err, domain.ErrCardNotFound) {
		t.Fatalf("inspect: %v", err)
	}
}

// pullCard is a software card that leaves the tray when it receives ins.
type pullCard struct {
	*sim.Card
	tray   *simreader.Tray
	reader string
	ins    byte
}

func (p *pullCard) Transmit(cmd []byte) []byte {
	if len(cmd) > 1 && cmd[1] == p.ins {
		_ = p.tray.Remove(p.reader)
	}
	return p.Card.Transmit(cmd)
}

// The adapter maps reader-level failures to the domain's sentinels.
func TestReaderFailures(t *testing.T) {
	ctx := context.Background()
	c := personalise(t, testSerial)
	for _, tt := range []struct {
		name string
		ins  byte
		op   func(*Card) error
	}{
		{"unlock", 0x2C, func(card *Card) error { return card.Unlock(ctx, c.keys.PUK, "2468") }},
		{"verify", 0x20, func(card *Card) error { return card.VerifyPasscode(ctx, testPIN) }},
		{"personalise", 0x47, func(card *Card) error {
			return card.Personalise(ctx, domain.PersonaliseRequest{
				Serial: testSerial, CHUIDExpiry: time.Now(), Current: c.keys, New: c.keys,
				Certify: func(domain.KeySlot, crypto.PublicKey) ([]byte, error) { return nil, errors.New("not reached") },
			})
		}},
		{"sign", 0x87, func(card *Card) error { _, err := card.Sign(ctx, make([]byte, 32)); return err }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tray := simreader.New("R")
			defer tray.Close()
			if err := tray.Insert("R", &pullCard{Card: c.sim, tray: tray, reader: "R", ins: tt.ins}); err != nil {
				t.Fatal(err)
			}
			conn, err := tray.Connect(ctx, "R")
			if err != nil {
				t.Fatal(err)
			}
			card := New(conn)
			defer card.Close()
			if err := tt.op(card); !errors.Is(err, domain.ErrCardRemoved) {
				t.Fatalf("card pulled: %v, want ErrCardRemoved", err)
			}
			if err := tt.op(card); !errors.Is(err, domain.ErrCardRemoved) {
				t.Fatalf("after the pull: %v, want ErrCardRemoved", err)
			}
		})
	}
	tray := simreader.New("R")
	if err := tray.Insert("R", c.sim); err != nil {
		t.Fatal(err)
	}
	conn, err := tray.Connect(ctx, "R")
	if err != nil {
		t.Fatal(err)
	}
	card := New(conn)
	if err := tray.RemoveReader("R"); err != nil {
		t.Fatal(err)
	}
	if _, err := card.Status(ctx); !errors.Is(err, domain.ErrReaderUnavailable) {
		t.Fatalf("reader unplugged: %v, want ErrReaderUnavailable", err)
	}
	_ = card.Close()
	if _, err := card.Status(ctx); !errors.Is(err, domain.ErrReaderUnavailable) {
		t.Fatalf("closed card: %v, want ErrReaderUnavailable", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := New(&countConn{card: c.sim}).Status(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

var _ cardio.Conn = (*countConn)(nil)

// BenchmarkUnlock unlocks a software card in-process, SELECT included.
// RESET RETRY COUNTER works the same on a blocked and an unblocked PIN, so
// the card is not blocked again between iterations.
func BenchmarkUnlock(b *testing.B) {
	ctx := context.Background()
	c := personalise(b, testSerial)
	apdus, n := 0, 0
	for b.Loop() {
		c.conn.reset()
		if err := c.card.Unlock(ctx, c.keys.PUK, "2468"); err != nil {
			b.Fatal(err)
		}
		apdus += c.conn.n
		n++
	}
	b.ReportMetric(float64(apdus)/float64(n), "APDUs/op")
}

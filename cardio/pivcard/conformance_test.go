package pivcard

import (
	"bytes"
	"context"
	"crypto"
	"sync"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/cardio"
	"github.com/smartcard-service-centre/kiosk/cardio/pcsc"
	"github.com/smartcard-service-centre/kiosk/cardio/pcsctest"
	"github.com/smartcard-service-centre/kiosk/cardio/sim"
	"github.com/smartcard-service-centre/kiosk/cardio/simreader"
	"github.com/smartcard-service-centre/kiosk/cardio/vpcd"
	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/cardtest"
)

// The adapter passes the card port's suite over the software card, both
// in-process (simreader, as the demo runs) and through libpcsclite, a
// private pcscd and vpcd, as with a real reader. The test double passes
// the same suite (internal/sstest).
func TestCardConformance(t *testing.T) {
	t.Run("pivcard-sim", func(t *testing.T) {
		cardtest.Run(t, authority(t), newTrayReader)
	})
	t.Run("pivcard-pcsc", func(t *testing.T) {
		d := pcsctest.Shared(t)
		cardtest.Run(t, authority(t), func(t *testing.T, spec cardtest.Spec) cardtest.Reader {
			return newPCSCReader(t, d, spec)
		})
	})
}

// issueSim makes a factory-fresh software card into spec's card through
// the adapter, straight onto the card, and ends that session.
func issueSim(t *testing.T, spec cardtest.Spec) *sim.Card {
	t.Helper()
	ctx := t.Context()
	s := sim.New()
	card := New(&countConn{card: s})
	defer card.Close()
	err := card.Personalise(ctx, domain.PersonaliseRequest{
		Serial: spec.Serial, CHUIDExpiry: time.Now().AddDate(1, 0, 0), Current: FactoryKeys(), New: spec.Keys,
		Certify: spec.Certify,
	})
	if err != nil {
		t.Fatalf("personalise: %v", err)
	}
	if err := card.ChangePasscode(ctx, FactoryPasscode, spec.Passcode); err != nil {
		t.Fatalf("set the passcode: %v", err)
	}
	if spec.Blocked {
		wrong := "00000000"
		if spec.Passcode == wrong {
			wrong = "11111111"
		}
		for range domain.PasscodeTries {
			_ = card.VerifyPasscode(ctx, wrong)
		}
		if st, err := card.Status(ctx); err != nil || !st.Blocked {
			t.Fatalf("block the card: %+v, %v", st, err)
		}
	}
	return s
}

// pullingCard is a software card that, once armed, leaves its reader
// when the next command after SELECT reaches it, which it never answers.
type pullingCard struct {
	*sim.Card
	mu   sync.Mutex
	pull func() // set while armed
}

func (p *pullingCard) arm(pull func()) {
	p.mu.Lock()
	p.pull = pull
	p.mu.Unlock()
}

func (p *pullingCard) Transmit(cmd []byte) []byte {
	p.mu.Lock()
	pull := p.pull
	if len(cmd) < 2 || cmd[1] == 0xA4 {
		pull = nil
	}
	if pull != nil {
		p.pull = nil
	}
	p.mu.Unlock()
	if pull != nil {
		pull()
		return nil
	}
	return p.Card.Transmit(cmd)
}

// verified asks the software card itself, outside any reader and without
// selecting anything, whether its PIN is verified now: VERIFY without data
// says 9000 if so. A card whose application is not selected (after a
// reset) has nothing verified.
func verified(t *testing.T, c *sim.Card) bool {
	t.Helper()
	rsp := c.Transmit([]byte{0x00, 0x20, 0x00, 0x80})
	switch sw := rsp[max(0, len(rsp)-2):]; {
	case bytes.Equal(sw, []byte{0x90, 0x00}):
		return true
	case sw[0] == 0x63, bytes.Equal(sw, []byte{0x69, 0x83}), bytes.Equal(sw, []byte{0x6D, 0x00}):
		return false
	default:
		t.Fatalf("PIN status: SW %X", sw)
		return false
	}
}

// open opens the port on the holder's card and closes it at cleanup.
func open(t *testing.T, r *Readers) domain.Card {
	t.Helper()
	card, err := r.Open(t.Context(), domain.ReaderHolder)
	if err != nil {
		t.Fatalf("open the card: %v", err)
	}
	t.Cleanup(func() { card.Close() })
	return card
}

// trayReader is the software card in an in-process simreader tray.
type trayReader struct {
	t       *testing.T
	tray    *simreader.Tray
	readers *Readers
	card    *pullingCard
	port    domain.Card
}

const trayName = "Conformance Reader"

func newTrayReader(t *testing.T, spec cardtest.Spec) cardtest.Reader {
	tray := simreader.New(trayName)
	t.Cleanup(func() { tray.Close() })
	r := &trayReader{t: t, tray: tray, readers: NewReaders(tray, Assignment{Holder: trayName}), card: &pullingCard{Card: issueSim(t, spec)}}
	r.Insert()
	return r
}

func (r *trayReader) Card() domain.Card { return r.port }

func (r *trayReader) Pull() {
	if err := r.tray.Remove(trayName); err != nil {
		r.t.Fatal(err)
	}
}

func (r *trayReader) Insert() {
	if err := r.tray.Insert(trayName, r.card); err != nil {
		r.t.Fatal(err)
	}
	r.port = open(r.t, r.readers)
}

func (r *trayReader) PullDuringNext() {
	r.card.arm(func() { _ = r.tray.Remove(trayName) })
}

// Reset resets the card under the open port; in-process there is no
// other application to tell the port so.
func (r *trayReader) Reset() { r.card.Card.Reset() }

func (r *trayReader) Reopen() {
	if err := r.port.Close(); err != nil {
		r.t.Fatal(err)
	}
	r.port = open(r.t, r.readers)
}

func (r *trayReader) PasscodeVerified() bool { return verified(r.t, r.card.Card) }

// pcscReader is the software card served through vpcd in a reader of the
// shared private pcscd.
type pcscReader struct {
	t       *testing.T
	d       *pcsctest.Daemon
	name    string
	pcsc    cardio.Readers
	readers *Readers
	card    *pullingCard
	plug    *vpcd.Plug
	port    domain.Card
}

// settle bounds the wait for pcscd to see a card come or go.
const settle = 3 * time.Second

func newPCSCReader(t *testing.T, d *pcsctest.Daemon, spec cardtest.Spec) cardtest.Reader {
	readers := pcsc.New(nil)
	t.Cleanup(func() { readers.Close() })
	name := d.Readers[0].Name
	r := &pcscReader{
		t: t, d: d, name: name, pcsc: readers, readers: NewReaders(readers, Assignment{Holder: name}),
		card: &pullingCard{Card: issueSim(t, spec)},
	}
	r.Insert()
	return r
}

func (r *pcscReader) Card() domain.Card { return r.port }

func (r *pcscReader) Pull() {
	if err := r.plug.Unplug(); err != nil {
		r.t.Fatal(err)
	}
	r.d.WaitCard(r.t, r.name, false, settle)
}

func (r *pcscReader) Insert() {
	r.plug = r.d.InsertWait(r.t, r.name, r.card)
	r.port = open(r.t, r.readers)
}

// PullDuringNext unplugs the card while it holds the command, and holds
// it until pcscd has seen the card go, so no answer ever arrives.
func (r *pcscReader) PullDuringNext() {
	plug, name := r.plug, r.name
	r.card.arm(func() {
		// Unplug waits for the card's server, which is waiting for us.
		go func() { _ = plug.Unplug() }()
		_ = pcsctest.WaitCard(name, false, settle)
	})
}

// Reset is another application connecting to the card and leaving it
// with a reset, which pcscd reports to the port at its next transaction.
func (r *pcscReader) Reset() {
	ctx, cancel := context.WithTimeout(r.t.Context(), settle)
	defer cancel()
	conn, err := r.pcsc.Connect(ctx, r.name)
	if err != nil {
		r.t.Fatalf("another application's connection: %v", err)
	}
	if err := conn.Close(); err != nil {
		r.t.Fatalf("reset by another application: %v", err)
	}
}

func (r *pcscReader) Reopen() {
	if err := r.port.Close(); err != nil {
		r.t.Fatal(err)
	}
	r.port = open(r.t, r.readers)
}

func (r *pcscReader) PasscodeVerified() bool { return verified(r.t, r.card.Card) }

// The adapter's readers pass the readers port's suite over the software
// readers (two of them, as at an operator terminal), as the test double's
// readers do (internal/sstest).
func TestReadersConformance(t *testing.T) {
	t.Run("pivcard-sim", func(t *testing.T) {
		cardtest.RunReaders(t, func(t *testing.T) cardtest.Readers {
			tray := simreader.New(holderTray, operatorTray)
			t.Cleanup(func() { tray.Close() })
			return &trayReaders{Readers: NewReaders(tray, Assignment{Holder: holderTray, Operator: operatorTray}),
				tray: tray, ca: authority(t)}
		})
	})
}

const holderTray, operatorTray = "Conformance Holder Reader", "Conformance Operator Reader"

// trayReaders is the adapter over two software readers and the hands
// that move software cards in and out of them.
type trayReaders struct {
	*Readers
	tray *simreader.Tray
	ca   domain.CertificateAuthority
}

func (r *trayReaders) name(role domain.ReaderRole) string {
	if role == domain.ReaderOperator {
		return operatorTray
	}
	return holderTray
}

func (r *trayReaders) Put(t *testing.T, role domain.ReaderRole, serial domain.CardSerial) {
	t.Helper()
	const user = domain.UserID("555000000011")
	now := time.Now()
	card := issueSim(t, cardtest.Spec{Serial: serial, Passcode: "2468", Keys: FactoryKeys(),
		Certify: func(slot domain.KeySlot, pub crypto.PublicKey) ([]byte, error) {
			return r.ca.Issue(pub, user, serial, slot, now.Add(-time.Hour), now.AddDate(1, 0, 0))
		}})
	if err := r.tray.Insert(r.name(role), card); err != nil {
		t.Fatal(err)
	}
}

func (r *trayReaders) Take(t *testing.T, role domain.ReaderRole) {
	t.Helper()
	if err := r.tray.Remove(r.name(role)); err != nil {
		t.Fatal(err)
	}
}

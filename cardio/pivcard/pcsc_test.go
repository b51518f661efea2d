package pivcard

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/cardio/pcsc"
	"github.com/smartcard-service-centre/kiosk/cardio/pcsctest"
	"github.com/smartcard-service-centre/kiosk/cardio/sim"
	"github.com/smartcard-service-centre/kiosk/domain"
)

// The PC/SC tests share one private pcscd with two vpcd readers; the
// in-process tests do not start it.
func TestMain(m *testing.M) { pcsctest.Main(m, pcsctest.Options{Name: "PIVCard Test"}) }

// hookCard is a software card served through vpcd that counts the APDUs it
// receives and runs hook (if set) before answering one.
type hookCard struct {
	*sim.Card
	mu   sync.Mutex
	n    int
	hook func(cmd []byte)
}

func (h *hookCard) Transmit(cmd []byte) []byte {
	h.mu.Lock()
	h.n++
	hook := h.hook
	h.mu.Unlock()
	if hook != nil && len(cmd) > 1 {
		hook(cmd)
	}
	return h.Card.Transmit(cmd)
}

func (h *hookCard) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

func (h *hookCard) setHook(f func(cmd []byte)) {
	h.mu.Lock()
	h.hook, h.n = f, 0
	h.mu.Unlock()
}

// opTimeout bounds every adapter operation in these tests: a hang fails.
const opTimeout = 10 * time.Second

// The adapter through libpcsclite, pcscd and vpcd, as with a real card and
// reader: events by role, status, a wrong passcode, unlock, genuine check.
func TestOverPCSC(t *testing.T) {
	d := pcsctest.Shared(t)
	c := personalise(t, testSerial)
	hc := &hookCard{Card: c.sim}
	readers := pcsc.New(nil)
	defer readers.Close()
	r := NewReaders(readers, Assignment{Holder: d.Readers[0].Name, Operator: d.Readers[1].Name})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	ev, err := r.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	plug := d.InsertWait(t, d.Readers[0].Name, hc)
	expectCardEvents(t, ev, domain.CardEvent{Role: domain.ReaderHolder, Present: true})

	card, err := r.Open(ctx, domain.ReaderHolder)
	if err != nil {
		t.Fatal(err)
	}
	defer card.Close()
	st, err := card.Status(ctx)
	if err != nil || st.Serial != testSerial || st.PasscodeTriesLeft != 3 {
		t.Fatalf("status %+v %v", st, err)
	}
	var pe *domain.PasscodeError
	if err := card.VerifyPasscode(ctx, "0000"); !errors.As(err, &pe) || pe.TriesLeft != 2 {
		t.Fatalf("wrong passcode: %v", err)
	}
	hc.setHook(nil)
	start := time.Now()
	if err := card.Unlock(ctx, c.keys.PUK, "2468"); err != nil {
		t.Fatal(err)
	}
	t.Logf("unlock over PC/SC: %d APDUs in %v", hc.count(), time.Since(start).Round(time.Microsecond))
	if n := hc.count(); n > maxUnlockAPDUs {
		t.Fatalf("unlock took %d APDUs, want at most %d", n, maxUnlockAPDUs)
	}
	if err := domain.ProveGenuine(ctx, card, c.rec, c.ca, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Open(ctx, domain.ReaderOperator); !errors.Is(err, domain.ErrNoCard) {
		t.Fatalf("empty operator reader: %v, want ErrNoCard", err)
	}

	if err := plug.Unplug(); err != nil {
		t.Fatal(err)
	}
	expectCardEvents(t, ev, domain.CardEvent{Role: domain.ReaderHolder, Present: false})
	if _, err := card.Status(ctx); !errors.Is(err, domain.ErrCardRemoved) {
		t.Fatalf("status after the card left: %v, want ErrCardRemoved", err)
	}
}

// Pulling the card in the middle of an operation gives ErrCardRemoved
// promptly: between two commands or while the card works on one.
func TestCardPulledDuringOperation(t *testing.T) {
	d := pcsctest.Shared(t)
	c := personalise(t, testSerial)
	readers := pcsc.New(nil)
	defer readers.Close()
	r := NewReaders(readers, Assignment{Holder: d.Readers[0].Name})
	bg := context.Background()
	tests := []struct {
		name string
		ins  byte // the card is pulled when it receives this command
		op   func(ctx context.Context, card domain.Card) error
	}{
		{"unlock", 0x2C, func(ctx context.Context, card domain.Card) error { return card.Unlock(ctx, c.keys.PUK, "2468") }},
		{"verify", 0x20, func(ctx context.Context, card domain.Card) error { return card.VerifyPasscode(ctx, testPIN) }},
		{"personalise", 0x47, func(ctx context.Context, card domain.Card) error {
			return card.Personalise(ctx, domain.PersonaliseRequest{
				Serial: testSerial, CHUIDExpiry: time.Now().AddDate(2, 0, 0), Current: c.keys, New: c.keys,
				Certify: func(domain.KeySlot, crypto.PublicKey) ([]byte, error) { return nil, errors.New("not reached") },
			})
		}},
		{"status", 0xCB, func(ctx context.Context, card domain.Card) error { _, err := card.Status(ctx); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hc := &hookCard{Card: c.sim}
			plug := d.InsertWait(t, d.Readers[0].Name, hc)
			card, err := r.Open(bg, domain.ReaderHolder)
			if err != nil {
				t.Fatal(err)
			}
			defer card.Close()
			hc.setHook(func(cmd []byte) {
				if cmd[1] == tt.ins {
					go func() { _ = plug.Unplug() }()
					time.Sleep(200 * time.Millisecond)
				}
			})
			ctx, cancel := context.WithTimeout(bg, opTimeout)
			defer cancel()
			start := time.Now()
			err = tt.op(ctx, card)
			if !errors.Is(err, domain.ErrCardRemoved) {
				t.Fatalf("got %v, want ErrCardRemoved", err)
			}
			if el := time.Since(start); el > 3*time.Second {
				t.Fatalf("took %v", el)
			}
			t.Logf("%v after %v", err, time.Since(start).Round(time.Millisecond))
			if err := tt.op(ctx, card); !errors.Is(err, domain.ErrCardRemoved) && !errors.Is(err, domain.ErrNoCard) {
				t.Fatalf("next operation: %v, want ErrCardRemoved", err)
			}
			if _, err := r.Open(ctx, domain.ReaderHolder); !errors.Is(err, domain.ErrNoCard) {
				t.Fatalf("open after the pull: %v, want ErrNoCard", err)
			}
		})
	}
}

// A pcscd that dies during an operation gives ErrReaderUnavailable at once;
// so do Open and Events until it is back, and the role events follow it.
func TestServiceStoppedDuringOperation(t *testing.T) {
	d := pcsctest.Shared(t)
	t.Cleanup(func() {
		if !d.Running() {
			if err := d.Restart(); err != nil {
				t.Errorf("restart pcscd: %v", err)
			}
		}
	})
	c := personalise(t, testSerial)
	hc := &hookCard{Card: c.sim}
	readers := pcsc.New(nil)
	defer readers.Close()
	r := NewReaders(readers, Assignment{Holder: d.Readers[0].Name})
	bg := context.Background()
	ectx, cancel := context.WithCancel(bg)
	defer cancel()
	ev, err := r.Events(ectx)
	if err != nil {
		t.Fatal(err)
	}
	d.InsertWait(t, d.Readers[0].Name, hc)
	expectCardEvents(t, ev, domain.CardEvent{Role: domain.ReaderHolder, Present: true})
	card, err := r.Open(bg, domain.ReaderHolder)
	if err != nil {
		t.Fatal(err)
	}
	defer card.Close()

	killed := make(chan error, 1)
	hc.setHook(func(cmd []byte) {
		if cmd[1] == 0x2C {
			go func() { killed <- d.Kill() }()
			time.Sleep(300 * time.Millisecond)
		}
	})
	ctx, cancelOp := context.WithTimeout(bg, opTimeout)
	defer cancelOp()
	start := time.Now()
	err = card.Unlock(ctx, c.keys.PUK, "2468")
	if !errors.Is(err, domain.ErrReaderUnavailable) {
		t.Fatalf("unlock while pcscd dies: %v, want ErrReaderUnavailable", err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("took %v", el)
	}
	t.Logf("%v after %v", err, time.Since(start).Round(time.Millisecond))
	if err := <-killed; err != nil {
		t.Fatal(err)
	}
	if _, err := card.Status(ctx); !errors.Is(err, domain.ErrReaderUnavailable) {
		t.Fatalf("status with pcscd gone: %v, want ErrReaderUnavailable", err)
	}
	if _, err := r.Open(ctx, domain.ReaderHolder); !errors.Is(err, domain.ErrReaderUnavailable) {
		t.Fatalf("open with pcscd gone: %v, want ErrReaderUnavailable", err)
	}
	if _, err := r.Events(ctx); !errors.Is(err, domain.ErrReaderUnavailable) {
		t.Fatalf("events with pcscd gone: %v, want ErrReaderUnavailable", err)
	}
	// The service gone, not the card pulled: the card is still in.
	expectCardEvents(t, ev, domain.CardEvent{Role: domain.ReaderHolder, Unavailable: true},
		domain.CardEvent{Role: domain.ReaderOperator, Unavailable: true})

	if err := d.Restart(); err != nil {
		t.Fatal(err)
	}
	d.Insert(t, d.Readers[0].Name, &hookCard{Card: c.sim})
	// The watch reconnects with backoff (at most 5 s apart): the readers
	// are usable again, then the card is in.
	for _, want := range []domain.CardEvent{{Role: domain.ReaderHolder}, {Role: domain.ReaderOperator},
		{Role: domain.ReaderHolder, Present: true}} {
		select {
		case e := <-ev:
			if e != want {
				t.Fatalf("after restart: %+v, want %+v", e, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no event after pcscd came back, want %+v", want)
		}
	}
}

// BenchmarkUnlockPCSC unlocks the software card through libpcsclite, pcscd
// and vpcd: the round trips a real reader adds, without the card's own
// computing time.
func BenchmarkUnlockPCSC(b *testing.B) {
	d := pcsctest.Shared(b)
	c := personalise(b, testSerial)
	hc := &hookCard{Card: c.sim}
	readers := pcsc.New(nil)
	defer readers.Close()
	d.InsertWait(b, d.Readers[0].Name, hc)
	card, err := NewReaders(readers, Assignment{Holder: d.Readers[0].Name}).Open(context.Background(), domain.ReaderHolder)
	if err != nil {
		b.Fatal(err)
	}
	defer card.Close()
	ctx := context.Background()
	apdus, n := 0, 0
	for b.Loop() {
		hc.setHook(nil)
		if err := card.Unlock(ctx, c.keys.PUK, fmt.Sprintf("%04d", n%10000)); err != nil {
			b.Fatal(err)
		}
		apdus += hc.count()
		n++
	}
	b.ReportMetric(float64(apdus)/float64(n), "APDUs/op")
}

// A card that stops answering costs the caller its deadline, not a hang;
// the connection is then dropped and reported as an unavailable reader.
func TestCardStopsAnswering(t *testing.T) {
	d := pcsctest.Shared(t)
	c := personalise(t, testSerial)
	hc := &hookCard{Card: c.sim}
	readers := pcsc.New(nil)
	defer readers.Close()
	r := NewReaders(readers, Assignment{Holder: d.Readers[0].Name})
	d.InsertWait(t, d.Readers[0].Name, hc)
	card, err := r.Open(context.Background(), domain.ReaderHolder)
	if err != nil {
		t.Fatal(err)
	}
	defer card.Close()
	// The card does not answer VERIFY until released.
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	hc.setHook(func(cmd []byte) {
		if cmd[1] == 0x20 {
			<-release
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := card.VerifyPasscode(ctx, testPIN); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the deadline", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("took %v with a 300ms deadline", el)
	}
	if _, err := card.Status(context.Background()); !errors.Is(err, domain.ErrReaderUnavailable) {
		t.Fatalf("after an abandoned call: %v, want ErrReaderUnavailable", err)
	}
	// A new connection works once the card answers again.
	hc.setHook(nil)
	once.Do(func() { close(release) })
	card2, err := r.Open(context.Background(), domain.ReaderHolder)
	if err != nil {
		t.Fatal(err)
	}
	defer card2.Close()
	if _, err := card2.Status(context.Background()); err != nil {
		t.Fatalf("new connection: %v", err)
	}
}

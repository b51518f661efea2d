package pcsc

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/cardio"
	"github.com/smartcard-service-centre/kiosk/cardio/apdu"
	"github.com/smartcard-service-centre/kiosk/cardio/pcsctest"
)

// One private pcscd (two vpcd readers) for the whole test binary.
func TestMain(m *testing.M) { pcsctest.Main(m, pcsctest.Options{Name: "PCSC Test"}) }

// eventWithin bounds how long pcscd + vpcd may take to report a change
// (vpcd is polled about every 400 ms).
const eventWithin = 2 * time.Second

// testCard is a minimal card for reader-level tests: a distinct ATR, every
// command answered with its INS and 9000, and an optional hook that runs
// inside Transmit.
type testCard struct {
	atr  []byte
	mu   sync.Mutex
	hook func(cmd []byte)
}

// atrT1 builds a valid T=1 ATR with historical bytes hist.
func atrT1(hist ...byte) []byte {
	atr := []byte{0x3B, 0x80 | byte(len(hist)), 0x01}
	atr = append(atr, hist...)
	var tck byte
	for _, b := range atr[1:] {
		tck ^= b
	}
	return append(atr, tck)
}

func newTestCard(id byte) *testCard { return &testCard{atr: atrT1('T', id)} }

func (c *testCard) ATR() []byte { return c.atr }
func (c *testCard) Reset()      {}
func (c *testCard) Transmit(cmd []byte) []byte {
	c.mu.Lock()
	hook := c.hook
	c.mu.Unlock()
	if hook != nil {
		hook(cmd)
	}
	if len(cmd) < 4 {
		return []byte{0x67, 0x00}
	}
	return []byte{cmd[1], 0x90, 0x00}
}

func nextEvent(t *testing.T, ev <-chan cardio.Event, within time.Duration) cardio.Event {
	t.Helper()
	select {
	case e, ok := <-ev:
		if !ok {
			t.Fatal("event channel closed")
		}
		return e
	case <-time.After(within):
		t.Fatalf("no event within %v", within)
	}
	return cardio.Event{}
}

func expectEvent(t *testing.T, ev <-chan cardio.Event, reader string, kind cardio.EventKind) cardio.Event {
	t.Helper()
	start := time.Now()
	e := nextEvent(t, ev, eventWithin)
	if e.Reader != reader || e.Kind != kind {
		t.Fatalf("got event %v, want %s: %s", e, reader, kind)
	}
	t.Logf("%v after %v", e, time.Since(start).Round(time.Millisecond))
	return e
}

func expectQuiet(t *testing.T, ev <-chan cardio.Event, d time.Duration) {
	t.Helper()
	select {
	case e := <-ev:
		t.Fatalf("unexpected event %v", e)
	case <-time.After(d):
	}
}

func startWatch(t *testing.T, r *Readers) <-chan cardio.Event {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ev, err := r.Watch(ctx)
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		// The channel must close promptly: SCardCancel wakes the loop.
		deadline := time.After(2 * time.Second)
		for {
			select {
			case _, ok := <-ev:
				if !ok {
					return
				}
			case <-deadline:
				t.Error("watch channel not closed within 2s of cancel")
				return
			}
		}
	})
	return ev
}

func TestList(t *testing.T) {
	d := pcsctest.Shared(t)
	r := New(nil)
	defer r.Close()
	names, err := r.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names, d.ReaderNames()) {
		t.Fatalf("List = %q, want %q", names, d.ReaderNames())
	}
	// Role assignment against the real names.
	if got, err := cardio.SelectReader(names, "00 01", cardio.HolderReaderIndex); err != nil || got != d.Readers[1].Name {
		t.Fatalf("SelectReader = %q, %v", got, err)
	}
}

func TestWatchInsertRemove(t *testing.T) {
	d := pcsctest.Shared(t)
	r := New(nil)
	defer r.Close()
	reader := d.Readers[0].Name

	// A card present before Watch starts is reported first.
	card0 := newTestCard('0')
	plug0 := d.InsertWait(t, d.Readers[1].Name, card0)

	ev := startWatch(t, r)
	if e := expectEvent(t, ev, d.Readers[1].Name, cardio.CardInserted); !bytes.Equal(e.ATR, card0.atr) {
		t.Fatalf("initial ATR %X, want %X", e.ATR, card0.atr)
	}
	expectQuiet(t, ev, 300*time.Millisecond)

	card := newTestCard('1')
	plug := d.Insert(t, reader, card)
	if e := expectEvent(t, ev, reader, cardio.CardInserted); !bytes.Equal(e.ATR, card.atr) {
		t.Fatalf("ATR %X, want %X", e.ATR, card.atr)
	}
	// Our own connection and its reset on close are not card events.
	c, err := r.Connect(context.Background(), reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	expectQuiet(t, ev, 600*time.Millisecond)

	if err := plug.Unplug(); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, ev, reader, cardio.CardRemoved)
	if err := plug0.Unplug(); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, ev, d.Readers[1].Name, cardio.CardRemoved)
}

// A card swapped while the watcher was not looking (here: blocked handing
// over an earlier event) must be reported as removed and inserted, which
// only pcscd's event counter reveals.
func TestWatchDetectsSwap(t *testing.T) {
	d := pcsctest.Shared(t)
	r := New(nil)
	defer r.Close()
	reader := d.Readers[0].Name
	a, b := newTestCard('A'), newTestCard('B')
	b.atr = a.atr // same ATR: only the counter tells the cards apart

	sending := make(chan cardio.Event, 8)
	hook := func(e cardio.Event) {
		select {
		case sending <- e:
		default: // later events: the test has what it needs
		}
	}
	emitting.Store(&hook)
	t.Cleanup(func() { emitting.Store(nil) })
	ev := startWatch(t, r)
	plugA := d.InsertWait(t, reader, a)
	// Do not read: once the loop starts to send CardInserted it waits
	// for us, and the card is swapped meanwhile.
	select {
	case e := <-sending:
		if e.Kind != cardio.CardInserted {
			t.Fatalf("the loop sends %v first, want CardInserted", e)
		}
	case <-time.After(eventWithin):
		t.Fatal("the watch loop did not report card A")
	}
	if err := plugA.Unplug(); err != nil {
		t.Fatal(err)
	}
	d.WaitCard(t, reader, false, eventWithin)
	d.InsertWait(t, reader, b)

	expectEvent(t, ev, reader, cardio.CardInserted) // card A, delivered late
	expectEvent(t, ev, reader, cardio.CardRemoved)  // A left …
	expectEvent(t, ev, reader, cardio.CardInserted) // … and B came
	expectQuiet(t, ev, 300*time.Millisecond)
}

func TestConnectErrors(t *testing.T) {
	d := pcsctest.Shared(t)
	r := New(nil)
	defer r.Close()
	ctx := context.Background()
	if _, err := r.Connect(ctx, "No Such Reader 00 00"); !errors.Is(err, cardio.ErrNoReader) {
		t.Fatalf("unknown reader: %v, want ErrNoReader", err)
	}
	d.WaitCard(t, d.Readers[0].Name, false, eventWithin)
	if _, err := r.Connect(ctx, d.Readers[0].Name); !errors.Is(err, cardio.ErrNoCard) {
		t.Fatalf("empty reader: %v, want ErrNoCard", err)
	}
	_ = r.Close()
	if _, err := r.Connect(ctx, d.Readers[0].Name); !errors.Is(err, cardio.ErrClosed) {
		t.Fatalf("after Close: %v, want ErrClosed", err)
	}
}

func TestTransactRawAndTransportLifetime(t *testing.T) {
	d := pcsctest.Shared(t)
	r := New(nil)
	defer r.Close()
	reader := d.Readers[0].Name
	d.InsertWait(t, reader, newTestCard('R'))
	ctx := context.Background()
	c, err := r.Connect(ctx, reader)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var kept apdu.Transport
	err = c.Transact(ctx, func(tr apdu.Transport) error {
		kept = tr
		rsp, err := tr.Transmit(ctx, []byte{0x00, 0xCB, 0x3F, 0xFF, 0x00})
		if err == nil && !bytes.Equal(rsp, []byte{0xCB, 0x90, 0x00}) {
			t.Errorf("response %X", rsp)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kept.Transmit(ctx, []byte{0, 0xCA, 0, 0}); err == nil {
		t.Fatal("transport usable after the transaction ended")
	}
	// A cancelled context is refused before touching the card and does not
	// spoil the connection.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := c.Transact(cctx, func(apdu.Transport) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled ctx: %v", err)
	}
	if err := c.Transact(ctx, func(apdu.Transport) error { return nil }); err != nil {
		t.Fatalf("after a cancelled call: %v", err)
	}
}

// Pulling the card during an operation gives ErrCardRemoved quickly, both
// between two APDUs and while the card is working on one.
func TestCardPulledDuringTransact(t *testing.T) {
	d := pcsctest.Shared(t)
	r := New(nil)
	defer r.Close()
	reader := d.Readers[0].Name
	ctx := context.Background()

	t.Run("between APDUs", func(t *testing.T) {
		plug := d.InsertWait(t, reader, newTestCard('P'))
		c, err := r.Connect(ctx, reader)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		start := time.Now()
		err = c.Transact(ctx, func(tr apdu.Transport) error {
			if _, err := tr.Transmit(ctx, []byte{0x00, 0xA4, 0x04, 0x00}); err != nil {
				return err
			}
			if err := plug.Unplug(); err != nil {
				return err
			}
			d.WaitCard(t, reader, false, eventWithin)
			_, err := tr.Transmit(ctx, []byte{0x00, 0xCB, 0x3F, 0xFF})
			return err
		})
		if !errors.Is(err, cardio.ErrCardRemoved) {
			t.Fatalf("got %v, want ErrCardRemoved", err)
		}
		t.Logf("%v after %v", err, time.Since(start).Round(time.Millisecond))
		if err := c.Transact(ctx, func(apdu.Transport) error { return nil }); !errors.Is(err, cardio.ErrCardRemoved) {
			t.Fatalf("next Transact: %v, want ErrCardRemoved", err)
		}
	})

	t.Run("while the card works", func(t *testing.T) {
		card := newTestCard('W')
		plug := d.InsertWait(t, reader, card)
		c, err := r.Connect(ctx, reader)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// On GENERATE (47) the card is pulled before it answers.
		card.mu.Lock()
		card.hook = func(cmd []byte) {
			if cmd[1] == 0x47 {
				go func() { _ = plug.Unplug() }()
				time.Sleep(200 * time.Millisecond)
			}
		}
		card.mu.Unlock()
		start := time.Now()
		err = c.Transact(ctx, func(tr apdu.Transport) error {
			_, err := tr.Transmit(ctx, []byte{0x00, 0x47, 0x00, 0x9A, 0x05, 0xAC, 0x03, 0x80, 0x01, 0x11})
			return err
		})
		if !errors.Is(err, cardio.ErrCardRemoved) {
			t.Fatalf("got %v, want ErrCardRemoved", err)
		}
		if el := time.Since(start); el > 3*time.Second {
			t.Fatalf("took %v", el)
		}
		t.Logf("%v after %v", err, time.Since(start).Round(time.Millisecond))
	})
}

// A pcscd that dies gives ErrNoService at once on every call, the watch
// says the service is lost, reports everything gone, and recovers when the
// service comes back.
func TestServiceKilled(t *testing.T) {
	d := pcsctest.Shared(t)
	t.Cleanup(func() {
		if !d.Running() {
			if err := d.Restart(); err != nil {
				t.Errorf("restart pcscd: %v", err)
			}
		}
	})
	r := New(nil)
	defer r.Close()
	ctx := context.Background()
	reader := d.Readers[0].Name
	d.InsertWait(t, reader, newTestCard('K'))
	ev := startWatch(t, r)
	expectEvent(t, ev, reader, cardio.CardInserted)
	c, err := r.Connect(ctx, reader)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	if err := d.Kill(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = c.Transact(ctx, func(tr apdu.Transport) error {
		_, err := tr.Transmit(ctx, []byte{0x00, 0xCB, 0x3F, 0xFF})
		return err
	})
	if !errors.Is(err, cardio.ErrNoService) {
		t.Fatalf("Transact after kill: %v, want ErrNoService", err)
	}
	t.Logf("Transact: %v after %v", err, time.Since(start).Round(time.Millisecond))
	if _, err := r.List(ctx); !errors.Is(err, cardio.ErrNoService) {
		t.Fatalf("List after kill: %v, want ErrNoService", err)
	}
	if _, err := r.Connect(ctx, reader); !errors.Is(err, cardio.ErrNoService) {
		t.Fatalf("Connect after kill: %v, want ErrNoService", err)
	}
	if _, err := r.Watch(ctx); !errors.Is(err, cardio.ErrNoService) || err.Error() == "" {
		t.Fatalf("Watch after kill: %v, want ErrNoService", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("errors took %v", el)
	}
	expectEvent(t, ev, "", cardio.ServiceLost)
	expectEvent(t, ev, reader, cardio.CardRemoved)
	expectEvent(t, ev, d.Readers[0].Name, cardio.ReaderRemoved)
	expectEvent(t, ev, d.Readers[1].Name, cardio.ReaderRemoved)
	if err := c.Close(); err != nil {
		t.Fatalf("Close with the service gone: %v", err)
	}

	if err := d.Restart(); err != nil {
		t.Fatal(err)
	}
	// The watch retries with backoff (at most 5 s apart).
	if e := nextEvent(t, ev, 8*time.Second); e.Kind != cardio.ServiceBack {
		t.Fatalf("after restart got %v, want the service back", e)
	}
	for _, n := range d.ReaderNames() {
		e := nextEvent(t, ev, 8*time.Second)
		if e.Kind != cardio.ReaderAdded || e.Reader != n {
			t.Fatalf("after restart got %v, want %s: reader added", e, n)
		}
	}
	d.Insert(t, reader, newTestCard('L'))
	expectEvent(t, ev, reader, cardio.CardInserted)
}

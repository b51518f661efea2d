package simreader

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/cardio"
	"github.com/smartcard-service-centre/kiosk/cardio/apdu"
)

// echoCard answers every command with its INS byte and 9000, and can be
// made to block inside Transmit.
type echoCard struct {
	atr    []byte
	resets atomic.Int32
	calls  atomic.Int32
	block  chan struct{} // if non-nil, Transmit waits for it to be closed
	inside chan struct{} // if non-nil, signalled when Transmit starts
}

func (c *echoCard) ATR() []byte { return c.atr }
func (c *echoCard) Reset()      { c.resets.Add(1) }
func (c *echoCard) Transmit(cmd []byte) []byte {
	c.calls.Add(1)
	if c.inside != nil {
		c.inside <- struct{}{}
	}
	if c.block != nil {
		<-c.block
	}
	if len(cmd) < 2 {
		return []byte{0x67, 0x00}
	}
	return []byte{cmd[1], 0x90, 0x00}
}

func newCard(id byte) *echoCard { return &echoCard{atr: []byte{0x3B, 0x80, id}} }

var ctx = context.Background()

func next(t *testing.T, ch <-chan cardio.Event) cardio.Event {
	t.Helper()
	select {
	case e, ok := <-ch:
		if !ok {
			t.Fatal("event channel closed")
		}
		return e
	case <-time.After(2 * time.Second):
		t.Fatal("no event within 2s")
	}
	return cardio.Event{}
}

func expect(t *testing.T, ch <-chan cardio.Event, reader string, kind cardio.EventKind) cardio.Event {
	t.Helper()
	e := next(t, ch)
	if e.Reader != reader || e.Kind != kind {
		t.Fatalf("got event %v, want %s: %s", e, reader, kind)
	}
	return e
}

func expectQuiet(t *testing.T, ch <-chan cardio.Event) {
	t.Helper()
	select {
	case e := <-ch:
		t.Fatalf("unexpected event %v", e)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestWatchInitialStateThenChanges(t *testing.T) {
	tray := New("Kiosk", "Operator")
	a, b := newCard(1), newCard(2)
	if err := tray.Insert("Operator", a); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ev, err := tray.Watch(wctx)
	if err != nil {
		t.Fatal(err)
	}
	e := expect(t, ev, "Operator", cardio.CardInserted)
	if !bytes.Equal(e.ATR, a.atr) {
		t.Fatalf("initial ATR %X, want %X", e.ATR, a.atr)
	}
	expectQuiet(t, ev)

	if err := tray.Insert("Kiosk", b); err != nil {
		t.Fatal(err)
	}
	if e := expect(t, ev, "Kiosk", cardio.CardInserted); !bytes.Equal(e.ATR, b.atr) {
		t.Fatalf("ATR %X, want %X", e.ATR, b.atr)
	}
	if err := tray.Remove("Operator"); err != nil {
		t.Fatal(err)
	}
	expect(t, ev, "Operator", cardio.CardRemoved)

	if err := tray.AddReader("Spare"); err != nil {
		t.Fatal(err)
	}
	expect(t, ev, "Spare", cardio.ReaderAdded)
	if err := tray.RemoveReader("Kiosk"); err != nil {
		t.Fatal(err)
	}
	expect(t, ev, "Kiosk", cardio.CardRemoved)
	expect(t, ev, "Kiosk", cardio.ReaderRemoved)
	if names, _ := tray.List(ctx); fmt.Sprint(names) != "[Operator Spare]" {
		t.Fatalf("List = %q", names)
	}

	cancel()
	select {
	case _, ok := <-ev:
		if ok {
			// Drain anything racing with cancel, then require closure.
			for range ev {
			}
		}
	case <-time.After(2 * time.Second):
		t.Fatal("channel not closed after ctx cancel")
	}
}

func TestInsertAndCardReset(t *testing.T) {
	tray := New("R")
	c := newCard(1)
	if err := tray.Insert("R", c); err != nil {
		t.Fatal(err)
	}
	if c.resets.Load() != 1 {
		t.Fatalf("insert did not power-up reset the card")
	}
	if err := tray.Insert("R", newCard(2)); !errors.Is(err, ErrOccupied) {
		t.Fatalf("second insert: %v, want ErrOccupied", err)
	}
	if tray.Card("R") != c {
		t.Fatal("Card() does not return the inserted card")
	}
	if err := tray.Remove("R"); err != nil {
		t.Fatal(err)
	}
	if err := tray.Remove("R"); !errors.Is(err, cardio.ErrNoCard) {
		t.Fatalf("remove from empty: %v, want ErrNoCard", err)
	}
	if err := tray.Insert("nope", c); !errors.Is(err, cardio.ErrNoReader) {
		t.Fatalf("insert into unknown reader: %v", err)
	}
	if err := tray.Insert("R", nil); err == nil {
		t.Fatal("nil card accepted")
	}
	if err := tray.AddReader("R"); err == nil {
		t.Fatal("duplicate reader accepted")
	}
}

func TestConnectErrors(t *testing.T) {
	tray := New("R")
	if _, err := tray.Connect(ctx, "X"); !errors.Is(err, cardio.ErrNoReader) {
		t.Fatalf("unknown reader: %v", err)
	}
	if _, err := tray.Connect(ctx, "R"); !errors.Is(err, cardio.ErrNoCard) {
		t.Fatalf("empty reader: %v", err)
	}
}

func TestTransact(t *testing.T) {
	tray := New("R")
	card := newCard(1)
	_ = tray.Insert("R", card)
	conn, err := tray.Connect(ctx, "R")
	if err != nil {
		t.Fatal(err)
	}
	var kept apdu.Transport
	err = conn.Transact(ctx, func(tr apdu.Transport) error {
		kept = tr
		rsp, err := tr.Transmit(ctx, []byte{0x00, 0xCA, 0x00, 0x00})
		if err != nil {
			return err
		}
		if !bytes.Equal(rsp, []byte{0xCA, 0x90, 0x00}) {
			return fmt.Errorf("response %X", rsp)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kept.Transmit(ctx, []byte{0, 0xCA, 0, 0}); err == nil {
		t.Fatal("transport usable after its transaction ended")
	}
	sentinel := errors.New("boom")
	if err := conn.Transact(ctx, func(apdu.Transport) error { return sentinel }); !errors.Is(err, sentinel) {
		t.Fatalf("fn error not returned: %v", err)
	}
	before := card.resets.Load()
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	if card.resets.Load() != before+1 {
		t.Fatal("Close did not reset the card")
	}
	if err := conn.Transact(ctx, func(apdu.Transport) error { return nil }); !errors.Is(err, cardio.ErrClosed) {
		t.Fatalf("Transact after Close: %v", err)
	}
	if err := conn.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestRemovalDuringTransact(t *testing.T) {
	tray := New("R")
	card := newCard(1)
	card.block = make(chan struct{})
	card.inside = make(chan struct{}, 1)
	_ = tray.Insert("R", card)
	conn, _ := tray.Connect(ctx, "R")
	defer conn.Close()

	errc := make(chan error, 1)
	go func() {
		errc <- conn.Transact(ctx, func(tr apdu.Transport) error {
			_, err := tr.Transmit(ctx, []byte{0x00, 0x47, 0x00, 0x9A})
			return err
		})
	}()
	<-card.inside // the card is busy with the command
	if err := tray.Remove("R"); err != nil {
		t.Fatal(err)
	}
	close(card.block)
	select {
	case err := <-errc:
		if !errors.Is(err, cardio.ErrCardRemoved) {
			t.Fatalf("got %v, want ErrCardRemoved", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Transact hung after removal")
	}

	// A new card in the same reader does not revive the old connection.
	card.block, card.inside = nil, nil
	_ = tray.Insert("R", newCard(2))
	err := conn.Transact(ctx, func(apdu.Transport) error { return nil })
	if !errors.Is(err, cardio.ErrCardRemoved) {
		t.Fatalf("old conn after reinsertion: %v, want ErrCardRemoved", err)
	}
}

func TestTransactionsAreExclusive(t *testing.T) {
	tray := New("R")
	_ = tray.Insert("R", newCard(1))
	c1, _ := tray.Connect(ctx, "R")
	c2, _ := tray.Connect(ctx, "R")
	defer c1.Close()
	defer c2.Close()

	inFirst := make(chan struct{})
	release := make(chan struct{})
	go func() {
		_ = c1.Transact(ctx, func(apdu.Transport) error {
			close(inFirst)
			<-release
			return nil
		})
	}()
	<-inFirst
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	err := c2.Transact(short, func(apdu.Transport) error { return errors.New("ran concurrently") })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second transaction: %v, want to wait and time out", err)
	}
	close(release)
	if err := c2.Transact(ctx, func(apdu.Transport) error { return nil }); err != nil {
		t.Fatalf("after release: %v", err)
	}
}

func TestCloseEndsWatches(t *testing.T) {
	tray := New("R")
	ev, err := tray.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = tray.Close()
	select {
	case _, ok := <-ev:
		if ok {
			t.Fatal("event after Close")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("watch not closed by Close")
	}
	if _, err := tray.Watch(ctx); !errors.Is(err, cardio.ErrClosed) {
		t.Fatalf("Watch after Close: %v", err)
	}
	if _, err := tray.List(ctx); !errors.Is(err, cardio.ErrClosed) {
		t.Fatalf("List after Close: %v", err)
	}
	if _, err := tray.Connect(ctx, "R"); !errors.Is(err, cardio.ErrClosed) {
		t.Fatalf("Connect after Close: %v", err)
	}
}

// A consumer that never reads must not block the tray.
func TestSlowWatcherDoesNotBlock(t *testing.T) {
	tray := New("R")
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if _, err := tray.Watch(wctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		for i := 0; i < 1000; i++ {
			_ = tray.Insert("R", newCard(1))
			_ = tray.Remove("R")
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Insert/Remove blocked on an unread watch")
	}
}

// Run with -race: concurrent insert/remove, transactions and watches.
func TestConcurrentUse(t *testing.T) {
	tray := New("A", "B")
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ev, _ := tray.Watch(wctx)
	const want = 800 // 2 readers × 200 insertions and 200 removals
	var counted atomic.Int32
	all, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		for range ev {
			if counted.Add(1) == want {
				close(all)
			}
		}
	}()
	var wg sync.WaitGroup
	for _, r := range []string{"A", "B"} {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if err := tray.Insert(r, newCard(byte(i))); err != nil {
					t.Errorf("insert: %v", err)
				}
				if err := tray.Remove(r); err != nil {
					t.Errorf("remove: %v", err)
				}
			}
		}()
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				c, err := tray.Connect(ctx, r)
				if err != nil {
					continue
				}
				err = c.Transact(ctx, func(tr apdu.Transport) error {
					_, err := tr.Transmit(ctx, []byte{0, 0xA4, 4, 0})
					return err
				})
				if err != nil && !errors.Is(err, cardio.ErrCardRemoved) {
					t.Errorf("unexpected error %v", err)
				}
				_ = c.Close()
			}
		}()
	}
	wg.Wait()
	// Every insertion and removal must reach the watcher exactly once:
	// wait for them all, end the watch, then count what came.
	select {
	case <-all:
	case <-time.After(5 * time.Second):
	}
	cancel()
	<-finished
	if n := counted.Load(); n != want {
		t.Fatalf("watcher saw %d events, want %d", n, want)
	}
}

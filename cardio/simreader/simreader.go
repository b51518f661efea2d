// Package simreader is an in-process cardio.Readers: a tray of named readers
// into which software cards (*sim.Card) are inserted and removed by code. The
// demo and the TUI tests use it in place of PC/SC; it reports events and
// errors the way cardio/pcsc does (initial CardInserted events, ErrCardRemoved
// when the card is pulled during a transaction, exclusive transactions).
package simreader

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/smartcard-service-centre/kiosk/cardio"
	"github.com/smartcard-service-centre/kiosk/cardio/apdu"
)

// Card is an in-process card; *sim.Card satisfies it.
type Card interface {
	ATR() []byte
	// Reset returns the card to its power-on state.
	Reset()
	Transmit(cmd []byte) []byte
}

// ErrOccupied is returned by Insert when the reader already holds a card.
var ErrOccupied = errors.New("reader already holds a card")

type slot struct {
	name string
	card Card // nil when empty
	// gen changes on every insertion and removal, so a Conn can tell that
	// its card is gone even if another card was inserted since.
	gen uint64
	// tx is the transaction lock: a one-slot semaphore, so waiting for it
	// can be abandoned when the caller's context ends.
	tx chan struct{}
	// gone is set when the reader itself is removed from the tray.
	gone bool
}

// Tray is a set of simulated readers. It is safe for concurrent use.
type Tray struct {
	mu       sync.Mutex
	slots    []*slot
	nextGen  uint64
	watchers map[*watcher]struct{}
	closed   bool
}

var _ cardio.Readers = (*Tray)(nil)

// New returns a tray with the named, empty readers.
func New(readers ...string) *Tray {
	t := &Tray{watchers: make(map[*watcher]struct{})}
	for _, r := range readers {
		if t.find(r) == nil {
			t.slots = append(t.slots, &slot{name: r, tx: make(chan struct{}, 1)})
		}
	}
	return t
}

func (t *Tray) find(name string) *slot {
	for _, s := range t.slots {
		if s.name == name {
			return s
		}
	}
	return nil
}

// slotLocked returns the named reader; t.mu must be held.
func (t *Tray) slotLocked(name string) (*slot, error) {
	if t.closed {
		return nil, fmt.Errorf("simreader: %w", cardio.ErrClosed)
	}
	s := t.find(name)
	if s == nil {
		return nil, fmt.Errorf("simreader: %q: %w", name, cardio.ErrNoReader)
	}
	return s, nil
}

// AddReader plugs in a new, empty reader (ReaderAdded event).
func (t *Tray) AddReader(name string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return fmt.Errorf("simreader: %w", cardio.ErrClosed)
	}
	if t.find(name) != nil {
		return fmt.Errorf("simreader: reader %q already exists", name)
	}
	t.slots = append(t.slots, &slot{name: name, tx: make(chan struct{}, 1)})
	t.broadcastLocked(cardio.Event{Reader: name, Kind: cardio.ReaderAdded})
	return nil
}

// RemoveReader unplugs a reader; a card in it is reported removed first.
func (t *Tray) RemoveReader(name string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, err := t.slotLocked(name)
	if err != nil {
		return err
	}
	if s.card != nil {
		t.ejectLocked(s)
	}
	s.gone = true
	t.slots = slices.DeleteFunc(t.slots, func(x *slot) bool { return x == s })
	t.broadcastLocked(cardio.Event{Reader: name, Kind: cardio.ReaderRemoved})
	return nil
}

// Insert puts card into reader. The card is reset first, as power-up does on
// a real card.
func (t *Tray) Insert(reader string, card Card) error {
	if card == nil {
		return errors.New("simreader: insert: nil card")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s, err := t.slotLocked(reader)
	if err != nil {
		return err
	}
	if s.card != nil {
		return fmt.Errorf("simreader: %q: %w", reader, ErrOccupied)
	}
	card.Reset()
	t.nextGen++
	s.card, s.gen = card, t.nextGen
	t.broadcastLocked(cardio.Event{Reader: reader, Kind: cardio.CardInserted, ATR: slices.Clone(card.ATR())})
	return nil
}

// Remove takes the card out of reader. A transaction in progress on it fails
// with cardio.ErrCardRemoved at its next APDU.
func (t *Tray) Remove(reader string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, err := t.slotLocked(reader)
	if err != nil {
		return err
	}
	if s.card == nil {
		return fmt.Errorf("simreader: %q: %w", reader, cardio.ErrNoCard)
	}
	t.ejectLocked(s)
	return nil
}

func (t *Tray) ejectLocked(s *slot) {
	t.nextGen++
	s.card, s.gen = nil, t.nextGen
	t.broadcastLocked(cardio.Event{Reader: s.name, Kind: cardio.CardRemoved})
}

// Card returns the card in reader, or nil.
func (t *Tray) Card(reader string) Card {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.find(reader); s != nil {
		return s.card
	}
	return nil
}

// List implements cardio.Readers.
func (t *Tray) List(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, fmt.Errorf("simreader: %w", cardio.ErrClosed)
	}
	names := make([]string, len(t.slots))
	for i, s := range t.slots {
		names[i] = s.name
	}
	return names, nil
}

// Close implements cardio.Readers: all watches end, further calls fail
// with cardio.ErrClosed.
func (t *Tray) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	for w := range t.watchers {
		w.stop()
	}
	clear(t.watchers)
	return nil
}

// watcher queues events without bound, so Insert and Remove never block on
// a slow consumer.
type watcher struct {
	mu      sync.Mutex
	queue   []cardio.Event
	wake    chan struct{} // 1-buffered: "queue may be non-empty"
	done    chan struct{}
	stopped bool
}

func (w *watcher) push(e cardio.Event) {
	w.mu.Lock()
	w.queue = append(w.queue, e)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *watcher) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.stopped = true
		close(w.done)
	}
}

func (t *Tray) broadcastLocked(e cardio.Event) {
	for w := range t.watchers {
		w.push(e)
	}
}

// Watch implements cardio.Readers.
func (t *Tray) Watch(ctx context.Context) (<-chan cardio.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w := &watcher{wake: make(chan struct{}, 1), done: make(chan struct{})}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil, fmt.Errorf("simreader: %w", cardio.ErrClosed)
	}
	// Snapshot and registration under one lock: no event is lost or
	// duplicated between the initial state and the changes.
	for _, s := range t.slots {
		if s.card != nil {
			w.push(cardio.Event{Reader: s.name, Kind: cardio.CardInserted, ATR: slices.Clone(s.card.ATR())})
		}
	}
	t.watchers[w] = struct{}{}
	t.mu.Unlock()

	out := make(chan cardio.Event)
	go func() {
		defer close(out)
		defer func() {
			t.mu.Lock()
			delete(t.watchers, w)
			t.mu.Unlock()
		}()
		for {
			w.mu.Lock()
			var next *cardio.Event
			if len(w.queue) > 0 {
				e := w.queue[0]
				w.queue = w.queue[1:]
				next = &e
			}
			w.mu.Unlock()
			if next == nil {
				select {
				case <-w.wake:
					continue
				case <-ctx.Done():
					return
				case <-w.done:
					return
				}
			}
			select {
			case out <- *next:
			case <-ctx.Done():
				return
			case <-w.done:
				return
			}
		}
	}()
	return out, nil
}

// Connect implements cardio.Readers.
func (t *Tray) Connect(ctx context.Context, reader string) (cardio.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s, err := t.slotLocked(reader)
	if err != nil {
		return nil, err
	}
	if s.card == nil {
		return nil, fmt.Errorf("simreader: %q: %w", reader, cardio.ErrNoCard)
	}
	return &conn{tray: t, slot: s, gen: s.gen}, nil
}

// conn is bound to one insertion of one card (slot generation).
type conn struct {
	tray   *Tray
	slot   *slot
	gen    uint64
	mu     sync.Mutex // guards closed
	closed bool
}

// card returns the connected card if it is still inserted.
func (c *conn) card() (Card, error) {
	c.tray.mu.Lock()
	defer c.tray.mu.Unlock()
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	switch {
	case closed:
		return nil, fmt.Errorf("simreader: %w", cardio.ErrClosed)
	case c.slot.gone:
		return nil, fmt.Errorf("simreader: %q: %w", c.slot.name, cardio.ErrReaderUnavailable)
	case c.slot.gen != c.gen:
		return nil, fmt.Errorf("simreader: %q: %w", c.slot.name, cardio.ErrCardRemoved)
	}
	return c.slot.card, nil
}

// Transact implements cardio.Conn.
func (c *conn) Transact(ctx context.Context, fn func(t apdu.Transport) error) error {
	if _, err := c.card(); err != nil {
		return err
	}
	select {
	case c.slot.tx <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("simreader: wait for card transaction: %w", ctx.Err())
	}
	defer func() { <-c.slot.tx }()
	// The card may have gone while we waited for the lock.
	if _, err := c.card(); err != nil {
		return err
	}
	tr := &transport{conn: c}
	defer tr.end()
	return fn(tr)
}

// Close implements cardio.Conn. Like PC/SC's disconnect with reset, it
// clears the card's security state if the card is still inserted. It waits
// (boundedly) for a transaction in progress, as pcscd does.
func (c *conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	select {
	case c.slot.tx <- struct{}{}:
		defer func() { <-c.slot.tx }()
	case <-time.After(closeWait):
		// Called from inside a transaction or one is stuck: skip the reset
		// rather than deadlock.
		return nil
	}
	c.tray.mu.Lock()
	var card Card
	if !c.slot.gone && c.slot.gen == c.gen {
		card = c.slot.card
	}
	c.tray.mu.Unlock()
	if card != nil {
		card.Reset()
	}
	return nil
}

// closeWait bounds how long Close waits for a running transaction.
const closeWait = 2 * time.Second

type transport struct {
	conn  *conn
	mu    sync.Mutex
	ended bool
}

func (t *transport) end() {
	t.mu.Lock()
	t.ended = true
	t.mu.Unlock()
}

// Transmit implements apdu.Transport.
func (t *transport) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	t.mu.Lock()
	ended := t.ended
	t.mu.Unlock()
	if ended {
		return nil, errors.New("simreader: transport used after its transaction ended")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	card, err := t.conn.card()
	if err != nil {
		return nil, err
	}
	rsp := card.Transmit(slices.Clone(cmd))
	// A card pulled while it was computing gives no answer.
	if _, err := t.conn.card(); err != nil {
		return nil, err
	}
	return rsp, nil
}

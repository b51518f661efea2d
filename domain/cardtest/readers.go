package cardtest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
)

// Readers is a domain.CardReaders under test, its holder's and operator's
// readers empty at the start, with the hands that move cards.
type Readers interface {
	domain.CardReaders
	// Put puts a card issued with serial into role's reader.
	Put(t *testing.T, role domain.ReaderRole, serial domain.CardSerial)
	// Take takes the card out of role's reader.
	Take(t *testing.T, role domain.ReaderRole)
}

// eventWithin bounds the wait for a reader event; real readers report a
// change within about half a second.
const eventWithin = 5 * time.Second

// RunReaders runs the conformance suite of the readers port: what the
// kiosk and the operator terminal rely on when cards come and go.
func RunReaders(t *testing.T, newReaders func(t *testing.T) Readers) {
	tests := []struct {
		name string
		fn   func(t *testing.T, r Readers)
	}{
		{"Empty", testReadersEmpty},
		{"InsertAndRemove", testReadersInsertAndRemove},
		{"PresentAtSubscription", testReadersPresentAtSubscription},
		{"EventsEndWithContext", testReadersEventsEnd},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newReaders(t)) })
	}
}

// openSerial opens role's card and returns the serial it reports.
func openSerial(t *testing.T, r Readers, role domain.ReaderRole) domain.CardSerial {
	t.Helper()
	c, err := r.Open(t.Context(), role)
	if err != nil {
		t.Fatalf("open the %s's card: %v", role, err)
	}
	defer c.Close()
	st, err := c.Status(t.Context())
	if err != nil {
		t.Fatalf("status of the %s's card: %v", role, err)
	}
	return st.Serial
}

func wantNoCard(t *testing.T, r Readers, role domain.ReaderRole) {
	t.Helper()
	c, err := r.Open(t.Context(), role)
	if err == nil {
		c.Close()
	}
	if !errors.Is(err, domain.ErrNoCard) {
		t.Fatalf("open the empty %s's reader: %v, want ErrNoCard", role, err)
	}
}

// subscribe starts Events until the test ends.
func subscribe(t *testing.T, r Readers) <-chan domain.CardEvent {
	t.Helper()
	ch, err := r.Events(t.Context())
	if err != nil {
		t.Fatalf("events: %v", err)
	}
	return ch
}

// awaitEvent reads events until want arrives. Other events may come
// first (a reader may say at the start that it is empty).
func awaitEvent(t *testing.T, ch <-chan domain.CardEvent, want domain.CardEvent) {
	t.Helper()
	deadline := time.After(eventWithin)
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatalf("events ended before %+v", want)
			}
			if e == want {
				return
			}
		case <-deadline:
			t.Fatalf("no event %+v within %v", want, eventWithin)
		}
	}
}

func testReadersEmpty(t *testing.T, r Readers) {
	wantNoCard(t, r, domain.ReaderHolder)
	wantNoCard(t, r, domain.ReaderOperator)
}

func testReadersInsertAndRemove(t *testing.T, r Readers) {
	ch := subscribe(t, r)
	const holder, operator = domain.CardSerial("4082A00100000011"), domain.CardSerial("4082A00100000087")
	r.Put(t, domain.ReaderHolder, holder)
	awaitEvent(t, ch, domain.CardEvent{Role: domain.ReaderHolder, Present: true})
	if got := openSerial(t, r, domain.ReaderHolder); got != holder {
		t.Fatalf("holder's reader has card %s, want %s", got, holder)
	}
	wantNoCard(t, r, domain.ReaderOperator)

	r.Put(t, domain.ReaderOperator, operator)
	awaitEvent(t, ch, domain.CardEvent{Role: domain.ReaderOperator, Present: true})
	if got := openSerial(t, r, domain.ReaderOperator); got != operator {
		t.Fatalf("operator's reader has card %s, want %s", got, operator)
	}

	r.Take(t, domain.ReaderHolder)
	awaitEvent(t, ch, domain.CardEvent{Role: domain.ReaderHolder, Present: false})
	wantNoCard(t, r, domain.ReaderHolder)
	if got := openSerial(t, r, domain.ReaderOperator); got != operator {
		t.Fatalf("operator's card after the holder's left: %s, want %s", got, operator)
	}
}

func testReadersPresentAtSubscription(t *testing.T, r Readers) {
	r.Put(t, domain.ReaderHolder, "4082A00100000011")
	awaitEvent(t, subscribe(t, r), domain.CardEvent{Role: domain.ReaderHolder, Present: true})
}

func testReadersEventsEnd(t *testing.T, r Readers) {
	ctx, cancel := context.WithCancel(t.Context())
	ch, err := r.Events(ctx)
	if err != nil {
		t.Fatalf("events: %v", err)
	}
	cancel()
	deadline := time.After(eventWithin)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatalf("events did not end within %v of their context", eventWithin)
		}
	}
}

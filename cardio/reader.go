// Package cardio is the product's view of card readers: a small interface
// implemented by PC/SC (cardio/pcsc) and by an in-process simulator
// (cardio/simreader), so the domain and the TUI never see which one runs.
package cardio

import (
	"context"
	"fmt"

	"github.com/smartcard-service-centre/kiosk/cardio/apdu"
)

// EventKind says what happened in a reader.
type EventKind int

const (
	// CardInserted: a card is present (also sent at the start of a Watch
	// for every card already present).
	CardInserted EventKind = iota + 1
	// CardRemoved: the card left the reader. A card swapped between two
	// polls is reported as CardRemoved followed by CardInserted.
	CardRemoved
	// ReaderAdded: a reader appeared after the Watch started.
	ReaderAdded
	// ReaderRemoved: a reader disappeared (its card, if any, is reported
	// removed first).
	ReaderRemoved
	// ServiceLost: the card service (pcscd) went away. It comes before the
	// removals of every card and reader that follow, so that they are not
	// taken for cards pulled out: the cards may still be in the readers.
	ServiceLost
	// ServiceBack: the card service is reachable again; its readers and
	// cards follow as added and inserted.
	ServiceBack
)

func (k EventKind) String() string {
	switch k {
	case CardInserted:
		return "card inserted"
	case CardRemoved:
		return "card removed"
	case ReaderAdded:
		return "reader added"
	case ReaderRemoved:
		return "reader removed"
	case ServiceLost:
		return "service lost"
	case ServiceBack:
		return "service back"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is one change in one reader.
type Event struct {
	Reader string
	Kind   EventKind
	// ATR of the inserted card (CardInserted only; may be empty for a mute
	// card).
	ATR []byte
}

func (e Event) String() string {
	if e.Kind == CardInserted {
		return fmt.Sprintf("%s: %s (ATR %X)", e.Reader, e.Kind, e.ATR)
	}
	return fmt.Sprintf("%s: %s", e.Reader, e.Kind)
}

// Readers is the set of card readers of this terminal.
type Readers interface {
	// List returns the reader names in the order the system reports them.
	// No reader is not an error: the result is then empty.
	List(ctx context.Context) ([]string, error)
	// Watch reports reader and card changes: first a CardInserted for every
	// card already present, then changes as they happen. The channel is
	// closed when ctx ends or the Readers is closed.
	Watch(ctx context.Context) (<-chan Event, error)
	// Connect opens a shared connection to the card in reader.
	Connect(ctx context.Context, reader string) (Conn, error)
	// Close stops all watches. Open Conns must be closed by their owners.
	Close() error
}

// Conn is a connection to the card in one reader.
type Conn interface {
	// Transact holds an exclusive card transaction for one multi-APDU
	// operation (not a session): other applications cannot interleave
	// APDUs while fn runs. t is valid only until fn returns.
	Transact(ctx context.Context, fn func(t apdu.Transport) error) error
	// Close ends the connection and resets the card, so a verified PIN or
	// an authenticated management key does not outlive the session.
	Close() error
}

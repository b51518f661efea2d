package mail

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
)

// DefaultMailboxLimit is how many messages a Mailbox keeps by default.
const DefaultMailboxLimit = 50

// subscriberBuffer is how many messages a slow subscriber may fall behind
// before it misses some (Messages still has them).
const subscriberBuffer = 16

// Message is a mail as the on-screen mailbox shows it. The texts are as
// enqueued: clean them (domain.CleanText) before drawing them.
type Message struct {
	ID      int64 // the outbox id
	From    string
	To      string
	Subject string
	Body    string
	Date    time.Time // when it was delivered to the mailbox
}

// MailboxConfig configures a Mailbox.
type MailboxConfig struct {
	// Limit is how many messages are kept, newest first; older ones are
	// dropped. Zero means DefaultMailboxLimit.
	Limit int
	// From is the sender shown; empty means DefaultFrom.
	From string
	// Clock dates the messages; nil is the system clock.
	Clock domain.Clock
}

// Mailbox is an in-memory transport for the demo: it keeps the last
// messages delivered and tells subscribers about new ones. It is safe for
// concurrent use.
type Mailbox struct {
	limit int
	from  string
	clock domain.Clock

	mu     sync.Mutex
	msgs   []Message // oldest first
	subs   map[int]chan Message
	nextID int
}

var _ Transport = (*Mailbox)(nil)

// NewMailbox checks cfg and returns an empty mailbox.
func NewMailbox(cfg MailboxConfig) (*Mailbox, error) {
	if cfg.Limit < 0 {
		return nil, fmt.Errorf("mailbox: limit %d must not be negative", cfg.Limit)
	}
	if cfg.Limit == 0 {
		cfg.Limit = DefaultMailboxLimit
	}
	from, err := parseFrom(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("mailbox: %w", err)
	}
	if cfg.Clock == nil {
		cfg.Clock = domain.SystemClock{}
	}
	return &Mailbox{limit: cfg.Limit, from: from, clock: cfg.Clock, subs: map[int]chan Message{}}, nil
}

// Deliver keeps m and passes it to every subscriber.
func (b *Mailbox) Deliver(ctx context.Context, m domain.Mail) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	msg := Message{ID: m.ID, From: b.from, To: m.To, Subject: m.Subject, Body: m.Body, Date: b.clock.Now()}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.msgs = append(b.msgs, msg)
	if n := len(b.msgs) - b.limit; n > 0 {
		// Copy rather than reslice, so dropped messages can be collected.
		b.msgs = slices.Clone(b.msgs[n:])
	}
	for _, ch := range b.subs {
		// Never block delivery on a slow screen: it can call Messages.
		select {
		case ch <- msg:
		default:
		}
	}
	return nil
}

// Messages returns the kept messages, newest first.
func (b *Mailbox) Messages() []Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := slices.Clone(b.msgs)
	slices.Reverse(out)
	return out
}

// Subscribe returns a channel that receives each message delivered from
// now on, and a function that ends the subscription and closes the
// channel. A subscriber that falls more than a few messages behind misses
// the excess; Messages always has them.
func (b *Mailbox) Subscribe() (<-chan Message, func()) {
	ch := make(chan Message, subscriberBuffer)
	b.mu.Lock()
	id := b.nextID
	b.nextID++
	b.subs[id] = ch
	b.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			b.mu.Lock()
			delete(b.subs, id)
			close(ch)
			b.mu.Unlock()
		})
	}
}

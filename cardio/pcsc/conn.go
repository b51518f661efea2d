package pcsc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ebfe/scard"

	"github.com/smartcard-service-centre/kiosk/cardio"
	"github.com/smartcard-service-centre/kiosk/cardio/apdu"
)

// endTimeout bounds EndTransaction and Disconnect, which must run even when
// the caller's context is already over (a transaction left open would lock
// every other application out of the card).
const endTimeout = 10 * time.Second

// errAbandoned marks a Conn whose PC/SC call was given up on; its handles
// are released in the background once that call returns. The connection is
// unusable, so callers see it as an unavailable reader.
var errAbandoned = fmt.Errorf("%w: connection dropped after a card call was abandoned; connect again", cardio.ErrReaderUnavailable)

type conn struct {
	reader string
	hctx   *scard.Context
	card   *scard.Card
	log    *slog.Logger

	// op serialises Transact and Close on this Conn.
	op sync.Mutex

	// mu guards the fields below, which an abandoning call changes.
	mu     sync.Mutex
	closed bool
	dead   bool
}

var _ cardio.Conn = (*conn)(nil)

func (c *conn) usable() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return fmt.Errorf("pcsc: %q: %w", c.reader, cardio.ErrClosed)
	case c.dead:
		return fmt.Errorf("pcsc: %q: %w", c.reader, errAbandoned)
	}
	return nil
}

// abandon marks the connection dead; cleanup releases the handles once the
// stuck call has returned.
func (c *conn) abandon() {
	c.mu.Lock()
	c.dead = true
	c.mu.Unlock()
	c.log.Warn("pcsc: card call abandoned; dropping the connection", "reader", c.reader)
}

func (c *conn) teardown() {
	_ = c.card.Disconnect(scard.ResetCard)
	_ = c.hctx.Release()
}

// do runs one PC/SC call on this connection under guard.
func (c *conn) do(ctx context.Context, op string, f func() error) error {
	if err := c.usable(); err != nil {
		return err
	}
	return guardErr(ctx, fmt.Sprintf("%s on %q", op, c.reader), f, c.abandon, c.teardown)
}

func (c *conn) reconnect(ctx context.Context) error {
	return c.do(ctx, "reconnect", func() error {
		return c.card.Reconnect(scard.ShareShared, scard.ProtocolAny, scard.LeaveCard)
	})
}

// Transact implements cardio.Conn with SCardBeginTransaction and
// SCardEndTransaction around fn.
func (c *conn) Transact(ctx context.Context, fn func(t apdu.Transport) error) (err error) {
	c.op.Lock()
	defer c.op.Unlock()
	if err := c.usable(); err != nil {
		return err
	}
	err = c.do(ctx, "begin transaction", c.card.BeginTransaction)
	if errors.Is(err, cardio.ErrCardReset) {
		// Reset by another application before our operation started:
		// nothing of ours was lost, so reconnect and go on. If the
		// operation needs a verified PIN the card itself will say so.
		c.log.Info("pcsc: card was reset by another application; reconnecting", "reader", c.reader)
		if err = c.reconnect(ctx); err == nil {
			err = c.do(ctx, "begin transaction", c.card.BeginTransaction)
		}
	}
	if err != nil {
		return err
	}

	t := &transport{c: c}
	// Deferred so that the transaction ends even if fn panics.
	defer func() { err = c.finish(ctx, t, err) }()
	return fn(t)
}

// finish ends the transaction begun by Transact; ferr is fn's result.
func (c *conn) finish(ctx context.Context, t *transport, ferr error) error {
	t.end()
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), endTimeout)
	defer cancel()
	var eerr error
	if c.usable() == nil {
		eerr = c.do(ectx, "end transaction", func() error { return c.card.EndTransaction(scard.LeaveCard) })
	}
	if errors.Is(ferr, cardio.ErrCardReset) || errors.Is(eerr, cardio.ErrCardReset) {
		// Make the handle usable for the next operation; this one
		// still fails because the card lost its state mid-way.
		if rerr := c.reconnect(ectx); rerr != nil {
			c.log.Warn("pcsc: reconnect after reset failed", "reader", c.reader, "err", rerr)
		}
	}
	switch {
	case ferr != nil:
		return ferr
	case errors.Is(eerr, cardio.ErrCardRemoved), errors.Is(eerr, cardio.ErrCardReset):
		// Every APDU of the operation was answered; the card left or
		// was reset only afterwards.
		return nil
	}
	return eerr
}

// Close implements cardio.Conn: disconnect resetting the card, so that a
// verified PIN or management key does not outlive the session.
func (c *conn) Close() error {
	c.op.Lock()
	defer c.op.Unlock()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	dead := c.dead
	c.closed = true
	c.mu.Unlock()
	if dead {
		return nil // teardown is pending on the abandoned call
	}
	ctx, cancel := context.WithTimeout(context.Background(), endTimeout)
	defer cancel()
	abandoned := false
	err := guardErr(ctx, fmt.Sprintf("disconnect from %q", c.reader),
		func() error { return c.card.Disconnect(scard.ResetCard) },
		func() { abandoned = true },
		func() { _ = c.hctx.Release() })
	if abandoned {
		return err
	}
	rerr := c.hctx.Release()
	if errors.Is(err, cardio.ErrCardRemoved) || errors.Is(err, cardio.ErrNoCard) || errors.Is(err, cardio.ErrNoService) {
		// Nothing left to reset.
		err = nil
	}
	if err != nil {
		return err
	}
	if rerr != nil && !serviceLost(rerr) {
		return mapErr("release context", rerr)
	}
	return nil
}

// transport is the apdu.Transport handed to a Transact callback.
type transport struct {
	c     *conn
	mu    sync.Mutex // one APDU at a time, and guards ended
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
	defer t.mu.Unlock()
	if t.ended {
		return nil, errors.New("pcsc: transport used after its transaction ended")
	}
	var rsp []byte
	err := t.c.do(ctx, "transmit", func() error {
		var err error
		rsp, err = t.c.card.Transmit(cmd)
		return err
	})
	switch {
	case err != nil && !cardio.IsTransport(err):
		// e.g. "Transaction failed": often a card pulled mid-command.
		return nil, t.c.whyFailed(ctx, err)
	case err != nil:
		return nil, err
	case len(rsp) < 2:
		// vpcd (and some drivers) answer a pulled card's command with
		// an empty response and no error; a card always sends a status
		// word.
		return nil, t.c.whyFailed(ctx, fmt.Errorf("pcsc: transmit on %q: %d-byte response without a status word", t.c.reader, len(rsp)))
	}
	return rsp, nil
}

// removalGrace is how long a failed command waits for the reader to report
// the card gone; pcscd polls some readers (vpcd) only every 400 ms.
const removalGrace = 1500 * time.Millisecond

// whyFailed turns err into cardio.ErrCardRemoved if the card has left the
// reader, which the reader may report a moment after the command failed.
func (c *conn) whyFailed(ctx context.Context, err error) error {
	ctx, cancel := context.WithTimeout(ctx, removalGrace)
	defer cancel()
	for {
		serr := c.do(ctx, "status", func() error {
			st, err := c.card.Status()
			if err == nil && st.State&scard.Absent != 0 {
				return scard.ErrRemovedCard
			}
			return err
		})
		switch {
		case errors.Is(serr, cardio.ErrCardRemoved), errors.Is(serr, cardio.ErrNoCard):
			return fmt.Errorf("%w: %w", cardio.ErrCardRemoved, err)
		case serr != nil:
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

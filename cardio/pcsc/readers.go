// Package pcsc implements cardio.Readers on the system PC/SC service (pcscd
// on Linux) through github.com/ebfe/scard (cgo, libpcsclite).
//
// Every operation uses its own PC/SC context: pcsc-lite serialises calls on
// one context, so a blocked SCardGetStatusChange would otherwise stall
// transactions, and a fresh context per call survives a pcscd restart.
// Every blocking call is bounded by the caller's context (and a cap), so a
// stopped service or a pulled card yields an error, never a hang.
package pcsc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/ebfe/scard"

	"github.com/smartcard-service-centre/kiosk/cardio"
)

// pnpReader is the pseudo-reader whose state changes when readers are
// plugged in or out.
const pnpReader = `\\?PnP?\Notification`

// Readers is the PC/SC implementation of cardio.Readers. The zero value is
// not usable; call New.
type Readers struct {
	log *slog.Logger

	mu      sync.Mutex
	closed  bool
	watches map[*watch]struct{}
}

var _ cardio.Readers = (*Readers)(nil)

// New returns PC/SC readers. It does not contact the service: errors show
// up on use (cardio.ErrNoService when pcscd is not running). log may be nil.
func New(log *slog.Logger) *Readers {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Readers{log: log, watches: make(map[*watch]struct{})}
}

func (r *Readers) checkOpen() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return fmt.Errorf("pcsc: %w", cardio.ErrClosed)
	}
	return nil
}

// establish opens a PC/SC context, bounded by ctx.
func establish(ctx context.Context) (*scard.Context, error) {
	return guard(ctx, "establish context", scard.EstablishContext, nil,
		func(c *scard.Context, err error) {
			if err == nil {
				_ = c.Release()
			}
		})
}

// listReaders returns the reader names known to hctx; none is not an error.
// If the call is abandoned, onAbandon runs at once and cleanup once the call
// has returned.
func listReaders(ctx context.Context, hctx *scard.Context, onAbandon, cleanup func()) ([]string, error) {
	names, err := guard(ctx, "list readers", hctx.ListReaders, onAbandon,
		func([]string, error) {
			if cleanup != nil {
				cleanup()
			}
		})
	if errors.Is(err, scard.ErrNoReadersAvailable) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(names, func(n string) bool { return n == pnpReader }), nil
}

// List implements cardio.Readers.
func (r *Readers) List(ctx context.Context) ([]string, error) {
	if err := r.checkOpen(); err != nil {
		return nil, err
	}
	hctx, err := establish(ctx)
	if err != nil {
		return nil, err
	}
	abandoned := false
	release := func() { _ = hctx.Release() }
	names, err := listReaders(ctx, hctx, func() { abandoned = true }, release)
	if !abandoned {
		release()
	}
	return names, err
}

// Connect implements cardio.Readers: a shared connection, T=1 or T=0.
func (r *Readers) Connect(ctx context.Context, reader string) (cardio.Conn, error) {
	if err := r.checkOpen(); err != nil {
		return nil, err
	}
	hctx, err := establish(ctx)
	if err != nil {
		return nil, err
	}
	abandoned := false
	card, err := guard(ctx, fmt.Sprintf("connect to %q", reader),
		func() (*scard.Card, error) { return hctx.Connect(reader, scard.ShareShared, scard.ProtocolAny) },
		func() { abandoned = true },
		func(card *scard.Card, err error) {
			if err == nil {
				_ = card.Disconnect(scard.LeaveCard)
			}
			_ = hctx.Release()
		})
	if err != nil {
		if !abandoned {
			_ = hctx.Release()
		}
		return nil, err
	}
	return &conn{reader: reader, hctx: hctx, card: card, log: r.log}, nil
}

// Close implements cardio.Readers: it ends every Watch (waiting up to a
// few seconds for them) and makes further calls fail with cardio.ErrClosed.
func (r *Readers) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	ws := make([]*watch, 0, len(r.watches))
	for w := range r.watches {
		ws = append(ws, w)
	}
	r.mu.Unlock()
	deadline := time.After(5 * time.Second)
	for _, w := range ws {
		w.cancel()
		select {
		case <-w.done:
		case <-deadline:
			return errors.New("pcsc: close: a watch did not stop within 5s")
		}
	}
	return nil
}

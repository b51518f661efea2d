package pcsc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/ebfe/scard"

	"github.com/smartcard-service-centre/kiosk/cardio"
)

// cancelEvery is how often SCardCancel is repeated until the watch loop
// notices: a cancel sent while no SCardGetStatusChange is blocked is lost.
const cancelEvery = 100 * time.Millisecond

// maxRetry caps the wait between attempts to reach a lost service.
const maxRetry = 5 * time.Second

type readerState struct {
	name string
	// state is the last event state with StateChanged cleared; it goes back
	// as CurrentState, so pcscd blocks until something differs from it.
	state   scard.StateFlag
	present bool
	seen    bool
}

type watch struct {
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	out    chan cardio.Event
	log    *slog.Logger

	hctx       *scard.Context
	stopCancel func()
	readers    []*readerState
	pnp        scard.StateFlag
	listed     bool // the first listing is the initial state: no ReaderAdded
}

// Watch implements cardio.Readers. It blocks in SCardGetStatusChange with no
// timeout, on every reader plus the PnP pseudo-reader, and is woken by
// SCardCancel when ctx ends. If pcscd stops, that is reported
// (ServiceLost), then present cards and readers are reported removed, and
// the watch reconnects with backoff until ctx ends (ServiceBack, then the
// readers and cards as added and inserted).
// It fails at once with cardio.ErrNoService if pcscd is not running.
func (r *Readers) Watch(ctx context.Context) (<-chan cardio.Event, error) {
	if err := r.checkOpen(); err != nil {
		return nil, err
	}
	hctx, err := establish(ctx)
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(ctx)
	w := &watch{
		ctx: wctx, cancel: cancel, done: make(chan struct{}),
		out: make(chan cardio.Event), log: r.log,
	}
	w.attach(hctx)
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		cancel()
		w.detach()
		return nil, fmt.Errorf("pcsc: %w", cardio.ErrClosed)
	}
	r.watches[w] = struct{}{}
	r.mu.Unlock()
	go func() {
		defer func() {
			r.mu.Lock()
			delete(r.watches, w)
			r.mu.Unlock()
		}()
		w.run()
	}()
	return w.out, nil
}

// attach starts using hctx, with a helper that cancels its blocking call
// once ctx ends.
func (w *watch) attach(hctx *scard.Context) {
	w.hctx = hctx
	stop := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		select {
		case <-w.ctx.Done():
		case <-stop:
			return
		}
		for {
			_ = hctx.Cancel()
			select {
			case <-stop:
				return
			case <-time.After(cancelEvery):
			}
		}
	}()
	w.stopCancel = func() { close(stop); <-exited }
}

// detach stops the canceller and releases the context; only the loop
// goroutine calls it, after its last call on hctx returned.
func (w *watch) detach() {
	if w.hctx == nil {
		return
	}
	w.stopCancel()
	_ = w.hctx.Release()
	w.hctx = nil
}

// emitting, if set (by tests), is called as a watch loop starts to send
// an event, so a test can act while the loop waits for its reader.
var emitting atomic.Pointer[func(cardio.Event)]

func (w *watch) emit(e cardio.Event) bool {
	if f := emitting.Load(); f != nil {
		(*f)(e)
	}
	select {
	case w.out <- e:
		return true
	case <-w.ctx.Done():
		return false
	}
}

// sleep waits d or until ctx ends; it reports whether to go on.
func (w *watch) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-w.ctx.Done():
		return false
	}
}

func (w *watch) run() {
	defer close(w.done)
	defer close(w.out)
	defer w.detach()
	relist := true
	failures := 0
	for w.ctx.Err() == nil {
		if w.hctx == nil {
			hctx, err := scard.EstablishContext()
			if err != nil {
				if !w.sleep(retryDelay(failures)) {
					return
				}
				failures++
				continue
			}
			w.log.Info("pcsc: service is back")
			w.attach(hctx)
			if !w.emit(cardio.Event{Kind: cardio.ServiceBack}) {
				return
			}
			relist = true
		}
		if relist {
			names, err := w.list()
			if err != nil {
				if w.ctx.Err() != nil || !w.failed(err) {
					return
				}
				continue
			}
			if !w.sync(names) {
				return
			}
			relist = false
		}
		states := make([]scard.ReaderState, 0, len(w.readers)+1)
		states = append(states, scard.ReaderState{Reader: pnpReader, CurrentState: w.pnp})
		for _, rs := range w.readers {
			states = append(states, scard.ReaderState{Reader: rs.name, CurrentState: rs.state})
		}
		// No timeout: woken by a change, by SCardCancel, or by the
		// daemon going away (its socket closes).
		err := w.hctx.GetStatusChange(states, -1)
		switch {
		case err == nil:
			failures = 0
		case errors.Is(err, scard.ErrCancelled), errors.Is(err, scard.ErrTimeout):
			continue
		case errors.Is(err, scard.ErrUnknownReader):
			relist = true // a reader left between listing and waiting
			continue
		default:
			if !w.failed(mapErr("wait for card events", err)) {
				return
			}
			relist = true
			continue
		}
		if pnp := states[0].EventState; pnp&scard.StateChanged != 0 {
			w.pnp = pnp &^ scard.StateChanged
			relist = true
		}
		for i, rs := range w.readers {
			st := states[i+1]
			if st.EventState&(scard.StateUnknown|scard.StateIgnore) != 0 {
				relist = true // reader gone; sync reports it
				continue
			}
			if !w.update(rs, st) {
				return
			}
		}
	}
}

func retryDelay(failures int) time.Duration {
	d := 250 * time.Millisecond << min(failures, 5)
	return min(d, maxRetry)
}

// failed handles an error of the watch loop: a lost service is reported
// as every card and reader gone, then retried; anything else is logged and
// retried after a pause (never a busy loop). It reports whether to go on.
func (w *watch) failed(err error) bool {
	if serviceLost(err) {
		w.log.Warn("pcsc: service lost; waiting for it to come back", "err", err)
		w.detach()
		// Said first, so the removals below read as the service gone,
		// not as cards pulled out.
		if !w.emit(cardio.Event{Kind: cardio.ServiceLost}) || !w.sync(nil) {
			return false
		}
		w.listed = true // readers found later are changes, not initial state
		return w.sleep(retryDelay(0))
	}
	w.log.Error("pcsc: watching readers", "err", err)
	return w.sleep(time.Second)
}

// sync makes the tracked readers match names, reporting removed readers
// (after their cards) and added ones. New readers start unaware, so the next
// status call reports their cards as inserted.
func (w *watch) sync(names []string) bool {
	initial := !w.listed
	w.listed = true
	kept := w.readers[:0:0]
	for _, rs := range w.readers {
		if slices.Contains(names, rs.name) {
			kept = append(kept, rs)
			continue
		}
		if rs.present && !w.emit(cardio.Event{Reader: rs.name, Kind: cardio.CardRemoved}) {
			return false
		}
		if !w.emit(cardio.Event{Reader: rs.name, Kind: cardio.ReaderRemoved}) {
			return false
		}
	}
	w.readers = kept
	for _, n := range names {
		if slices.ContainsFunc(w.readers, func(rs *readerState) bool { return rs.name == n }) {
			continue
		}
		w.readers = append(w.readers, &readerState{name: n, state: scard.StateUnaware})
		if !initial && !w.emit(cardio.Event{Reader: n, Kind: cardio.ReaderAdded}) {
			return false
		}
	}
	return true
}

// update compares a reader's new state with the last one. The upper 16 bits
// of the state are pcscd's event counter for that reader: if it moved while
// a card was present both times, the card was swapped between two calls.
// The ATR field keeps its old value after a removal, so presence is read
// from StatePresent only.
func (w *watch) update(rs *readerState, st scard.ReaderState) bool {
	now := st.EventState &^ scard.StateChanged
	present := now&scard.StatePresent != 0
	swapped := rs.seen && rs.present && present && now>>16 != rs.state>>16
	var events []cardio.Event
	switch {
	case rs.present && !present:
		events = append(events, cardio.Event{Reader: rs.name, Kind: cardio.CardRemoved})
	case !rs.present && present:
		events = append(events, cardio.Event{Reader: rs.name, Kind: cardio.CardInserted, ATR: slices.Clone(st.Atr)})
	case swapped:
		events = append(events,
			cardio.Event{Reader: rs.name, Kind: cardio.CardRemoved},
			cardio.Event{Reader: rs.name, Kind: cardio.CardInserted, ATR: slices.Clone(st.Atr)})
	}
	rs.state, rs.present, rs.seen = now, present, true
	for _, e := range events {
		if !w.emit(e) {
			return false
		}
	}
	return true
}

// list is the watch loop's own reader listing. Unlike List it is not run
// under guard: the loop owns its context and may block on it.
func (w *watch) list() ([]string, error) {
	names, err := w.hctx.ListReaders()
	if errors.Is(err, scard.ErrNoReadersAvailable) {
		return nil, nil
	}
	if err != nil {
		return nil, mapErr("list readers", err)
	}
	return slices.DeleteFunc(names, func(n string) bool { return n == pnpReader }), nil
}

package common

import (
	"context"
	"errors"
	"fmt"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/smartcard-service-centre/kiosk/domain"
)

// The store being unavailable (domain.ErrStoreUnavailable: the database
// cannot be reached, e.g. while it fails over to its standby) is a state
// of its own, not a fault that ends the visit. The screen that meets it
// stays where it was, with everything typed, and says so at once. A call
// that is safe to repeat (a read, identifying a card) is tried again in
// the background by a Retrier until the store answers; one that is not
// (it may have counted an attempt, sent a code or be about to change a
// card) waits for the person to send it again once the store is back
// (AwayNote). A Pinger asks the store every few seconds whether it
// answers, which drives Common.StoreDown and the status bar's banner.

// Timings of the store-unavailable state.
const (
	// DefaultRetryBase is the first wait before a try again; the waits
	// double up to 5 of it (1 s, 2 s, 4 s, 5 s, 5 s …).
	DefaultRetryBase = time.Second
	// DefaultPingEvery is how often the store is asked while it answers;
	// DefaultPingAway while it does not; DefaultPingTimeout is how long
	// one ping may take (a hung database answers nothing at all).
	DefaultPingEvery   = 5 * time.Second
	DefaultPingAway    = time.Second
	DefaultPingTimeout = 2 * time.Second
)

// IsUnavailable reports whether err is the store being unavailable.
func IsUnavailable(err error) bool { return errors.Is(err, domain.ErrStoreUnavailable) }

// errTryTimedOut is a try that did not answer in time: the store is
// taken to be still away.
var errTryTimedOut = fmt.Errorf("%w: no answer in time", domain.ErrStoreUnavailable)

// TryTimedOut is the error a Retrier's try that did not answer in time
// comes back with, for the screen's own result message.
func TryTimedOut() error { return errTryTimedOut }

// Unavailable explains the store being away on a screen that carries on
// by itself (its call is tried again until the store answers).
var Unavailable = Explanation{
	Title: "Temporarily unavailable",
	What:  "We cannot reach the Smartcard Service Centre's records at the moment. Nothing you typed has been lost.",
	Next:  "Please wait: this screen carries on by itself as soon as the service is back. You do not need to remove your Smartcard.",
}

// unavailable is Explain's words for the store being away, where the
// screen does not carry on by itself: not fatal, the visit goes on.
var unavailable = Explanation{
	Title: "Temporarily unavailable",
	What:  "We cannot reach the Smartcard Service Centre's records at the moment.",
	Next:  "Please wait a moment, then try again. You do not need to remove your Smartcard.",
}

// AwayNote is what a screen says after a call the kiosk does not repeat
// by itself met the store away: while it is away, to wait; once the ping
// finds it back, to send again (again names the key).
func (c *Common) AwayNote(again string) string {
	if c.StoreDown {
		return "Temporarily unavailable: we cannot reach the Smartcard Service Centre's records at the moment. Nothing you typed has been lost, and you do not need to remove your Smartcard. " +
			"When the message at the bottom of the screen has gone, press " + again + " to try again."
	}
	return "The Smartcard Service Centre is available again. Nothing you typed has been lost: press " + again + " to try again."
}

// Backoff is how long to wait before try n (0, 1, …) of a call the store
// did not answer: RetryBase, doubling, at most 5 times RetryBase.
func (c *Common) Backoff(n int) time.Duration {
	base := c.RetryBase
	if base <= 0 {
		base = DefaultRetryBase
	}
	d := base
	for i := 0; i < n && d < 5*base; i++ {
		d *= 2
	}
	return min(d, 5*base)
}

// Messages of the store-unavailable state.
type (
	// StoreAwayMsg: a screen's call met the store unavailable (Err).
	StoreAwayMsg struct{ Err error }
	// StoreBackMsg: the store answers again. The root gives it to the
	// screen, whose Retrier tries at once.
	StoreBackMsg struct{}
)

// StoreAway marks the store away at once (a screen's call found it so,
// the ping may not have yet) and tells the root, which asks the store
// more often until it answers.
func (c *Common) StoreAway(err error) tea.Cmd {
	c.StoreDown = true
	return func() tea.Msg { return StoreAwayMsg{Err: err} }
}

// Retrier repeats a call that is safe to repeat while the store is
// unavailable: after Common.Backoff, and at once when the ping finds the
// store back. Its tries run in the background (Visit.retry): no busy
// indicator, no sign of life, so the idle timeout runs on while it
// repeats. The zero value is ready; a screen keeps one per call.
type Retrier struct {
	waiting bool
	tries   int
	gen     int                // ticks of an earlier wait are spent
	cancel  context.CancelFunc // the try in flight; nil: none
}

// RetryMsg says a Retrier's next try is due.
type RetryMsg struct {
	r   *Retrier
	gen int
}

// Wait follows a call (the first, or a try) that met the store away with
// err: the store is marked away and the next try is due after the
// backoff.
func (r *Retrier) Wait(c *Common, err error) tea.Cmd {
	r.release()
	r.waiting = true
	d := c.Backoff(r.tries)
	r.tries++
	r.gen++
	gen := r.gen
	return tea.Batch(c.StoreAway(err), tea.Tick(d, func(time.Time) tea.Msg { return RetryMsg{r, gen} }))
}

// Waiting reports whether the call is being repeated.
func (r *Retrier) Waiting() bool { return r.waiting }

// Due reports whether msg makes a try due now: this Retrier's tick, or
// the store back, while it waits with no try in flight.
func (r *Retrier) Due(msg tea.Msg) bool {
	if !r.waiting || r.cancel != nil {
		return false
	}
	switch m := msg.(type) {
	case RetryMsg:
		return m.r == r && m.gen == r.gen
	case StoreBackMsg:
		return true
	}
	return false
}

// Try runs call again for v in the background; a try that does not
// answer in time comes back as timedOut (built with TryTimedOut).
func (r *Retrier) Try(v *Visit, call func(context.Context) tea.Msg, timedOut tea.Msg) tea.Cmd {
	ctx, cancel := context.WithCancel(v.ctx)
	r.cancel = cancel
	r.gen++ // a tick still pending is spent
	return v.retry(ctx, call, timedOut)
}

// Stop gives the call up (the person went back, or the visit moved on).
// It reports whether a try was in flight: its result is still to come,
// and the screen waits for it before it uses the session again, since
// the try may yet change it.
func (r *Retrier) Stop() (inFlight bool) {
	inFlight = r.cancel != nil
	r.release()
	r.waiting, r.tries = false, 0
	r.gen++
	return inFlight
}

// Done: the call answered (whatever it said); the Retrier is ready for
// another.
func (r *Retrier) Done() { r.Stop() }

func (r *Retrier) release() {
	if r.cancel != nil {
		r.cancel()
		r.cancel = nil
	}
}

// Pinger asks the store, one ping at a time, whether it answers: every
// Every while it does, every Away while it does not. It keeps
// Common.StoreDown, logs when the store goes and comes back, and reports
// its return so the root can tell the screen (StoreBackMsg).
type Pinger struct {
	C       *Common
	Ctx     context.Context
	Ping    func(ctx context.Context) error // nil: nothing to ask
	Every   time.Duration                   // 0: DefaultPingEvery
	Away    time.Duration                   // 0: DefaultPingAway
	Timeout time.Duration                   // 0: DefaultPingTimeout

	gen    int
	logged bool // the store's absence is in the log
}

// PingMsg is a Pinger's tick or the answer to its ping.
type PingMsg struct {
	p    *Pinger
	gen  int
	tick bool
	err  error
}

// Start asks the store now, and from then on.
func (p *Pinger) Start() tea.Cmd {
	if p.Ping == nil {
		return nil
	}
	p.gen++
	return p.ping(p.gen)
}

// Update takes a PingMsg: a tick sends a ping, an answer sets StoreDown
// and schedules the next tick. back reports the store answering again
// after it was away.
func (p *Pinger) Update(msg PingMsg) (back bool, cmd tea.Cmd) {
	if msg.p != p || msg.gen != p.gen {
		return false, nil // an earlier round's
	}
	if msg.tick {
		return false, p.ping(msg.gen)
	}
	if msg.err != nil {
		p.away(msg.err)
		return false, p.after(p.interval(p.Away, DefaultPingAway))
	}
	back = p.C.StoreDown
	p.C.StoreDown = false
	if p.logged {
		p.C.Log.Info("store available again")
		p.logged = false
	}
	return back, p.after(p.interval(p.Every, DefaultPingEvery))
}

// Found follows a screen finding the store away (StoreAwayMsg): the
// store is asked again soon, and then as often as while it is away.
func (p *Pinger) Found(err error) tea.Cmd {
	p.away(err)
	if p.Ping == nil {
		return nil
	}
	p.gen++ // the round under way may answer from before
	return p.after(p.interval(p.Away, DefaultPingAway))
}

func (p *Pinger) away(err error) {
	p.C.StoreDown = true
	// Once, not every ping: that is how staff are told.
	if !p.logged {
		p.C.Log.Error("store unavailable: screens wait and retry", "err", err)
		p.logged = true
	}
}

func (p *Pinger) interval(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func (p *Pinger) after(d time.Duration) tea.Cmd {
	gen := p.gen
	return tea.Tick(d, func(time.Time) tea.Msg { return PingMsg{p: p, gen: gen, tick: true} })
}

// ping asks the store once, within Timeout: a ping that ignores its
// deadline still counts as no answer when it passes.
func (p *Pinger) ping(gen int) tea.Cmd {
	ping, parent, calls, limit := p.Ping, p.Ctx, p.C.Calls, p.interval(p.Timeout, DefaultPingTimeout)
	return func() tea.Msg {
		if !calls.begin(false) {
			return nil // the program is stopping
		}
		ctx, cancel := context.WithTimeout(parent, limit)
		res := make(chan error, 1)
		go func() {
			defer calls.end()
			defer cancel()
			res <- ping(ctx)
		}()
		var err error
		select {
		case err = <-res:
		case <-ctx.Done():
			select {
			case err = <-res:
			case <-time.After(limit / 10):
				err = fmt.Errorf("ping: %w", ctx.Err())
			}
		}
		if parent.Err() != nil {
			return nil // the program ended: not the store's answer
		}
		return PingMsg{p: p, gen: gen, err: err}
	}
}

// UnavailableFrame is a screen whose call waits for the store: ex (the
// store away, in the product's words), then (if set) what carries on by
// itself once it is back.
func (c *Common) UnavailableFrame(ex Explanation, then string) Frame {
	th, w := c.Theme, c.ContentWidth()
	var d Doc
	d.Add(th.Notice.Width(w).Render(th.Strong.Render(ex.What)))
	d.Gap()
	d.Focus(th.Text.Width(w).Render(ex.Next))
	if then != "" {
		d.Gap()
		d.Add(th.Muted.Width(w).Render(then))
	}
	return d.Frame(ex.Title)
}

// Package common is what the root model and every screen share: the
// Screen interface, the Common value (service, theme, keys, size), the
// Visit a card insertion starts, and the words for domain outcomes.
package common

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/selfservice"
	"github.com/smartcard-service-centre/kiosk/tui/theme"
)

// Screen is one screen of the kiosk. Update returns the screen to show
// next (itself, or a new one), so a change of screen happens at once and
// can never arrive late, after the card was pulled.
type Screen interface {
	Init() tea.Cmd
	Update(msg tea.Msg) (Screen, tea.Cmd)
	View() Frame
	// Help lists the keys the screen offers now, for the help bar.
	Help() []key.Binding
}

// Finisher is a screen after which removing the card is the expected way
// on, not an interruption worth remarking on.
type Finisher interface{ Finished() bool }

// Frame is what a screen draws: a heading and a body. Lines Focus to
// FocusEnd (exclusive) of the body must stay visible when the body is
// taller than the space (the field being typed in); Focus -1 means the top.
type Frame struct {
	Title    string
	Body     string
	Focus    int
	FocusEnd int
}

// Common is shared by the root and all screens. The root keeps Width and
// Theme current; screens only read them.
type Common struct {
	Service *selfservice.Service
	Theme   *theme.Theme
	Keys    KeyMap
	Log     *slog.Logger
	// Calls runs every visit's domain calls.
	Calls *Calls

	// Width is the width of a screen's body; the root fits the body's
	// height, keeping the focused lines in view.
	Width int
	// DeliveryPoll is how often a code screen asks how far the code's
	// email has got, until it is sent or given up.
	DeliveryPoll time.Duration
	// StoreDown: the store (the service's records) cannot be reached,
	// as the root's ping or a screen's call found; the status bar says
	// so. The root clears it when the store answers again.
	StoreDown bool
	// RetryBase is the first wait before a call the store did not answer
	// is tried again (0: DefaultRetryBase); see Backoff.
	RetryBase time.Duration
}

// CodeValidity is how long an emailed code lasts, as the service is
// configured; with no service (a kiosk that can only say it is not
// available) no code is ever sent, and it is the domain's default.
func (c *Common) CodeValidity() time.Duration {
	if c.Service == nil {
		return domain.DefaultCodePolicy.Validity
	}
	return c.Service.CodeValidity()
}

// ContentWidth is the width screens wrap text to: the body width, but no
// wider than reads comfortably.
func (c *Common) ContentWidth() int {
	return max(20, min(c.Width, 78))
}

// Calls runs the domain calls of every visit: it bounds each one and
// counts those still running, so that the kiosk can wait for them when it
// stops. A call may be writing down what it just did to a card, and the
// store is closed once the kiosk returns.
type Calls struct {
	timeout time.Duration // CallTimeout, or shorter in tests
	grace   time.Duration // how long a call past its deadline may still answer

	mu      sync.Mutex
	running int
	idle    chan struct{} // closed when running drops to 0
	closed  bool          // Wait has begun: start nothing new
}

// CallTimeout bounds one domain call: a card or database that stops
// answering must not leave the kiosk busy (and the idle timeout held off)
// for ever.
const CallTimeout = 45 * time.Second

// NewCalls returns a tracker whose calls are bounded by timeout (0:
// CallTimeout).
func NewCalls(timeout time.Duration) *Calls {
	if timeout <= 0 {
		timeout = CallTimeout
	}
	// A call that honours its context answers at once when the deadline
	// passes; its own words (an error) beat a generic "timed out".
	return &Calls{timeout: timeout, grace: timeout / 10}
}

// begin counts a call starting; after Wait began only a clean-up call
// (always) may start.
func (c *Calls) begin(always bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed && !always {
		return false
	}
	if c.running == 0 {
		c.idle = make(chan struct{})
	}
	c.running++
	return true
}

func (c *Calls) end() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.running--
	if c.running == 0 {
		close(c.idle)
	}
}

// Track returns a Cmd that runs clean-up f (ending a session, closing a
// card) as a counted call; it runs even while the kiosk stops.
func (c *Calls) Track(f func()) tea.Cmd {
	return func() tea.Msg {
		c.begin(true)
		defer c.end()
		f()
		return nil
	}
}

// Go runs clean-up f now, counted before Go returns, so a Wait that
// follows waits for it.
func (c *Calls) Go(f func()) {
	c.begin(true)
	go func() {
		defer c.end()
		f()
	}()
}

// Wait stops new calls from starting and waits up to limit for those
// running to finish; it reports whether they all did.
func (c *Calls) Wait(limit time.Duration) bool {
	c.mu.Lock()
	c.closed = true
	if c.running == 0 {
		c.mu.Unlock()
		return true
	}
	idle := c.idle
	c.mu.Unlock()
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-idle:
		return true
	case <-t.C:
		return false
	}
}

// Running is how many calls are running now.
func (c *Calls) Running() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.running
}

// Timeout is how long one call may take.
func (c *Calls) Timeout() time.Duration { return c.timeout }

// Visit is one card holder's time at the kiosk: from card insertion to
// removal or idle timeout. Its ID tags every domain result so that a
// result arriving after the visit ended is dropped.
type Visit struct {
	ID      uint64
	Card    domain.Card
	Session *selfservice.Session
	// Holder is the latest description of the card holder.
	Holder selfservice.Holder
	// SignedIn: the card verified the passcode for My Profile in this
	// visit, so the holder is not asked again (and Smartcard Unlock, which
	// the session no longer allows, is not offered).
	SignedIn bool
	// Ended: the domain has ended the session (a refused PUK, a lock-out,
	// a registration gone): nothing more can be done in this visit, so
	// no screen may offer a way back to a menu.
	Ended bool
	// RemovedNote, when set, is what the start screen says once the card
	// is removed: words that must outlive the screen showing them, since
	// pulling the card (as that screen asks) replaces it at once.
	RemovedNote string

	ctx          context.Context
	cancel       context.CancelFunc
	calls        *Calls
	inflight     int
	cardInflight int
}

// NewVisit starts a visit whose domain calls stop when parent ends or the
// visit is ended; calls counts and bounds them.
func NewVisit(parent context.Context, id uint64, calls *Calls) *Visit {
	ctx, cancel := context.WithCancel(parent)
	return &Visit{ID: id, ctx: ctx, cancel: cancel, calls: calls}
}

// VisitMsg carries the result of a domain call made for a visit.
type VisitMsg struct {
	ID  uint64
	Msg tea.Msg
	// Ended: the session had ended when the call returned.
	Ended bool
	// TimedOut: the call neither answered nor gave up by its deadline;
	// Msg is nil and the call may still be running.
	TimedOut bool

	card       bool // made with DoCard
	background bool // made with Look
}

// Background reports a result of Look: not the holder's doing, so not a
// sign of life, and a screen that waited for nothing.
func (m VisitMsg) Background() bool { return m.background }

// Do runs f off the UI goroutine and delivers its result as a VisitMsg.
// Call it only from Update (it counts calls in flight, which pause the
// idle timeout and show the busy indicator).
func (v *Visit) Do(f func(ctx context.Context) tea.Msg) tea.Cmd {
	return v.do(v.ctx, f, callPlain, nil)
}

// DoCard is Do for a call that changes the card (unlock, change passcode,
// renew): if the card is pulled meanwhile, the change may or may not have
// been made, and the holder is told so.
func (v *Visit) DoCard(f func(ctx context.Context) tea.Msg) tea.Cmd {
	return v.do(v.ctx, f, callCard, nil)
}

// Look is Do for a read the holder did not ask for (how far an email has
// got): it shows no busy indicator and does not hold off the idle
// timeout, which a screen that keeps looking would otherwise do for ever.
func (v *Visit) Look(f func(ctx context.Context) tea.Msg) tea.Cmd {
	return v.do(v.ctx, f, callLook, nil)
}

// retry is Look for a Retrier's try, under ctx (a child of the visit's,
// which the Retrier can cancel): like Look it is no sign of life and does
// not hold off the idle timeout. The screen waits for every try, so one
// that does not answer in time comes back as timedOut, not dropped.
func (v *Visit) retry(ctx context.Context, f func(ctx context.Context) tea.Msg, timedOut tea.Msg) tea.Cmd {
	return v.do(ctx, f, callLook, timedOut)
}

// callKind is what a call is to the visit.
type callKind int

const (
	callPlain callKind = iota
	callCard           // changes the card
	callLook           // a read in the background
)

// do runs f under parent as a call of kind; timedOut, if not nil, is
// what a call that does not answer in time delivers.
func (v *Visit) do(parent context.Context, f func(ctx context.Context) tea.Msg, kind callKind, timedOut tea.Msg) tea.Cmd {
	switch kind {
	case callPlain:
		v.inflight++
	case callCard:
		v.inflight++
		v.cardInflight++
	}
	card, background := kind == callCard, kind == callLook
	id, calls, sess := v.ID, v.calls, v.Session
	return func() tea.Msg {
		if !calls.begin(false) {
			return nil // the kiosk is stopping
		}
		ctx, cancel := context.WithTimeout(parent, calls.timeout)
		res := make(chan tea.Msg, 1)
		go func() {
			defer calls.end()
			defer cancel()
			res <- f(ctx)
		}()
		out := VisitMsg{ID: id, card: card, background: background}
		select {
		case out.Msg = <-res:
		case <-ctx.Done():
			// The deadline only works if f honours ctx; one that does
			// not must not leave the visit busy for ever.
			t := time.NewTimer(calls.grace)
			defer t.Stop()
			select {
			case out.Msg = <-res:
			case <-t.C:
				if timedOut != nil {
					out.Msg = timedOut
					return out
				}
				out.TimedOut = true
				return out
			}
		}
		out.Ended = sess != nil && sess.Step() == selfservice.StepEnded
		return out
	}
}

// Done records that a call made with Do came back.
func (v *Visit) Done(msg VisitMsg) {
	if v.inflight > 0 && !msg.background {
		v.inflight--
	}
	if msg.card && v.cardInflight > 0 {
		v.cardInflight--
	}
}

// Busy reports whether a domain call is in flight.
func (v *Visit) Busy() bool { return v != nil && v.inflight > 0 }

// ChangingCard reports whether a call that changes the card is in flight.
func (v *Visit) ChangingCard() bool { return v != nil && v.cardInflight > 0 }

// End stops the visit's domain calls and wipes the session; the card is
// closed. It may block on a call holding the session, so run the
// returned Cmd rather than calling it inline.
func (v *Visit) End() tea.Cmd {
	v.cancel()
	sess, card := v.Session, v.Card
	v.Session, v.Card = nil, nil
	v.Holder = selfservice.Holder{}
	return v.calls.Track(func() {
		if sess != nil {
			sess.End()
		}
		if card != nil {
			_ = card.Close()
		}
	})
}

// Indent shifts every line of s right by n spaces.
func Indent(s string, n int) string {
	pad := strings.Repeat(" ", n)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = pad + l
	}
	return strings.Join(lines, "\n")
}

// TooSmall fills a width × height terminal with the message that it is
// smaller than minW × minH, centred.
func TooSmall(width, height, minW, minH int) string {
	msg := fmt.Sprintf("This window is too small for the Smartcard Service Centre.\n\nPlease make it at least %d × %d characters (it is %d × %d now).",
		minW, minH, width, height)
	box := lipgloss.NewStyle().Width(max(1, min(width-2, 50))).Render(msg)
	return lipgloss.Place(width, height, lipgloss.Center, lipgloss.Center, box)
}

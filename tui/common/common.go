// Package common is what the root model and every screen share: the
// Screen interface, the Common value (service, theme, keys, size), the
// Visit a card insertion starts, and the words for domain outcomes.
package common

import (
	"context"
	"log/slog"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

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

	// Width is the width of a screen's body; the root fits the body's
	// height, keeping the focused lines in view.
	Width int
}

// ContentWidth is the width screens wrap text to: the body width, but no
// wider than reads comfortably.
func (c *Common) ContentWidth() int {
	return max(20, min(c.Width, 78))
}

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

	ctx      context.Context
	cancel   context.CancelFunc
	inflight int
}

// NewVisit starts a visit whose domain calls stop when parent ends or the
// visit is ended.
func NewVisit(parent context.Context, id uint64) *Visit {
	ctx, cancel := context.WithCancel(parent)
	return &Visit{ID: id, ctx: ctx, cancel: cancel}
}

// VisitMsg carries the result of a domain call made for a visit.
type VisitMsg struct {
	ID  uint64
	Msg tea.Msg
}

// CallTimeout bounds one domain call: a card or database that stops
// answering must not leave the kiosk busy (and the idle timeout held off)
// for ever.
const CallTimeout = 45 * time.Second

// Do runs f off the UI goroutine and delivers its result as a VisitMsg.
// Call it only from Update (it counts calls in flight, which pause the
// idle timeout and show the busy indicator).
func (v *Visit) Do(f func(ctx context.Context) tea.Msg) tea.Cmd {
	v.inflight++
	parent, id := v.ctx, v.ID
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(parent, CallTimeout)
		defer cancel()
		return VisitMsg{ID: id, Msg: f(ctx)}
	}
}

// Done records that a call made with Do came back.
func (v *Visit) Done() {
	if v.inflight > 0 {
		v.inflight--
	}
}

// Busy reports whether a domain call is in flight.
func (v *Visit) Busy() bool { return v != nil && v.inflight > 0 }

// End stops the visit's domain calls and wipes the session; the card is
// closed. It may block on a call holding the session, so run the
// returned Cmd rather than calling it inline.
func (v *Visit) End() tea.Cmd {
	v.cancel()
	sess, card := v.Session, v.Card
	v.Session, v.Card = nil, nil
	v.Holder = selfservice.Holder{}
	return func() tea.Msg {
		if sess != nil {
			sess.End()
		}
		if card != nil {
			_ = card.Close()
		}
		return nil
	}
}

package operator

import (
	"context"

	tea "charm.land/bubbletea/v2"

	"github.com/smartcard-service-centre/kiosk/domain"
	opsvc "github.com/smartcard-service-centre/kiosk/domain/operator"
	"github.com/smartcard-service-centre/kiosk/tui/common"
	"github.com/smartcard-service-centre/kiosk/tui/components"
)

// session is one log-in, from the operator's card going in to its removal
// or Logout: what every screen of it shares. Its Visit runs the domain
// calls (its context ends with the log-in) and holds the operator's card.
type session struct {
	c       *common.Common
	svc     *opsvc.Service
	readers domain.CardReaders
	v       *common.Visit
	sess    *opsvc.Session
	op      opsvc.Operator // for the header; refreshed when the role changes
	photo   *components.PhotoMode

	loggedIn bool // the passcode was right
	locked   bool // idle: the passcode is asked again
	// holderIn: a card is in the holder's reader; holderCard is it, once
	// a screen opened and identified it.
	holderIn   bool
	holderCard domain.Card
}

// ready reports whether the operator is logged in with a session role.
func (s *session) ready() bool { return s.loggedIn && !s.locked && s.op.Role.Name != "" }

// end stops the log-in's calls, ends its session and closes its cards.
func (s *session) end(ctx context.Context) tea.Cmd {
	sess, svc, hc := s.sess, s.svc, s.holderCard
	s.holderCard = nil
	end := s.v.End() // closes the operator's card
	return tea.Batch(end, s.c.Calls.Track(func() {
		if sess != nil {
			svc.OperatorCardRemoved(context.WithoutCancel(ctx), sess)
		}
		if hc != nil {
			_ = hc.Close()
		}
	}))
}

// dropHolderCard follows the holder's card leaving its reader (or being
// put away): the session forgets it and its handle is closed.
func (s *session) dropHolderCard() tea.Cmd {
	hc, svc, sess := s.holderCard, s.svc, s.sess
	s.holderCard = nil
	if sess == nil && hc == nil {
		return nil
	}
	return s.c.Calls.Track(func() {
		if sess != nil {
			svc.HolderCardRemoved(sess)
		}
		if hc != nil {
			_ = hc.Close()
		}
	})
}

// adopt keeps card as the holder's card in hand (closing any other), or
// closes it if the domain refused it.
func (s *session) adopt(card domain.Card, ok bool) tea.Cmd {
	var old domain.Card
	switch {
	case card == nil:
	case ok:
		if s.holderCard != nil && s.holderCard != card {
			old = s.holderCard
		}
		s.holderCard = card
	case card != s.holderCard:
		old = card
	}
	if old == nil {
		return nil
	}
	return s.c.Calls.Track(func() { _ = old.Close() })
}

// Messages screens get from the root.
type (
	// holderInMsg: a card arrived in the holder's reader.
	holderInMsg struct{}
	// holderOutMsg: the card left the holder's reader.
	holderOutMsg struct{}
	// loginAgainMsg asks the root to log in with the card still in the
	// operator's reader.
	loginAgainMsg struct{}
)

// identifiedMsg is IdentifyHolder's result.
type identifiedMsg struct {
	card domain.Card
	d    opsvc.HolderDetails
	err  error
}

// identify opens the card in the holder's reader and identifies it.
func (s *session) identify() tea.Cmd { return s.v.Do(s.identifyCall()) }

func (s *session) identifyCall() func(context.Context) tea.Msg {
	svc, sess, readers := s.svc, s.sess, s.readers
	return func(ctx context.Context) tea.Msg {
		card, err := readers.Open(ctx, domain.ReaderHolder)
		if err != nil {
			return identifiedMsg{err: err}
		}
		d, err := svc.IdentifyHolder(ctx, sess, card)
		return identifiedMsg{card: card, d: d, err: err}
	}
}

// recheck identifies the card holder's card again while the store is
// away (see common.Retrier): IdentifyHolder reads, and settles from the
// card what it would settle the first time, so a second call does no
// more than the first. A screen that identifies keeps one.
type recheck struct {
	retry common.Retrier
	// leaving: Back was pressed with a try in flight, whose result is
	// waited for before the screen goes back (it may change the session).
	leaving bool
}

// due starts a try if msg makes one due.
func (r *recheck) due(s *session, msg tea.Msg) (tea.Cmd, bool) {
	if !r.retry.Due(msg) {
		return nil, false
	}
	return r.retry.Try(s.v, s.identifyCall(), identifiedMsg{err: common.TryTimedOut()}), true
}

// away takes an identification's result: while the store is away and the
// card still in, it waits to try again (ok); otherwise it is done.
func (r *recheck) away(s *session, msg identifiedMsg) (tea.Cmd, bool) {
	if common.IsUnavailable(msg.err) && s.holderIn && !r.leaving {
		logOutcome(s.c, "identify card holder", msg.err)
		return r.retry.Wait(s.c, msg.err), true
	}
	r.retry.Done()
	return nil, false
}

// back follows Back while waiting: now reports whether the screen may go
// back at once; if not, it goes once the try in flight comes back.
func (r *recheck) back() (now bool) {
	if r.retry.Stop() {
		r.leaving = true
		return false
	}
	return true
}

// waiting reports whether the identification is being tried again.
func (r *recheck) waiting() bool { return r.retry.Waiting() || r.leaving }

// unavailableView is an identifying screen while the store is away.
func unavailableView(c *common.Common) common.Frame {
	return c.UnavailableFrame(unavailableAuto, "The card holder's Smartcard will then be read: keep both Smartcards in their readers.")
}

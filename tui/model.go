package tui

import (
	"context"
	"errors"
	"fmt"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/selfservice"
	"github.com/smartcard-service-centre/kiosk/tui/common"
	"github.com/smartcard-service-centre/kiosk/tui/screens"
	"github.com/smartcard-service-centre/kiosk/tui/theme"
)

// Timings of the root model.
const (
	tickEvery     = time.Second
	countdownFrom = 30 * time.Second // the idle warning shows this long before the timeout
	reasonFor     = 20 * time.Second // how long "your card was removed" stays up
	readerRetry   = 3 * time.Second
	// deliveryPoll is how often the code screen asks how far the code's
	// email has got: a mail relay answers in seconds.
	deliveryPoll = 2 * time.Second
	// shutdownWait bounds how long Run waits for domain calls still
	// running (a call's own bookkeeping is bounded at 10 s).
	shutdownWait = 12 * time.Second
	idleTimedOut = "Your session ended because there was no activity, and everything you typed was cleared."
	cardRemoved  = "Your Smartcard was removed, so we stopped and cleared everything you typed."
	callTimedOut = "Your session ended because the kiosk stopped getting an answer, and everything you typed was cleared. What you asked for may or may not have been done: remove your Smartcard and insert it again to check. If this keeps happening, please visit the IT booth."
)

// Messages of the root model.
type (
	subscribeMsg  struct{}
	tickMsg       time.Time
	identifiedMsg struct {
		card   domain.Card
		sess   *selfservice.Session
		holder selfservice.Holder
		err    error
	}
)

// Model is the root model: it follows the reader, owns the visit and the
// idle timer, and shows one screen at a time.
type Model struct {
	opts Options
	c    *common.Common

	width, height int
	screen        common.Screen
	welcome       *screens.Welcome

	visit        *common.Visit
	visits       uint64
	events       <-chan domain.CardEvent
	cardPresent  bool
	readerDown   bool
	readerLogged bool // the reader's failure is in the log: say only when it changes

	lastActivity time.Time
	countdown    int          // seconds left on the idle warning; 0: not shown
	light        bool         // the terminal's background is light
	compactTheme *theme.Theme // for screens too long for the terminal
	reasonUntil  time.Time

	spinner  spinner.Model
	spinning bool
	// blurred: whatever composes the kiosk covers its screen (see Blur).
	blurred bool

	// pinger asks the store whether it answers (the banner while it does
	// not); idRetry identifies the card again while the store is away.
	pinger  *common.Pinger
	idRetry common.Retrier

	onRun func() // NewProgram's: ties its context to the program's end
}

var _ tea.Model = (*Model)(nil)

// New returns the kiosk's root model. Options that Validate rejects give
// a kiosk that says the service is not available rather than a crash.
func New(o Options) *Model {
	o = o.withDefaults()
	c := &common.Common{
		Service: o.Service,
		Theme:   theme.New(true),
		Keys:    common.DefaultKeyMap(),
		Log:     o.Log,
		Calls:   common.NewCalls(o.callTimeout),

		DeliveryPoll: o.deliveryPoll,
		RetryBase:    o.retryBase,
	}
	m := &Model{opts: o, c: c, compactTheme: c.Theme.Compact(), spinner: spinner.New(spinner.WithSpinner(spinner.Dot))}
	m.pinger = &common.Pinger{C: c, Ctx: o.Context, Every: o.pingEvery, Away: o.pingAway}
	if o.Service != nil {
		m.pinger.Ping = o.Service.Ping
	}
	m.welcome = screens.NewWelcome(c)
	m.screen = m.welcome
	m.lastActivity = o.Now()
	return m
}

// Init starts listening to the reader and the idle clock.
func (m *Model) Init() tea.Cmd {
	if m.onRun != nil {
		m.onRun()
	}
	return tea.Batch(tea.RequestBackgroundColor, m.subscribe(), m.tick(), m.pinger.Start())
}

// Update routes messages: global keys and reader events here, the rest to
// the current screen.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	var cmds []tea.Cmd
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.layout()
		return m, nil
	case tea.BackgroundColorMsg:
		m.light = !msg.IsDark()
		m.layout()
		return m, nil

	case tea.KeyPressMsg:
		return m, m.key(msg)
	case tea.PasteMsg:
		// Through the same gate as keys: a paste answers "are you still
		// there?" without typing, and reaches no hidden screen.
		if !m.attend() {
			return m, nil
		}
		return m, m.input(msg)

	case subscribeMsg:
		return m, m.subscribe()
	case common.EventsReadyMsg:
		m.readerBack()
		m.events = msg.Ch
		return m, common.WaitEvent(msg.Ch)
	case common.EventsFailMsg:
		return m, m.readerLost(msg.Err)
	case common.EventsClosedMsg:
		if msg.Ch != m.events || m.opts.Context.Err() != nil {
			return m, nil
		}
		return m, m.readerLost(errors.New("card event stream ended"))
	case common.CardEventMsg:
		if msg.Ch != m.events {
			return m, nil
		}
		cmds = append(cmds, common.WaitEvent(msg.Ch), m.cardEvent(msg.Ev))

	case tickMsg:
		cmds = append(cmds, m.tick(), m.idle())

	case common.VisitMsg:
		cmds = append(cmds, m.visitResult(msg))
	case common.PingMsg:
		back, cmd := m.pinger.Update(msg)
		cmds = append(cmds, cmd)
		if back {
			cmds = append(cmds, m.storeBack())
		}
	case common.StoreAwayMsg:
		cmds = append(cmds, m.pinger.Found(msg.Err))
	case common.RetryMsg:
		if m.visit != nil && m.idRetry.Due(msg) {
			cmds = append(cmds, m.identifyAgain())
		} else {
			cmds = append(cmds, m.route(msg))
		}
	case screens.StartMsg:
		if m.visit == nil && m.cardPresent {
			cmds = append(cmds, m.beginVisit())
		}

	case spinner.TickMsg:
		if !m.visit.Busy() {
			m.spinning = false
			return m, nil
		}
		var cmd tea.Cmd
		m.spinner, cmd = m.spinner.Update(msg)
		return m, cmd

	default:
		cmds = append(cmds, m.route(msg))
	}
	if m.visit.Busy() && !m.spinning {
		m.spinning = true
		cmds = append(cmds, m.spinner.Tick)
	}
	return m, tea.Batch(cmds...)
}

// attend records a key or paste as activity; it reports whether the input
// may act, which it may not if it answered "are you still there?".
func (m *Model) attend() bool {
	m.active()
	if m.countdown > 0 {
		m.countdown = 0
		return false
	}
	return true
}

// key handles a key press: it counts as activity, dismisses the idle
// warning, and serves the global keys before the screen sees it.
func (m *Model) key(k tea.KeyPressMsg) tea.Cmd {
	if !m.attend() {
		return nil
	}
	switch {
	case key.Matches(k, m.c.Keys.Quit):
		if m.opts.AllowExit {
			return m.quit()
		}
		return nil
	case key.Matches(k, m.c.Keys.Suspend):
		return nil // no suspending or quitting the kiosk
	}
	return m.input(k)
}

// input gives a key or paste to the screen, if the screen can be seen:
// not when the window is too small, nor while the kiosk is blurred.
func (m *Model) input(msg tea.Msg) tea.Cmd {
	if m.blurred || m.tooSmall() {
		return nil
	}
	cmd := m.route(msg)
	if m.visit.Busy() && !m.spinning {
		m.spinning = true
		return tea.Batch(cmd, m.spinner.Tick)
	}
	return cmd
}

// route gives msg to the screen and switches to the screen it returns.
func (m *Model) route(msg tea.Msg) tea.Cmd {
	next, cmd := m.screen.Update(msg)
	if next == nil {
		return cmd
	}
	if next != m.screen {
		m.screen = next
		return tea.Batch(cmd, next.Init())
	}
	return cmd
}

func (m *Model) quit() tea.Cmd {
	if m.visit == nil {
		return tea.Quit
	}
	end := m.visit.End()
	m.visit = nil
	return tea.Sequence(end, tea.Quit)
}

// active records a sign of life from the person at the kiosk.
func (m *Model) active() {
	m.lastActivity = m.opts.Now()
}

// Blur tells the kiosk that whatever composes it covers its screen for
// now: keys still count as activity, answer the idle warning and serve
// the global keys, but no screen gets them.
func (m *Model) Blur() { m.blurred = true }

// Focus undoes Blur.
func (m *Model) Focus() { m.blurred = false }

// cardEvent follows the holder's reader: a card in starts a visit, a card
// out ends it and wipes everything.
func (m *Model) cardEvent(ev domain.CardEvent) tea.Cmd {
	if ev.Role != domain.ReaderHolder {
		return nil
	}
	if ev.Unavailable {
		return m.readerServiceLost()
	}
	m.readerBack() // any other event: the reader works
	m.active()
	if !ev.Present {
		m.cardPresent = false
		m.welcome.CardLeft = false
		if v := m.visit; v != nil {
			reason := cardRemoved
			switch {
			case v.ChangingCard():
				// The change may have been made before the card left.
				ex := common.CardRemovedWhileChanging
				reason = ex.What + " " + ex.Next
			case v.RemovedNote != "":
				reason = v.RemovedNote
			case finished(m.screen):
				reason = ""
			}
			return m.endVisit(reason)
		}
		return nil
	}
	if m.cardPresent && m.visit != nil {
		return nil // already serving this card
	}
	m.cardPresent = true
	if m.visit != nil {
		return nil
	}
	return m.beginVisit()
}

// beginVisit reads and identifies the card in the reader.
func (m *Model) beginVisit() tea.Cmd {
	m.visits++
	v := common.NewVisit(m.opts.Context, m.visits, m.c.Calls)
	m.visit = v
	m.idRetry.Stop()
	m.welcome.Reason, m.welcome.CardLeft = "", false
	m.countdown = 0
	m.active()
	m.screen = screens.NewChecking(m.c)
	svc, readers := m.opts.Service, m.opts.Readers
	if svc == nil || readers == nil {
		return v.Do(func(context.Context) tea.Msg {
			return identifiedMsg{err: errors.New("kiosk is not configured")}
		})
	}
	return v.Do(identify(svc, readers, nil))
}

// identify opens the card in the reader (card nil) or takes the one
// already open, and identifies it; the result carries the card only if
// it opened it.
func identify(svc *selfservice.Service, readers domain.CardReaders, card domain.Card) func(context.Context) tea.Msg {
	return func(ctx context.Context) tea.Msg {
		var opened domain.Card
		if card == nil {
			c, err := readers.Open(ctx, domain.ReaderHolder)
			if err != nil {
				return identifiedMsg{err: err}
			}
			card, opened = c, c
		}
		sess, err := svc.Identify(ctx, card)
		if err != nil {
			return identifiedMsg{card: opened, err: err}
		}
		return identifiedMsg{card: opened, sess: sess, holder: svc.Holder(sess)}
	}
}

// identifyAgain identifies the visit's card again, the store having
// been away: in the background, with the card already open, so nothing
// is asked of the holder (no reinsert) and the idle timeout runs on.
func (m *Model) identifyAgain() tea.Cmd {
	v := m.visit
	return m.idRetry.Try(v, identify(m.opts.Service, m.opts.Readers, v.Card), identifiedMsg{err: common.TryTimedOut()})
}

// storeBack follows the store answering again: a card waiting to be
// identified is at once, and the screen carries on (or says it may).
func (m *Model) storeBack() tea.Cmd {
	var cmd tea.Cmd
	if m.visit != nil && m.idRetry.Due(common.StoreBackMsg{}) {
		cmd = m.identifyAgain()
	}
	return tea.Batch(cmd, m.route(common.StoreBackMsg{}))
}

// endVisit wipes the visit: its screens are dropped (and with them all
// that was typed), its session ended and its card closed.
func (m *Model) endVisit(reason string) tea.Cmd {
	var cmd tea.Cmd
	if m.visit != nil {
		cmd = m.visit.End()
		m.visit = nil
	}
	m.idRetry.Stop()
	m.countdown = 0
	m.welcome.Reason = reason
	m.welcome.CardLeft = m.cardPresent
	m.reasonUntil = m.opts.Now().Add(reasonFor)
	m.screen = m.welcome
	return cmd
}

// visitResult delivers a domain result to the visit it belongs to; one
// for an ended visit is dropped, releasing what it holds.
func (m *Model) visitResult(msg common.VisitMsg) tea.Cmd {
	if m.visit == nil || msg.ID != m.visit.ID {
		if id, ok := msg.Msg.(identifiedMsg); ok {
			return m.c.Calls.Track(func() {
				if id.sess != nil {
					id.sess.End()
				}
				if id.card != nil {
					_ = id.card.Close()
				}
			})
		}
		return nil
	}
	v := m.visit
	v.Done(msg)
	if msg.Background() && msg.TimedOut {
		// A look nobody waited for: the screen keeps what it knew.
		m.c.Log.Warn("background domain call did not return in time", "limit", m.c.Calls.Timeout())
		return nil
	}
	if !msg.Background() {
		m.active()
	}
	if msg.TimedOut {
		// The call ignored its deadline and may never return: end the
		// visit rather than stay busy (idle timeout held off, typed text
		// on screen) for ever.
		m.c.Log.Error("domain call did not return in time", "limit", m.c.Calls.Timeout())
		return m.endVisit(callTimedOut)
	}
	if id, ok := msg.Msg.(identifiedMsg); ok {
		return m.identified(id)
	}
	if msg.Ended {
		v.Ended = true
	}
	cmd := m.route(msg.Msg)
	if v.Ended && m.visit == v && !finished(m.screen) {
		// Every screen words an ended session itself; should one not,
		// it must still not offer a way back into it.
		m.screen = screens.NewMessage(m.c, m.c.Ended(nil), "", nil)
	}
	return cmd
}

// finished reports whether removing the card is the expected way on from s.
func finished(s common.Screen) bool {
	f, ok := s.(common.Finisher)
	return ok && f.Finished()
}

func (m *Model) identified(id identifiedMsg) tea.Cmd {
	v := m.visit
	if id.card != nil {
		v.Card = id.card // a try again keeps the card it was given
	}
	if common.IsUnavailable(id.err) {
		// Not the card's fault, nor the end of the visit: it stays in the
		// reader, open, and is identified as soon as the store answers.
		m.c.Log.Info("identify card: store unavailable, trying again", "err", id.err)
		m.screen = screens.NewUnavailableCheck(m.c)
		return m.idRetry.Wait(m.c, id.err)
	}
	m.idRetry.Done()
	if id.err != nil {
		if common.IsServiceFault(id.err) {
			m.c.Log.Error("identify card", "err", id.err)
		} else {
			m.c.Log.Info("identify card", "outcome", id.err)
		}
		ex := m.c.Explain(id.err)
		ex.Fatal = true // no session: nothing to go back to
		m.screen = screens.NewMessage(m.c, ex, "", nil)
		return nil
	}
	v.Session, v.Holder = id.sess, id.holder
	next, cmd := screens.NewHome(m.c, v)
	m.screen = next
	return cmd
}

// readerLost marks the reader unavailable, ends any visit (its card can
// no longer be used) and tries again shortly.
func (m *Model) readerLost(err error) tea.Cmd {
	cmd := m.readerDownNow(err)
	m.events = nil
	return tea.Batch(cmd, tea.Tick(m.opts.readerRetry, func(time.Time) tea.Msg { return subscribeMsg{} }))
}

// readerServiceLost follows the reader reporting its card service gone
// (pcscd stopped): the events go on, and the one saying the service is
// back ends it.
func (m *Model) readerServiceLost() tea.Cmd {
	return m.readerDownNow(fmt.Errorf("%w: the card service was lost", domain.ErrReaderUnavailable))
}

// readerDownNow says the reader cannot be used: the start screen says so
// and that staff have been told, which the error in the log does. Any
// visit ends, since its card can no longer be used; the card is not
// "removed", and one being changed may or may not have been.
func (m *Model) readerDownNow(err error) tea.Cmd {
	// Once, not every retry: with no reader it would fill the log.
	if !m.readerLogged {
		m.c.Log.Error("card reader", "err", err)
		m.readerLogged = true
	}
	m.readerDown, m.cardPresent = true, false
	m.welcome.ReaderDown, m.welcome.CardLeft = true, false
	v := m.visit
	if v == nil {
		return nil
	}
	reason := ""
	if v.ChangingCard() {
		ex := common.ReaderLostWhileChanging
		reason = ex.What + " " + ex.Next
	}
	return m.endVisit(reason)
}

// readerBack notes the reader working again after readerDownNow.
func (m *Model) readerBack() {
	if m.readerLogged {
		m.c.Log.Info("card reader available again")
		m.readerLogged = false
	}
	m.readerDown = false
	m.welcome.ReaderDown = false
}

func (m *Model) subscribe() tea.Cmd { return common.Subscribe(m.opts.Context, m.opts.Readers) }

func (m *Model) tick() tea.Cmd {
	return tea.Tick(tickEvery, func(t time.Time) tea.Msg { return tickMsg(t) })
}

// idle runs the idle timeout: a countdown in its last 30 s, then the
// visit ends as if the card had been pulled. A domain call in flight
// holds it off (each is bounded by the call timeout); tries again while
// the store is away do not, being no sign of life.
func (m *Model) idle() tea.Cmd {
	now := m.opts.Now()
	if m.welcome.Reason != "" && now.After(m.reasonUntil) {
		m.welcome.Reason = ""
	}
	if m.visit == nil || m.visit.Busy() {
		m.countdown = 0
		return nil
	}
	left := m.opts.IdleTimeout - now.Sub(m.lastActivity)
	switch {
	case left <= 0:
		return m.endVisit(idleTimedOut)
	case left <= countdownFrom:
		m.countdown = int((left + time.Second - 1) / time.Second)
	default:
		m.countdown = 0
	}
	return nil
}

// shutdown ends the visit and waits, up to limit, for domain calls still
// running: one may be recording what it did to a card, and the caller
// closes the store once Run returns. Call it only after the program ended.
func (m *Model) shutdown(limit time.Duration) {
	if m.visit != nil {
		end := m.visit.End()
		m.visit = nil
		m.c.Calls.Go(func() { end() })
	}
	if n := m.c.Calls.Running(); n > 0 {
		m.c.Log.Info("kiosk stopping: waiting for domain calls to finish", "running", n, "limit", limit)
	}
	if !m.c.Calls.Wait(limit) {
		m.c.Log.Error("kiosk stopped with domain calls still running", "waited", limit)
	}
}

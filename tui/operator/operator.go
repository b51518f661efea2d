// Package operator is the operator terminal's full-screen UI (seeds 000,
// 001 and 002): a Registration Authority operator logs in with their own
// Smartcard in the operator's reader, chooses a session role, and manages
// a card holder's Smartcard in the second reader. A root model follows
// both readers, owns the log-in and the idle lock, and routes between one
// model per screen, built from the kiosk's shared components and theme.
//
// Like the kiosk, it drives the domain (domain/operator) only: calls run
// in tea.Cmds through the log-in's common.Visit and come back as
// messages; card events arrive as messages from the readers.
package operator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"

	"github.com/smartcard-service-centre/kiosk/domain"
	opsvc "github.com/smartcard-service-centre/kiosk/domain/operator"
	"github.com/smartcard-service-centre/kiosk/tui"
	"github.com/smartcard-service-centre/kiosk/tui/common"
	"github.com/smartcard-service-centre/kiosk/tui/components"
	"github.com/smartcard-service-centre/kiosk/tui/theme"
)

// Timings of the root model.
const (
	tickEvery    = time.Second
	readerRetry  = 3 * time.Second
	shutdownWait = 12 * time.Second
)

// Options configure the operator terminal's UI.
type Options struct {
	Service *opsvc.Service
	Readers domain.CardReaders
	// AllowExit lets Ctrl+C quit (development and demos only).
	AllowExit bool
	// Now tells the time (tests pass a fake clock); nil: time.Now.
	Now func() time.Time
	Log *slog.Logger
	// Context ends the card event subscription and every domain call;
	// nil: context.Background().
	Context context.Context

	// Shorter timings for tests (see export_test.go); 0: the defaults.
	callTimeout time.Duration // common.CallTimeout
	pingEvery   time.Duration // common.DefaultPingEvery
	pingAway    time.Duration // common.DefaultPingAway
	retryBase   time.Duration // common.DefaultRetryBase
}

// Validate reports options the terminal cannot run without.
func (o Options) Validate() error {
	var errs []error
	if o.Service == nil {
		errs = append(errs, errors.New("no operator workflow service"))
	}
	if o.Readers == nil {
		errs = append(errs, errors.New("no card readers"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("operator ui options: %w", err)
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Context == nil {
		o.Context = context.Background()
	}
	return o
}

// ProgramOptions are the tea.Program options the terminal needs: as the
// kiosk's, an interrupt or a suspend never ends or stops it unless
// AllowExit.
func ProgramOptions(o Options) []tea.ProgramOption {
	return tui.ProgramOptions(tui.Options{AllowExit: o.AllowExit})
}

// Messages of the root model.
type (
	subscribeMsg struct{}
	tickMsg      time.Time
	// begunMsg: the operator's card was read and is known.
	begunMsg struct {
		card domain.Card
		sess *opsvc.Session
		err  error
	}
	lockedMsg    struct{ err error }
	loggedOutMsg struct{}
)

// Model is the operator terminal's root model.
type Model struct {
	opts Options
	c    *common.Common

	width, height int
	screen        common.Screen
	insert        *insertScreen

	logins   uint64
	s        *session // the log-in in progress; nil: none
	events   <-chan domain.CardEvent
	opIn     bool // a card is in the operator's reader
	holderIn bool // a card is in the holder's reader
	down     bool // the readers cannot be used
	downLog  bool

	lastActivity time.Time
	photoMode    components.PhotoMode
	spinner      spinner.Model
	spinning     bool
	blurred      bool

	// pinger asks the store whether it answers (the banner while it does
	// not); beginRetry reads the operator's card again while it is away.
	pinger     *common.Pinger
	beginRetry common.Retrier

	onRun func()
}

var _ tea.Model = (*Model)(nil)

// New returns the operator terminal's root model.
func New(o Options) *Model {
	o = o.withDefaults()
	c := &common.Common{
		Theme:     theme.New(true),
		Keys:      common.DefaultKeyMap(),
		Log:       o.Log,
		Calls:     common.NewCalls(o.callTimeout),
		RetryBase: o.retryBase,
	}
	m := &Model{opts: o, c: c, spinner: spinner.New(spinner.WithSpinner(spinner.Dot))}
	m.pinger = &common.Pinger{C: c, Ctx: o.Context, Every: o.pingEvery, Away: o.pingAway}
	if o.Service != nil {
		m.pinger.Ping = o.Service.Ping
	}
	m.insert = &insertScreen{c: c}
	m.screen = m.insert
	m.lastActivity = o.Now()
	return m
}

// Init starts listening to the readers and the idle clock.
func (m *Model) Init() tea.Cmd {
	if m.onRun != nil {
		m.onRun()
	}
	return tea.Batch(tea.RequestBackgroundColor, m.subscribe(), m.tick(), m.pinger.Start())
}

// Update routes messages: global keys and reader events here, the rest to
// the screen.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	var cmds []tea.Cmd
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.c.Width = max(20, m.width-2*margin)
		return m, nil
	case tea.BackgroundColorMsg:
		m.c.Theme = theme.New(msg.IsDark())
		return m, nil
	case tea.ColorProfileMsg:
		m.photoMode = components.PhotoModeFor(msg.Profile)
		return m, nil
	case tea.KeyPressMsg:
		return m, m.key(msg)
	case tea.PasteMsg:
		m.lastActivity = m.opts.Now()
		return m, m.input(msg)

	case subscribeMsg:
		return m, m.subscribe()
	case common.EventsReadyMsg:
		m.down = false
		m.insert.down = false
		m.events = msg.Ch
		return m, common.WaitEvent(msg.Ch)
	case common.EventsFailMsg:
		return m, m.readersLost(msg.Err)
	case common.EventsClosedMsg:
		// A stream subscribed to before, or ended with the program, says
		// nothing about the readers now.
		if msg.Ch != m.events || m.opts.Context.Err() != nil {
			return m, nil
		}
		return m, m.readersLost(errors.New("card event stream ended"))
	case common.CardEventMsg:
		if msg.Ch != m.events {
			return m, nil
		}
		cmds = append(cmds, common.WaitEvent(msg.Ch), m.cardEvent(msg.Ev))
	case tickMsg:
		cmds = append(cmds, m.tick(), m.idle())

	case common.VisitMsg:
		cmds = append(cmds, m.result(msg))
	case common.PingMsg:
		back, cmd := m.pinger.Update(msg)
		cmds = append(cmds, cmd)
		if back {
			cmds = append(cmds, m.storeBack())
		}
	case common.StoreAwayMsg:
		cmds = append(cmds, m.pinger.Found(msg.Err))
	case common.RetryMsg:
		if m.s != nil && m.beginRetry.Due(msg) {
			cmds = append(cmds, m.beginAgain())
		} else {
			cmds = append(cmds, m.route(msg))
		}
	case loginAgainMsg:
		if m.s == nil && m.opIn {
			cmds = append(cmds, m.begin())
		}
	case spinner.TickMsg:
		if !m.busy() {
			m.spinning = false
			return m, nil
		}
		var cmd tea.Cmd
		m.spinner, cmd = m.spinner.Update(msg)
		return m, cmd
	default:
		cmds = append(cmds, m.route(msg))
	}
	if m.busy() && !m.spinning {
		m.spinning = true
		cmds = append(cmds, m.spinner.Tick)
	}
	return m, tea.Batch(cmds...)
}

func (m *Model) busy() bool { return m.s != nil && m.s.v.Busy() }

// key serves the global keys, then gives the key to the screen.
func (m *Model) key(k tea.KeyPressMsg) tea.Cmd {
	m.lastActivity = m.opts.Now()
	switch {
	case key.Matches(k, m.c.Keys.Quit):
		if m.opts.AllowExit {
			return m.quit()
		}
		return nil
	case key.Matches(k, m.c.Keys.Suspend):
		return nil
	}
	if s := m.s; s != nil && s.ready() && !s.v.Busy() && !m.blurred && !m.tooSmall() {
		switch {
		case key.Matches(k, m.c.Keys.Logout):
			return m.logout()
		case key.Matches(k, m.c.Keys.Role) && len(s.op.Roles) > 1:
			return m.show(newRoles(s, true))
		}
	}
	return m.input(k)
}

// input gives a key or paste to the screen in view.
func (m *Model) input(msg tea.Msg) tea.Cmd {
	if m.blurred || m.tooSmall() {
		return nil
	}
	return m.route(msg)
}

// route gives msg to the screen and switches to the one it returns.
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

func (m *Model) show(next common.Screen, cmd tea.Cmd) tea.Cmd {
	m.screen = next
	return tea.Batch(cmd, next.Init())
}

// Blur tells the terminal that whatever composes it covers its screen:
// keys still count as activity and serve the global keys, but reach no
// screen.
func (m *Model) Blur() { m.blurred = true }

// Focus undoes Blur.
func (m *Model) Focus() { m.blurred = false }

func (m *Model) quit() tea.Cmd {
	end := m.endLogin("")
	return tea.Sequence(end, tea.Quit)
}

// cardEvent follows both readers.
func (m *Model) cardEvent(ev domain.CardEvent) tea.Cmd {
	if ev.Unavailable {
		return m.readersDown(fmt.Errorf("%w: the card service was lost", domain.ErrReaderUnavailable))
	}
	if m.down {
		m.down, m.insert.down = false, false
		m.c.Log.Info("card readers available again")
		m.downLog = false
	}
	switch ev.Role {
	case domain.ReaderOperator:
		return m.operatorCard(ev.Present)
	case domain.ReaderHolder:
		return m.holderCard(ev.Present)
	}
	return nil
}

// operatorCard follows the operator's reader: a card in starts a log-in;
// a card out ends it at once and wipes the screen (seed 002).
func (m *Model) operatorCard(present bool) tea.Cmd {
	m.lastActivity = m.opts.Now()
	if !present {
		m.opIn = false
		m.insert.cardLeft = false
		if m.s == nil {
			return nil
		}
		reason := ""
		if m.s.sess != nil && m.s.loggedIn {
			reason = LoggedOutCardRemoved
		}
		return m.endLogin(reason)
	}
	if m.opIn && m.s != nil {
		return nil
	}
	m.opIn = true
	if m.s != nil {
		return nil
	}
	return m.begin()
}

// holderCard follows the holder's reader and tells the screen.
func (m *Model) holderCard(present bool) tea.Cmd {
	m.holderIn = present
	s := m.s
	if s == nil {
		return nil
	}
	s.holderIn = present
	if present {
		m.lastActivity = m.opts.Now()
		return m.route(holderInMsg{})
	}
	cmd := s.dropHolderCard()
	return tea.Batch(cmd, m.route(holderOutMsg{}))
}

// begin reads the card in the operator's reader and starts a session.
func (m *Model) begin() tea.Cmd {
	m.logins++
	s := &session{c: m.c, svc: m.opts.Service, readers: m.opts.Readers, photo: &m.photoMode, holderIn: m.holderIn}
	s.v = common.NewVisit(m.opts.Context, m.logins, m.c.Calls)
	m.s = s
	m.beginRetry.Stop()
	m.insert.reason, m.insert.cardLeft = "", false
	m.lastActivity = m.opts.Now()
	m.screen = &checkingScreen{c: m.c}
	svc, readers := m.opts.Service, m.opts.Readers
	if svc == nil || readers == nil {
		return s.v.Do(func(context.Context) tea.Msg { return begunMsg{err: errors.New("operator terminal is not configured")} })
	}
	return s.v.Do(beginWith(svc, readers, nil))
}

// beginWith opens the operator's card (card nil) or takes the one already
// open, and starts a session with it; the result carries the card only
// if it opened it.
func beginWith(svc *opsvc.Service, readers domain.CardReaders, card domain.Card) func(context.Context) tea.Msg {
	return func(ctx context.Context) tea.Msg {
		var opened domain.Card
		if card == nil {
			c, err := readers.Open(ctx, domain.ReaderOperator)
			if err != nil {
				return begunMsg{err: err}
			}
			card, opened = c, c
		}
		sess, err := svc.Begin(ctx, card)
		return begunMsg{card: opened, sess: sess, err: err}
	}
}

// beginAgain reads the operator's card again, the store having been
// away: in the background, with the card already open.
func (m *Model) beginAgain() tea.Cmd {
	s := m.s
	return m.beginRetry.Try(s.v, beginWith(s.svc, s.readers, s.v.Card), begunMsg{err: common.TryTimedOut()})
}

// storeBack follows the store answering again: a log-in waiting for it
// goes on at once, and the screen carries on (or says it may).
func (m *Model) storeBack() tea.Cmd {
	var cmd tea.Cmd
	if m.s != nil && m.beginRetry.Due(common.StoreBackMsg{}) {
		cmd = m.beginAgain()
	}
	return tea.Batch(cmd, m.route(common.StoreBackMsg{}))
}

// endLogin wipes the log-in: its screens (and all that was typed) go,
// its session ends and its cards are closed. reason is what the insert
// screen says.
func (m *Model) endLogin(reason string) tea.Cmd {
	s := m.s
	m.s = nil
	m.beginRetry.Stop()
	m.insert.reason = reason
	m.insert.cardLeft = m.opIn
	m.screen = m.insert
	if s == nil {
		return nil
	}
	return s.end(m.opts.Context)
}

// result delivers a domain result to the log-in it belongs to.
func (m *Model) result(msg common.VisitMsg) tea.Cmd {
	s := m.s
	if s == nil || msg.ID != s.v.ID {
		if b, ok := msg.Msg.(begunMsg); ok && b.card != nil {
			return m.c.Calls.Track(func() { _ = b.card.Close() })
		}
		return nil
	}
	s.v.Done(msg)
	if !msg.Background() {
		m.lastActivity = m.opts.Now()
	}
	if msg.TimedOut {
		m.c.Log.Error("domain call did not return in time", "limit", m.c.Calls.Timeout())
		return m.endLogin(CallTimedOutText)
	}
	switch r := msg.Msg.(type) {
	case begunMsg:
		if r.card != nil {
			s.v.Card = r.card // a try again keeps the card it was given
		}
		if common.IsUnavailable(r.err) {
			// The card stays in the reader, open: the log-in goes on as
			// soon as the store answers.
			logOutcome(m.c, "begin operator session", r.err)
			return tea.Batch(m.show(&checkingScreen{c: m.c, away: true}, nil), m.beginRetry.Wait(m.c, r.err))
		}
		m.beginRetry.Done()
		if r.err != nil {
			logOutcome(m.c, "begin operator session", r.err)
			return m.show(newMessage(s, explainLogin(r.err), nil), nil)
		}
		s.sess = r.sess
		s.op = s.svc.Operator(r.sess)
		return m.show(newPasscode(s))
	case lockedMsg:
		if r.err != nil {
			logOutcome(m.c, "lock session", r.err)
			if errors.Is(r.err, opsvc.ErrSessionEnded) {
				return m.endLogin(SessionEndedText)
			}
		}
		cmd := s.dropHolderCard()
		return tea.Batch(cmd, m.show(newLocked(s), nil))
	case loggedOutMsg:
		return m.endLogin(LoggedOutText)
	case closedMsg:
		return m.show(newDashboard(s, ""))
	case detailsMsg:
		if !r.ok {
			return m.show(newDashboard(s, ""))
		}
		return m.show(newDetails(s, r.d, r.banner), nil)
	}
	// The domain locks a session it finds idle, and ends one whose card
	// went: whatever screen asked, the session's state decides.
	switch err := resultErr(msg.Msg); {
	case errors.Is(err, opsvc.ErrSessionLocked) && s.loggedIn:
		s.locked = true
		var cmds []tea.Cmd
		if id, ok := msg.Msg.(identifiedMsg); ok {
			cmds = append(cmds, s.adopt(id.card, false))
		}
		cmds = append(cmds, s.dropHolderCard(), m.show(newLocked(s), nil))
		return tea.Batch(cmds...)
	case errors.Is(err, opsvc.ErrSessionEnded):
		return m.endLogin(SessionEndedText)
	}
	return m.route(msg.Msg)
}

// logout logs the operator out (Logout in the header).
func (m *Model) logout() tea.Cmd {
	s := m.s
	svc, sess := s.svc, s.sess
	return s.v.Do(func(ctx context.Context) tea.Msg {
		svc.LogOut(ctx, sess)
		return loggedOutMsg{}
	})
}

// idle locks a logged-in session left idle for the service's IdleLock.
// Tries again while the store is away are no sign of life: they run in
// the background and do not hold it off.
func (m *Model) idle() tea.Cmd {
	s := m.s
	if s == nil || !s.loggedIn || s.locked || s.v.Busy() {
		return nil
	}
	if m.opts.Now().Sub(m.lastActivity) < m.opts.Service.IdleLock() {
		return nil
	}
	s.locked = true
	svc, sess := s.svc, s.sess
	return s.v.Do(func(ctx context.Context) tea.Msg {
		return lockedMsg{svc.Lock(ctx, sess)}
	})
}

// readersLost says the readers cannot be used, ends any log-in and tries
// again shortly.
func (m *Model) readersLost(err error) tea.Cmd {
	cmd := m.readersDown(err)
	m.events = nil
	return tea.Batch(cmd, tea.Tick(readerRetry, func(time.Time) tea.Msg { return subscribeMsg{} }))
}

func (m *Model) readersDown(err error) tea.Cmd {
	if !m.downLog {
		m.c.Log.Error("card readers", "err", err)
		m.downLog = true
	}
	m.down, m.opIn, m.holderIn = true, false, false
	m.insert.down, m.insert.cardLeft = true, false
	if m.s == nil {
		return nil
	}
	return m.endLogin("")
}

func (m *Model) subscribe() tea.Cmd { return common.Subscribe(m.opts.Context, m.opts.Readers) }

func (m *Model) tick() tea.Cmd {
	return tea.Tick(tickEvery, func(t time.Time) tea.Msg { return tickMsg(t) })
}

// shutdown ends the log-in and waits, up to limit, for domain calls still
// running. Call it only after the program ended.
func (m *Model) shutdown(limit time.Duration) {
	if s := m.s; s != nil {
		m.s = nil
		end := s.end(context.Background())
		m.c.Calls.Go(func() { end() })
	}
	if !m.c.Calls.Wait(limit) {
		m.c.Log.Error("operator terminal stopped with domain calls still running", "waited", limit)
	}
}

// Wrap builds a program's model around the terminal's, e.g. the demo's
// card tray. The model must pass the terminal every message it does not
// take itself.
type Wrap func(ctx context.Context, terminal *Model) tea.Model

// Run runs the operator terminal until ctx ends (or Ctrl+C with
// AllowExit), wrapped by wrap if not nil. Before it returns it ends the
// log-in and waits for domain calls still running.
func Run(parent context.Context, o Options, wrap Wrap, extra ...tea.ProgramOption) error {
	if err := o.Validate(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	o.Context = ctx
	m := New(o)
	var top tea.Model = m
	if wrap != nil {
		top = wrap(ctx, m)
	}
	opts := append(ProgramOptions(o), tea.WithContext(ctx))
	p := tea.NewProgram(top, append(opts, extra...)...)
	_, err := p.Run()
	cancel()
	m.shutdown(shutdownWait)
	if errors.Is(err, tea.ErrProgramKilled) && parent.Err() != nil {
		return nil
	}
	if err != nil {
		return fmt.Errorf("run operator ui: %w", err)
	}
	return nil
}

// resultErr is the error a domain result carries, if any.
func resultErr(msg tea.Msg) error {
	switch r := msg.(type) {
	case doneMsg:
		return r.err
	case selectedMsg:
		return r.err
	case identifiedMsg:
		return r.err
	case roleChosenMsg:
		return r.err
	case auditMsg:
		return r.err
	case foundMsg:
		return r.err
	case openedMsg:
		return r.err
	}
	return nil
}

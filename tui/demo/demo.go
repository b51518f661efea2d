// Package demo wraps the kiosk for the demo: a tray of software cards
// that function keys insert and remove, and the card holder's email inbox,
// in panels beside the kiosk's screen. The demo composes the kiosk; the
// kiosk knows nothing of it, and the real kiosk runs without it.
package demo

import (
	"context"
	"errors"
	"log/slog"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/tui"
	"github.com/smartcard-service-centre/kiosk/tui/theme"
)

// TrayCard is one card of the demo card tray.
type TrayCard struct {
	// Label describes the card, e.g. "Mr Test Person — locked, registered".
	Label    string
	Inserted bool
}

// Tray is the demo card tray beside a simulated reader: F1–F9, F11 and
// F12 (or Alt+1–9, Alt+0 and Alt+-) insert or remove its first 11 cards.
type Tray interface {
	Cards() []TrayCard
	// Toggle inserts card i (0-based) or removes it if inserted.
	Toggle(i int) error
}

// Mailbox is the demo's stand-in for the card holder's email inbox. In
// production codes go only by email.
type Mailbox interface {
	// Recent returns the latest emails, newest first.
	Recent(ctx context.Context) ([]domain.Mail, error)
	// Updates signals that mail may have arrived; nil if it never does.
	Updates() <-chan struct{}
}

// Options configure the demo around the kiosk.
type Options struct {
	Tray    Tray    // optional
	Mailbox Mailbox // optional
	Log     *slog.Logger
	// Context ends the wait for mail; nil: context.Background(). Run
	// passes the program's, which ends with the program.
	Context context.Context
}

// Messages of the demo.
type (
	trayMsg struct {
		cards []TrayCard
		err   error
	}
	mailsMsg struct {
		mails []domain.Mail
		err   error
	}
	mailUpdateMsg struct{}
)

// Model is the demo around the kiosk's root model: it takes the demo's
// keys and messages, passes everything else to the kiosk, and draws the
// kiosk beside its panels.
type Model struct {
	kiosk *tui.Model
	o     Options
	keys  KeyMap
	th    *theme.Theme

	width, height int
	flip          bool // the user toggled the panels from their default

	cards []TrayCard
	note  string // what went wrong with the last tray action
	// Tray actions run one at a time, in key order: two toggles running
	// at once could finish in either order and leave the wrong card in.
	moving bool
	queue  []int // cards to toggle once the running action is done

	mails []domain.Mail
}

var _ tea.Model = (*Model)(nil)

// New returns the demo around kiosk.
func New(kiosk *tui.Model, o Options) *Model {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Context == nil {
		o.Context = context.Background()
	}
	m := &Model{kiosk: kiosk, o: o, keys: DefaultKeyMap(), th: theme.New(true)}
	// A key with nothing to act on is not the demo's: it goes to the kiosk.
	m.keys.Tray.SetEnabled(o.Tray != nil)
	m.keys.Panels.SetEnabled(m.hasPanels())
	return m
}

// Run runs the kiosk as tui.Run does, with the demo around it.
func Run(ctx context.Context, k tui.Options, o Options, extra ...tea.ProgramOption) error {
	return tui.RunWrapped(ctx, k, func(ctx context.Context, kiosk *tui.Model) tea.Model {
		o.Context = ctx
		return New(kiosk, o)
	}, extra...)
}

func (m *Model) hasPanels() bool { return m.o.Tray != nil || m.o.Mailbox != nil }

// Init starts the kiosk and reads the tray and the mailbox.
func (m *Model) Init() tea.Cmd {
	cmds := []tea.Cmd{m.kiosk.Init()}
	if m.o.Tray != nil {
		cmds = append(cmds, m.toggle(-1))
	}
	if m.o.Mailbox != nil {
		cmds = append(cmds, m.loadMail(), m.waitMail())
	}
	return tea.Batch(cmds...)
}

// Update takes the demo's keys and messages and passes the rest to the
// kiosk.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		return m, m.resize()
	case tea.BackgroundColorMsg:
		m.th = theme.New(msg.IsDark())
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, m.keys.Tray):
			return m, m.toggle(trayIndex(msg.String()))
		case key.Matches(msg, m.keys.Panels):
			m.flip = !m.flip
			return m, m.resize()
		}
	case trayMsg:
		return m, m.moved(msg)
	case mailsMsg:
		if msg.err != nil {
			m.o.Log.Warn("demo mailbox", "err", msg.err)
			return m, nil
		}
		m.mails = msg.mails
		return m, nil
	case mailUpdateMsg:
		return m, tea.Batch(m.loadMail(), m.waitMail())
	}
	return m, m.forward(msg)
}

// forward gives msg to the kiosk.
func (m *Model) forward(msg tea.Msg) tea.Cmd {
	k, cmd := m.kiosk.Update(msg)
	m.kiosk = k.(*tui.Model)
	return cmd
}

// resize arranges the terminal and tells the kiosk its share: the panels
// covering it blur it, so that keys reach none of its screens.
func (m *Model) resize() tea.Cmd {
	a := m.arrangement()
	if a == instead {
		m.kiosk.Blur()
	} else {
		m.kiosk.Focus()
	}
	w, h := m.kioskSize(a)
	return m.forward(tea.WindowSizeMsg{Width: w, Height: h})
}

// toggle moves card i of the tray in or out (i < 0: none) and reads the
// tray back, after any action still running.
func (m *Model) toggle(i int) tea.Cmd {
	if m.moving {
		m.queue = append(m.queue, i)
		return nil
	}
	m.moving = true
	tray := m.o.Tray
	return func() tea.Msg {
		var err error
		if i >= 0 {
			if i >= len(tray.Cards()) {
				err = errors.New("there is no demo card on that key")
			} else if err = tray.Toggle(i); err != nil {
				err = errors.New("the demo card could not be moved: " + err.Error())
			}
		}
		return trayMsg{cards: tray.Cards(), err: err}
	}
}

// moved shows a tray action's result and starts the next one queued.
func (m *Model) moved(msg trayMsg) tea.Cmd {
	m.moving = false
	m.cards, m.note = msg.cards, ""
	if msg.err != nil {
		m.note = msg.err.Error()
	}
	if len(m.queue) == 0 {
		return nil
	}
	next := m.queue[0]
	m.queue = m.queue[1:]
	return m.toggle(next)
}

func (m *Model) loadMail() tea.Cmd {
	mb, ctx := m.o.Mailbox, m.o.Context
	return func() tea.Msg {
		mails, err := mb.Recent(ctx)
		return mailsMsg{mails, err}
	}
}

func (m *Model) waitMail() tea.Cmd {
	ch, ctx := m.o.Mailbox.Updates(), m.o.Context
	if ch == nil {
		return nil
	}
	return func() tea.Msg {
		select {
		case _, ok := <-ch:
			if ok {
				return mailUpdateMsg{}
			}
		case <-ctx.Done():
		}
		return nil
	}
}

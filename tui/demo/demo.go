// Package demo wraps the product for the demo: a tray of software cards
// that function keys insert and remove, and the card holder's email inbox,
// in panels beside the screen of the self-service kiosk or of the operator
// terminal. The demo composes the product; the product knows nothing of
// it, and runs without it on real readers.
package demo

import (
	"context"
	"errors"
	"log/slog"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/tui"
	"github.com/smartcard-service-centre/kiosk/tui/operator"
	"github.com/smartcard-service-centre/kiosk/tui/theme"
)

// TrayCard is one card of the demo card tray.
type TrayCard struct {
	// Label describes the card in a few words, e.g. "Mr Test Person ·
	// locked": the tray draws it on one line beside its key.
	Label string
	// Holder is the card holder's name, e.g. "Mr Test Person"; "" if the
	// card is not on record.
	Holder string
	// Mail is the holder's email addresses on record (their own and the
	// one registered for codes): with the card in the holder's reader the
	// inbox shows the mail sent to them.
	Mail []string
	// In is the reader the card is in; "" while it is in the tray.
	In domain.ReaderRole
}

// Tray is the demo card tray beside the simulated readers: F1–F9, F11 and
// F12 (or Alt+1–9, Alt+0 and Alt+-) put its first 11 cards in the card
// holder's reader or take them out; around the operator terminal,
// Shift+F1… (or Alt+Q…) do the same at the operator's reader.
type Tray interface {
	Cards() []TrayCard
	// Toggle puts card i (0-based) in reader r, taking out the card there
	// and taking card i out of the other reader; or takes card i out if
	// it is in r already.
	Toggle(i int, r domain.ReaderRole) error
}

// Product is the program the demo wraps: the kiosk (*tui.Model) or the
// operator terminal (*operator.Model). Blur tells it the demo's panels
// cover its screen, so that keys reach none of its screens; Focus undoes
// it.
type Product interface {
	tea.Model
	Blur()
	Focus()
}

var (
	_ Product = (*tui.Model)(nil)
	_ Product = (*operator.Model)(nil)
)

// Mailbox is the demo's stand-in for the card holder's email inbox. In
// production codes go only by email.
type Mailbox interface {
	// Recent returns the latest emails, newest first, each with its own
	// ID.
	Recent(ctx context.Context) ([]domain.Mail, error)
	// Updates signals that mail may have arrived; nil if it never does.
	Updates() <-chan struct{}
}

// Options configure the demo around the product.
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
	// move is a tray key's action: card i in or out of reader r; i < 0
	// only reads the tray.
	move struct {
		i int
		r domain.ReaderRole
	}
	mailsMsg struct {
		mails []domain.Mail
		err   error
	}
	mailUpdateMsg struct{}
)

// Model is the demo around the product's root model: it takes the demo's
// keys and messages, passes everything else to the product, and draws the
// product beside its panels.
type Model struct {
	product Product // the kiosk or the operator terminal
	o       Options
	keys    KeyMap
	th      *theme.Theme

	width, height int
	flip          bool // the user toggled the panels from their default

	cards []TrayCard
	note  string // what went wrong with the last tray action
	// Tray actions run one at a time, in key order: two toggles running
	// at once could finish in either order and leave the wrong card in.
	moving bool
	queue  []move // cards to move once the running action is done

	mails []domain.Mail
	inbox inbox // what the inbox panel shows of mails
}

var _ tea.Model = (*Model)(nil)

// New returns the demo around kiosk.
func New(kiosk *tui.Model, o Options) *Model {
	return newModel(kiosk, o, DefaultKeyMap())
}

// NewOperator returns the demo around the operator terminal: its tray
// keys reach both readers.
func NewOperator(terminal *operator.Model, o Options) *Model {
	return newModel(terminal, o, OperatorKeyMap())
}

func newModel(p Product, o Options, keys KeyMap) *Model {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Context == nil {
		o.Context = context.Background()
	}
	m := &Model{product: p, o: o, keys: keys, th: theme.New(true), inbox: newInbox()}
	// A key with nothing to act on is not the demo's: it goes to the
	// product.
	if o.Tray == nil {
		m.keys.Tray.SetEnabled(false)
		m.keys.Operator.SetEnabled(false)
	}
	m.keys.Panels.SetEnabled(m.hasPanels())
	if o.Mailbox == nil {
		m.keys.InboxUp.SetEnabled(false)
		m.keys.InboxDown.SetEnabled(false)
	}
	return m
}

// Run runs the kiosk as tui.Run does, with the demo around it.
func Run(ctx context.Context, k tui.Options, o Options, extra ...tea.ProgramOption) error {
	return tui.RunWrapped(ctx, k, func(ctx context.Context, kiosk *tui.Model) tea.Model {
		o.Context = ctx
		return New(kiosk, o)
	}, extra...)
}

// RunOperator runs the operator terminal as operator.Run does, with the
// demo around it.
func RunOperator(ctx context.Context, t operator.Options, o Options, extra ...tea.ProgramOption) error {
	return operator.Run(ctx, t, func(ctx context.Context, terminal *operator.Model) tea.Model {
		o.Context = ctx
		return NewOperator(terminal, o)
	}, extra...)
}

func (m *Model) hasPanels() bool { return m.o.Tray != nil || m.o.Mailbox != nil }

// Init starts the product and reads the tray and the mailbox.
func (m *Model) Init() tea.Cmd {
	cmds := []tea.Cmd{m.product.Init()}
	if m.o.Tray != nil {
		cmds = append(cmds, m.toggle(move{i: -1}))
	}
	if m.o.Mailbox != nil {
		cmds = append(cmds, m.loadMail(), m.waitMail())
	}
	return tea.Batch(cmds...)
}

// Update takes the demo's keys and messages and passes the rest to the
// product.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		return m, m.resize()
	case tea.BackgroundColorMsg:
		m.th = theme.New(msg.IsDark())
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, m.keys.Tray), key.Matches(msg, m.keys.Operator):
			i, r := trayIndex(msg.String())
			return m, m.toggle(move{i: i, r: r})
		case key.Matches(msg, m.keys.Panels):
			m.flip = !m.flip
			return m, m.resize()
		}
		if lay := m.layout(); lay.inboxH > 0 {
			up, down := m.inboxKeys(lay.a)
			dir := 0
			switch {
			case key.Matches(msg, up):
				dir = -1
			case key.Matches(msg, down):
				dir = 1
			}
			if dir != 0 {
				_, lines, rows := m.inboxParts(lay.inboxW, lay.inboxH)
				m.inbox.scroll(dir, len(lines), rows)
				if lay.a == instead {
					// The covered kiosk takes it only as someone there.
					return m, m.forward(msg)
				}
				return m, nil
			}
		}
	case trayMsg:
		cmd := m.moved(msg)
		m.inbox.follow(m.cards, m.mails)
		return m, cmd
	case mailsMsg:
		if msg.err != nil {
			m.o.Log.Warn("demo mailbox", "err", msg.err)
			return m, nil
		}
		m.mails = msg.mails
		m.inbox.arrived(m.cards, m.mails)
		m.inbox.follow(m.cards, m.mails)
		return m, nil
	case mailUpdateMsg:
		return m, tea.Batch(m.loadMail(), m.waitMail())
	}
	return m, m.forward(msg)
}

// forward gives msg to the product.
func (m *Model) forward(msg tea.Msg) tea.Cmd {
	k, cmd := m.product.Update(msg)
	m.product = k.(Product)
	return cmd
}

// resize arranges the terminal and tells the product its share: the panels
// covering it blur it, so that keys reach none of its screens.
func (m *Model) resize() tea.Cmd {
	lay := m.layout()
	if lay.a == instead {
		m.product.Blur()
	} else {
		m.product.Focus()
	}
	return m.forward(tea.WindowSizeMsg{Width: lay.kw, Height: lay.kh})
}

// toggle moves a card of the tray in or out of a reader (mv.i < 0:
// none) and reads the tray back, after any action still running.
func (m *Model) toggle(mv move) tea.Cmd {
	if m.moving {
		m.queue = append(m.queue, mv)
		return nil
	}
	m.moving = true
	tray := m.o.Tray
	return func() tea.Msg {
		var err error
		if i := mv.i; i >= 0 {
			if i >= len(tray.Cards()) {
				err = errors.New("there is no demo card on that key")
			} else if err = tray.Toggle(i, mv.r); err != nil {
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

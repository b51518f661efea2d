package operator

import (
	"context"
	"errors"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/smartcard-service-centre/kiosk/domain"
	opsvc "github.com/smartcard-service-centre/kiosk/domain/operator"
	"github.com/smartcard-service-centre/kiosk/tui/common"
	"github.com/smartcard-service-centre/kiosk/tui/components"
)

// passcodeLimit lets people type past the card's maximum and be told.
const passcodeLimit = 16

func para(st lipgloss.Style, width int, text string) string { return st.Width(width).Render(text) }

// insertScreen is the start: "Insert your Smartcard". The root sets its
// fields as the readers report.
type insertScreen struct {
	c        *common.Common
	reason   string // why the last log-in ended
	cardLeft bool   // a card is still in the operator's reader
	down     bool
}

func (s *insertScreen) Init() tea.Cmd { return nil }

func (s *insertScreen) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok && s.cardLeft && key.Matches(k, s.c.Keys.Enter) {
		return s, func() tea.Msg { return loginAgainMsg{} }
	}
	return s, nil
}

func (s *insertScreen) View() common.Frame {
	th, w := s.c.Theme, s.c.ContentWidth()
	var d common.Doc
	if s.reason != "" {
		d.Add(th.Notice.Width(w).Render(s.reason))
		d.Gap()
	}
	d.Add(para(th.Text, w, "Registration Authority staff: log in with your own Smartcard in your usual reader. The card holder's Smartcard goes into the second reader only when asked."))
	d.Gap()
	switch {
	case s.down:
		d.Focus(para(th.Error, w, "The card reader service is not available at the moment. Try again in a few minutes; if it keeps happening, contact the IT Service Desk."))
	case s.cardLeft:
		d.Focus(para(th.Strong, w, "Remove your Smartcard to finish, or press "+capital(s.c.Keys.Enter)+" to log in again."))
	default:
		d.Focus(para(th.Title, w, InsertText+" into your reader to log in."))
	}
	return d.Frame(InsertText)
}

func (s *insertScreen) Help() []key.Binding {
	if s.cardLeft {
		return []key.Binding{common.WithHelp(s.c.Keys.Enter, "log in again"), common.Hint("remove card", "finish")}
	}
	return []key.Binding{common.Hint("insert card", "log in")}
}

// capital names a key as a keycap in a sentence ("press Enter").
func capital(b key.Binding) string {
	n := b.Help().Key
	if n == "" {
		return n
	}
	return strings.ToUpper(n[:1]) + n[1:]
}

// checkingScreen shows while the operator's card is read; away: the
// store did not answer, and the root reads it again as soon as it does.
type checkingScreen struct {
	c    *common.Common
	away bool
}

func (s *checkingScreen) Init() tea.Cmd                           { return nil }
func (s *checkingScreen) Update(tea.Msg) (common.Screen, tea.Cmd) { return s, nil }
func (s *checkingScreen) View() common.Frame {
	if s.away {
		return s.c.UnavailableFrame(unavailableAuto, "Keep your Smartcard in your reader: you will be asked for your passcode as soon as the service is back.")
	}
	var d common.Doc
	d.Add(para(s.c.Theme.Text, s.c.ContentWidth(), "Checking your Smartcard. Please leave it in the reader."))
	return d.Frame("Checking your Smartcard")
}
func (s *checkingScreen) Help() []key.Binding {
	return []key.Binding{common.Hint("please wait", "checking your Smartcard")}
}

// messageScreen explains an outcome. With next, Enter (or Esc) goes
// there; without, the only way on is removing the operator's card.
type messageScreen struct {
	s    *session
	ex   common.Explanation
	next func() (common.Screen, tea.Cmd)
}

func newMessage(s *session, ex common.Explanation, next func() (common.Screen, tea.Cmd)) *messageScreen {
	return &messageScreen{s: s, ex: ex, next: next}
}

func (m *messageScreen) Init() tea.Cmd { return nil }

func (m *messageScreen) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok && m.next != nil && key.Matches(k, m.s.c.Keys.Enter, m.s.c.Keys.Back) {
		return m.next()
	}
	return m, nil
}

func (m *messageScreen) View() common.Frame {
	th, w := m.s.c.Theme, m.s.c.ContentWidth()
	var d common.Doc
	d.Add(th.Notice.Width(w).Render(th.Strong.Render(m.ex.What)))
	if m.ex.Next != "" {
		d.Gap()
		d.Add(para(th.Text, w, m.ex.Next))
	}
	if m.next == nil && !strings.Contains(strings.ToLower(m.ex.Next), "remove") {
		d.Gap()
		d.Add(para(th.Muted, w, "Remove your Smartcard to finish."))
	}
	return d.Frame(m.ex.Title)
}

func (m *messageScreen) Help() []key.Binding {
	if m.next == nil {
		return []key.Binding{common.Hint("remove card", "finish")}
	}
	return []key.Binding{common.WithHelp(m.s.c.Keys.Enter, "continue")}
}

// loggedInMsg is LogIn's (or Resume's) result.
type loggedInMsg struct {
	op   opsvc.Operator
	step opsvc.Step
	err  error
}

// passcodeScreen asks the operator's passcode, checked by their card
// (and the 9A challenge), at log-in or to resume a locked session.
type passcodeScreen struct {
	s      *session
	field  components.Field
	resume bool
	busy   bool
	// away: the log-in met the store unavailable once the card had
	// checked the passcode. The passcode is never kept to be sent again
	// by itself: the operator types it again once the store is back.
	away bool
}

func newPasscode(s *session) (common.Screen, tea.Cmd) {
	p := &passcodeScreen{s: s, field: components.NewField("Passcode", true, passcodeLimit)}
	return p, p.field.Focus()
}

// newLocked is the passcode screen of a locked session.
func newLocked(s *session) common.Screen {
	p := &passcodeScreen{s: s, field: components.NewField("Passcode", true, passcodeLimit), resume: true}
	p.field.Focus()
	return p
}

func (p *passcodeScreen) Init() tea.Cmd { return nil }

func (p *passcodeScreen) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	s := p.s
	switch msg := msg.(type) {
	case loggedInMsg:
		p.busy = false
		var pe *domain.PasscodeError
		switch {
		case msg.err == nil:
			s.op, s.loggedIn, s.locked = msg.op, true, false
			if msg.step == opsvc.StepChooseRole {
				return newRoles(s, false)
			}
			return newDashboard(s, "")
		case errors.As(msg.err, &pe) && pe.TriesLeft > 0 && !errors.Is(msg.err, domain.ErrCardBlocked):
			ex := explainLogin(msg.err)
			p.field.Reset()
			p.field.Feedback, p.field.Bad = ex.What+" "+ex.Next, true
			return p, nil
		case common.IsUnavailable(msg.err) && (msg.step == opsvc.StepPasscode || msg.step == opsvc.StepLocked):
			logOutcome(s.c, "log in", msg.err)
			p.away = true
			return p, s.c.StoreAway(msg.err)
		}
		logOutcome(s.c, "log in", msg.err)
		return newMessage(s, explainLogin(msg.err), nil), nil
	case tea.KeyPressMsg:
		if p.busy {
			return p, nil
		}
		if key.Matches(msg, s.c.Keys.Enter) {
			if p.field.Value() == "" {
				p.field.Feedback, p.field.Bad = "Type your passcode.", true
				return p, nil
			}
			p.busy, p.away = true, false
			svc, sess, pin, resume := s.svc, s.sess, p.field.Value(), p.resume
			p.field.Reset()
			return p, s.v.Do(func(ctx context.Context) tea.Msg {
				var err error
				if resume {
					err = svc.Resume(ctx, sess, pin)
				} else {
					err = svc.LogIn(ctx, sess, pin)
				}
				return loggedInMsg{op: svc.Operator(sess), step: sess.Step(), err: err}
			})
		}
	}
	if p.busy {
		return p, nil
	}
	var cmd tea.Cmd
	p.field, cmd = p.field.Update(msg)
	return p, cmd
}

func (p *passcodeScreen) View() common.Frame {
	th, w := p.s.c.Theme, p.s.c.ContentWidth()
	var d common.Doc
	title := "Enter your passcode"
	if p.resume {
		title = "Session locked"
		d.Add(th.Notice.Width(w).Render(LockedText))
		d.Gap()
		d.Add(para(th.Text, w, "Enter your passcode to go on, "+p.s.op.Name+"."))
	} else {
		d.Add(para(th.Text, w, "Enter your Smartcard passcode and press "+capital(p.s.c.Keys.Enter)+"."))
	}
	if p.away {
		d.Gap()
		d.Add(th.Notice.Width(w).Render(passcodeAwayNote(p.s.c)))
	}
	d.Gap()
	d.Focus(p.field.View(th, w))
	return d.Frame(title)
}

// passcodeAwayNote is what the passcode screen says after the log-in met
// the store away: while it is away, to wait; once back, to type again.
func passcodeAwayNote(c *common.Common) string {
	if c.StoreDown {
		return c.Theme.Error.Render("Temporarily unavailable: the Smartcard Service Centre's records cannot be reached at the moment. " +
			"Keep your Smartcard in your reader. When the message at the bottom of the screen has gone, type your passcode again and press " + capital(c.Keys.Enter) + ".")
	}
	return c.Theme.Success.Render("The Smartcard Service Centre is available again: type your passcode again and press " + capital(c.Keys.Enter) + ".")
}

func (p *passcodeScreen) Help() []key.Binding {
	return []key.Binding{common.WithHelp(p.s.c.Keys.Enter, "log in")}
}

// roleChosenMsg is ChooseRole's result.
type roleChosenMsg struct {
	op  opsvc.Operator
	err error
}

// rolesScreen is seed 000 Fig 2: choose the session role, at log-in or
// later (Change).
type rolesScreen struct {
	s      *session
	menu   components.Menu
	change bool // Change from the header: Esc goes back
	busy   bool
	err    string
}

func newRoles(s *session, change bool) (common.Screen, tea.Cmd) {
	var items []components.MenuItem
	for _, r := range s.op.Roles {
		var svcs []string
		for _, x := range r.Services {
			svcs = append(svcs, string(x))
		}
		items = append(items, components.MenuItem{Title: r.String(), Desc: r.OrgName + ": " + strings.Join(svcs, ", ")})
	}
	m := components.NewMenu(s.c.Keys, items...)
	for i, r := range s.op.Roles {
		if r.PositionID == s.op.Role.PositionID {
			m.Cursor = i
		}
	}
	return &rolesScreen{s: s, menu: m, change: change}, nil
}

func (r *rolesScreen) Init() tea.Cmd { return nil }

func (r *rolesScreen) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	s := r.s
	switch msg := msg.(type) {
	case roleChosenMsg:
		r.busy = false
		if msg.err != nil {
			logOutcome(s.c, "choose role", msg.err)
			r.err = explain(msg.err).What
			return r, nil
		}
		s.op = msg.op
		return newDashboard(s, "")
	case tea.KeyPressMsg:
		if r.busy {
			return r, nil
		}
		if r.change && key.Matches(msg, s.c.Keys.Back) {
			return newDashboard(s, "")
		}
	}
	var chosen int
	r.menu, chosen = r.menu.Update(msg)
	if chosen < 0 {
		return r, nil
	}
	r.busy = true
	svc, sess, id := s.svc, s.sess, s.op.Roles[chosen].PositionID
	return r, s.v.Do(func(ctx context.Context) tea.Msg {
		err := svc.ChooseRole(ctx, sess, id)
		if err == nil {
			svc.CloseHolder(sess) // a new role starts from the dashboard
		}
		return roleChosenMsg{op: svc.Operator(sess), err: err}
	})
}

func (r *rolesScreen) View() common.Frame {
	th, w := r.s.c.Theme, r.s.c.ContentWidth()
	var d common.Doc
	d.Add(para(th.Text, w, "You have more than one role. Choose the session role you need for this work."))
	if r.err != "" {
		d.Gap()
		d.Add(para(th.Error, w, r.err))
	}
	d.Gap()
	r.menu.View(&d, th, w)
	return d.Frame("Select session role")
}

func (r *rolesScreen) Help() []key.Binding {
	keys := []key.Binding{r.s.c.Keys.Up, common.WithHelp(r.s.c.Keys.Enter, "choose")}
	if r.change {
		keys = append(keys, r.s.c.Keys.Back)
	}
	return keys
}

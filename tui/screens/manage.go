package screens

import (
	"context"
	"errors"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/selfservice"
	"github.com/smartcard-service-centre/kiosk/tui/common"
	"github.com/smartcard-service-centre/kiosk/tui/components"
)

type passcodeChangedMsg struct{ err error }

// ChangePasscode takes the current passcode and the new one twice.
type ChangePasscode struct {
	c      *common.Common
	v      *common.Visit
	fields components.PasscodeFields
	busy   bool
	// away: the change met the store unavailable before the card was
	// touched; a card write is sent again only by the holder (Enter).
	away bool
}

// NewChangePasscode returns the change passcode screen.
func NewChangePasscode(c *common.Common, v *common.Visit) (common.Screen, tea.Cmd) {
	f, cmd := components.NewPasscodeFields(c, true)
	return &ChangePasscode{c: c, v: v, fields: f}, cmd
}

func (s *ChangePasscode) Init() tea.Cmd { return nil }

func (s *ChangePasscode) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case passcodeChangedMsg:
		s.busy = false
		var pe *domain.PasscodeError
		switch {
		case msg.err == nil:
			return NewProfile(s.c, s.v, "Your passcode has been changed. Use your new passcode from now on.")
		case errors.Is(msg.err, domain.ErrCardBlocked):
			s.v.Holder.Blocked, s.v.SignedIn = true, false
			return lockedNotice(s.c, s.v), nil
		case errors.As(msg.err, &pe):
			ex := s.c.Explain(msg.err)
			return s, s.fields.ResetCurrent(ex.What + " " + ex.Next)
		case errors.Is(msg.err, domain.ErrPasscodePolicy), errors.Is(msg.err, selfservice.ErrSamePasscode):
			return s, s.fields.ResetNew(s.c.Explain(msg.err).What)
		}
		logFault(s.c, "change passcode", msg.err)
		switch {
		case errors.Is(msg.err, domain.ErrCardRemoved):
			return interrupted(s.c, s.v), nil
		case s.v.Ended:
			return ended(s.c, msg.err), nil
		case common.IsUnavailable(msg.err):
			// The domain changes the card only once its intent is in the
			// store (and records a change made later from its spool).
			s.away = true
			return s, s.c.StoreAway(msg.err)
		}
		return NewNotice(s.c, msg.err, "back to My Profile", backProfile(s.c, s.v)), nil
	case tea.KeyPressMsg:
		if s.busy {
			return s, nil
		}
		if key.Matches(msg, s.c.Keys.Back) {
			return NewProfile(s.c, s.v, "")
		}
	}
	if s.busy {
		return s, nil
	}
	fields, cmd, submitted := s.fields.Update(msg)
	s.fields = fields
	if !submitted || !s.fields.Ready() {
		return s, cmd
	}
	s.busy, s.away = true, false
	svc, sess, card := s.c.Service, s.v.Session, s.v.Card
	cur, next, confirm := s.fields.Current(), s.fields.New(), s.fields.Confirm()
	return s, s.v.DoCard(func(ctx context.Context) tea.Msg {
		return passcodeChangedMsg{svc.ChangePasscode(ctx, sess, card, cur, next, confirm)}
	})
}

func (s *ChangePasscode) View() common.Frame {
	th, w := s.c.Theme, s.c.ContentWidth()
	var d common.Doc
	d.Add(para(th.Text, w, "Enter your current passcode, then the new passcode twice, and press the Confirm button."))
	d.Gap()
	d.Add(para(th.Text, w, s.c.Service.PasscodePolicy().Describe()))
	if s.away {
		d.Gap()
		d.Add(awayNote(s.c, s.c.Keys.Enter))
	}
	d.Gap()
	s.fields.View(&d, th, w)
	d.Gap()
	d.Add(components.Button(th, "Confirm", s.fields.Ready() && !s.busy))
	return d.Frame("Change passcode")
}

func (s *ChangePasscode) Help() []key.Binding {
	return []key.Binding{s.c.Keys.Next, common.WithHelp(s.c.Keys.Enter, "confirm"), s.c.Keys.Back}
}

type (
	renewCheckedMsg struct{ err error }
	renewedMsg      struct {
		holder selfservice.Holder
		err    error
	}
)

// RenewalDelayedText follows the renewal's confirmation when the service
// could not record it yet.
const RenewalDelayedText = "The Smartcard Service Centre could not record this just now: this kiosk has kept the record and will pass it on as soon as the service is back. You do not need to do anything."

// Renew re-issues the certificates when the domain allows it, and
// otherwise says why not and where to go.
type Renew struct {
	c       *common.Common
	v       *common.Visit
	checked bool
	busy    bool
	// away: the renewal met the store unavailable before the card was
	// touched; a card write is started again only by the holder (Enter).
	away bool
}

// NewRenew returns the renewal screen; it asks the domain first.
func NewRenew(c *common.Common, v *common.Visit) (common.Screen, tea.Cmd) {
	s := &Renew{c: c, v: v, busy: true}
	svc, sess := c.Service, v.Session
	return s, v.Do(func(context.Context) tea.Msg { return renewCheckedMsg{svc.CanRenew(sess)} })
}

func (s *Renew) Init() tea.Cmd { return nil }

func (s *Renew) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case renewCheckedMsg:
		s.busy, s.checked = false, true
		if msg.err != nil {
			logFault(s.c, "can renew", msg.err)
			return NewNotice(s.c, msg.err, "back to My Profile", backProfile(s.c, s.v)), nil
		}
		return s, nil
	case renewedMsg:
		s.busy = false
		done := "Your certificates have been renewed. They are now valid until " + date(msg.holder.CertExpiry) + "."
		if errors.Is(msg.err, domain.ErrRecordDelayed) {
			// Renewed: say so, and that the record follows.
			logFault(s.c, "record renewal", msg.err)
			s.v.Holder = msg.holder
			return NewProfile(s.c, s.v, done+" "+RenewalDelayedText)
		}
		if msg.err != nil {
			return s.failed(msg.err)
		}
		s.v.Holder = msg.holder
		return NewProfile(s.c, s.v, done)
	case tea.KeyPressMsg:
		if s.busy {
			return s, nil
		}
		switch {
		case key.Matches(msg, s.c.Keys.Back):
			return NewProfile(s.c, s.v, "")
		case key.Matches(msg, s.c.Keys.Enter) && s.checked:
			s.busy, s.away = true, false
			svc, sess, card := s.c.Service, s.v.Session, s.v.Card
			return s, s.v.DoCard(func(ctx context.Context) tea.Msg {
				err := svc.Renew(ctx, sess, card)
				if err != nil && !errors.Is(err, domain.ErrRecordDelayed) {
					return renewedMsg{err: err}
				}
				return renewedMsg{holder: svc.Holder(sess), err: err}
			})
		}
	}
	return s, nil
}

// failed explains a renewal that did not happen, or did only in part.
func (s *Renew) failed(err error) (common.Screen, tea.Cmd) {
	switch {
	case errors.Is(err, domain.ErrCardNeedsRepair):
		// New keys may be on the card without their record: trying again
		// cannot help, and the words must outlive the card's removal.
		s.c.Log.Error("renew", "err", err)
		ex := s.c.Explain(err)
		s.v.RemovedNote = ex.What + " " + ex.Next
		return NewMessage(s.c, ex, "", nil), nil
	case errors.Is(err, domain.ErrCardRemoved):
		logFault(s.c, "renew", err)
		return interrupted(s.c, s.v), nil
	}
	logFault(s.c, "renew", err)
	if s.v.Ended {
		return ended(s.c, err), nil
	}
	if common.IsUnavailable(err) {
		// After the outcomes above, which say the card was changed.
		s.away = true
		return s, s.c.StoreAway(err)
	}
	return NewNotice(s.c, err, "back to My Profile", backProfile(s.c, s.v)), nil
}

func (s *Renew) View() common.Frame {
	th, w := s.c.Theme, s.c.ContentWidth()
	var d common.Doc
	if !s.checked {
		d.Add(para(th.Text, w, "Checking whether your certificates can be renewed…"))
		return d.Frame("Renew certificates")
	}
	d.Add(para(th.Text, w, "Your Smartcard's certificates expire on "+date(s.v.Holder.CertExpiry)+". Renewing gives your Smartcard new certificates, valid for 2 years."))
	d.Gap()
	d.Add(para(th.Strong, w, "Keep your Smartcard in the reader until renewal is complete. It takes a few moments."))
	if s.away {
		d.Gap()
		d.Add(awayNote(s.c, s.c.Keys.Enter))
	}
	d.Gap()
	if s.busy {
		d.Focus(para(th.Text, w, "Renewing your certificates…"))
	} else {
		d.Focus(components.Button(th, "Renew now", true))
	}
	return d.Frame("Renew certificates")
}

func (s *Renew) Help() []key.Binding {
	if !s.checked || s.busy {
		return nil
	}
	return []key.Binding{common.WithHelp(s.c.Keys.Enter, "renew now"), s.c.Keys.Back}
}

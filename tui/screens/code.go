package screens

import (
	"context"
	"errors"
	"fmt"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/selfservice"
	"github.com/smartcard-service-centre/kiosk/tui/common"
	"github.com/smartcard-service-centre/kiosk/tui/components"
)

// Purpose says which emailed code a Code screen takes.
type Purpose int

const (
	PurposeUnlock Purpose = iota
	PurposeRegistration
)

type (
	codeCheckedMsg struct {
		holder selfservice.Holder
		err    error
	}
	codeResentMsg struct {
		masked string
		err    error
	}
)

// Code takes an emailed code: the Smartcard Unlock Code, or the
// Registration Code. The code itself is never drawn by the kiosk; only
// what the holder types is.
type Code struct {
	c       *common.Common
	v       *common.Visit
	purpose Purpose
	masked  string // the masked address the code went to
	sent    bool   // a code was sent on the way here (or since)
	field   components.CodeField
	info    string // news, e.g. "a new code was sent"
	problem string
	busy    bool
}

// NewCode returns the code screen; masked is the address the code went
// to (already masked by the domain), sent whether a code was sent just
// now, problem an opening complaint.
func NewCode(c *common.Common, v *common.Visit, p Purpose, masked string, sent bool, problem string) (common.Screen, tea.Cmd) {
	label := "Smartcard Unlock Code"
	if p == PurposeRegistration {
		label = "Registration Code"
	}
	return &Code{c: c, v: v, purpose: p, masked: masked, sent: sent, problem: problem,
		field: components.NewCodeField(label, domain.CodeDigits)}, nil
}

func (s *Code) Init() tea.Cmd { return nil }

func (s *Code) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case codeCheckedMsg:
		s.busy = false
		return s.checked(msg)
	case codeResentMsg:
		s.busy = false
		if msg.err != nil {
			logFault(s.c, "resend code", msg.err)
			ex := s.c.Explain(msg.err)
			s.problem, s.info = ex.What+" "+ex.Next, ""
			return s, nil
		}
		s.masked, s.sent = clean(msg.masked), true
		s.problem = ""
		s.info = "We have sent a new code to " + s.masked + ". Any earlier code no longer works."
		return s, nil
	case abandonedMsg:
		return msg.next()
	case tea.KeyPressMsg:
		if s.busy {
			return s, nil
		}
		switch {
		case key.Matches(msg, s.c.Keys.Back):
			s.busy = true
			return s, abandon(s.c, s.v, s.back())
		case key.Matches(msg, s.c.Keys.Resend):
			s.busy = true
			s.field.Reset()
			svc, sess := s.c.Service, s.v.Session
			return s, s.v.Do(func(ctx context.Context) tea.Msg {
				masked, err := svc.ResendCode(ctx, sess)
				return codeResentMsg{masked, err}
			})
		case key.Matches(msg, s.c.Keys.Enter):
			if !s.field.Complete() {
				s.field.Feedback, s.field.Bad = fmt.Sprintf("Type all %d digits of the code from the email.", domain.CodeDigits), true
				return s, nil
			}
			return s, s.submit()
		}
	}
	if s.busy {
		return s, nil
	}
	var cmd tea.Cmd
	before := s.field.Value()
	s.field, cmd = s.field.Update(msg)
	if s.field.Value() != before {
		// Typing answers the last complaint and news.
		s.field.Feedback, s.field.Bad, s.info = "", false, ""
	}
	return s, cmd
}

func (s *Code) submit() tea.Cmd {
	s.busy, s.problem, s.info = true, "", ""
	code := s.field.Value()
	svc, sess, purpose := s.c.Service, s.v.Session, s.purpose
	return s.v.Do(func(ctx context.Context) tea.Msg {
		if purpose == PurposeUnlock {
			return codeCheckedMsg{err: svc.EnterUnlockCode(ctx, sess, code)}
		}
		err := svc.ConfirmRegistration(ctx, sess, code)
		return codeCheckedMsg{holder: svc.Holder(sess), err: err}
	})
}

func (s *Code) checked(msg codeCheckedMsg) (common.Screen, tea.Cmd) {
	var ce *selfservice.CodeError
	switch {
	case msg.err == nil && s.purpose == PurposeUnlock:
		return NewNewPasscode(s.c, s.v)
	case msg.err == nil:
		s.v.Holder = msg.holder
		return NewProfile(s.c, s.v, "Registration complete: you can now unlock your own Smartcard at this kiosk with Smartcard Unlock.")
	case errors.As(msg.err, &ce):
		s.field.Reset()
		ex := s.c.Explain(msg.err)
		s.field.Feedback, s.field.Bad = ex.What+" "+ex.Next+".", true
		return s, nil
	case errors.Is(msg.err, domain.ErrCodeExpired), errors.Is(msg.err, domain.ErrCodeTriesExhausted), errors.Is(msg.err, domain.ErrCodeUsed):
		s.field.Reset()
		ex := s.c.Explain(msg.err)
		if s.purpose == PurposeRegistration {
			// The domain has closed this registration attempt.
			return NewMessage(s.c, common.Explanation{
				Title: ex.Title, What: ex.What,
				Next: "Please start the registration again from My Profile.",
			}, s.backTo(), s.back()), nil
		}
		s.problem = ex.What + " Press " + keyName(s.c.Keys.Resend) + " to send a new code."
		return s, nil
	}
	logFault(s.c, "check code", msg.err)
	if s.v.Ended {
		return ended(s.c, msg.err), nil
	}
	s.busy = true
	return s, abandon(s.c, s.v, notice(s.c, msg.err, s.backTo(), s.back()))
}

// back is where the holder goes on leaving: the workflow's start.
func (s *Code) back() Next {
	if s.purpose == PurposeRegistration {
		return backProfile(s.c, s.v)
	}
	return backHome(s.c, s.v)
}

// backTo words back for the help bar.
func (s *Code) backTo() string {
	if s.purpose == PurposeRegistration {
		return "back to My Profile"
	}
	return "back to the menu"
}

func (s *Code) View() common.Frame {
	th, w := s.c.Theme, s.c.ContentWidth()
	var d common.Doc
	to := "your registered email address"
	if s.masked != "" {
		to += " (" + s.masked + ")"
	}
	title := "Smartcard Unlock Code"
	switch {
	case s.purpose == PurposeUnlock && !s.sent:
		// Saying "we have sent" when nothing was would send the holder
		// looking for an email that is not coming.
		d.Add(para(th.Text, w, "Your answers were accepted, but no new Smartcard Unlock Code was sent just now (see below). Once you have the code, enter it below and press the Next button. This will take you to a screen where you will be able to set a new passcode for your Smartcard."))
		d.Gap()
		d.Add(para(th.Muted, w, "Codes are valid for "+codeValidity(s.c)+". A code is not your new passcode, it is only temporary."))
	case s.purpose == PurposeUnlock:
		d.Add(para(th.Text, w, "We have sent a Smartcard Unlock Code to "+to+". Once you receive the code, enter it below and press the Next button. This will take you to a screen where you will be able to set a new passcode for your Smartcard."))
		d.Gap()
		d.Add(para(th.Muted, w, "The code is valid for "+codeValidity(s.c)+". It is not your new passcode, it is only temporary. If it has not arrived, please check your Junk folder."))
	default:
		title = "Registration Code"
		addr := "your email address"
		if s.masked != "" {
			addr = s.masked
		}
		d.Add(para(th.Text, w, "We have sent a Registration Code to "+addr+". Enter it below and press the Next button to complete your registration."))
		d.Gap()
		d.Add(para(th.Muted, w, "The code is only valid for "+codeValidity(s.c)+". Please check your Junk folder in case the email is flagged as Junk."))
	}
	if s.info != "" {
		d.Gap()
		d.Add(para(th.Success, w, s.info))
	}
	if s.problem != "" {
		d.Gap()
		d.Add(th.Notice.Width(w).Render(th.Error.Render(s.problem)))
	}
	d.Gap()
	d.Focus(s.field.View(th, w, !s.busy))
	d.Gap()
	d.Add(components.Button(th, "Next", s.field.Complete() && !s.busy))
	return d.Frame(title)
}

func (s *Code) Help() []key.Binding {
	return []key.Binding{common.WithHelp(s.c.Keys.Enter, "next"), s.c.Keys.Resend, common.WithHelp(s.c.Keys.Back, s.backTo())}
}

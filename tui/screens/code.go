package screens

import (
	"context"
	"errors"
	"fmt"
	"time"

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
	// deliveryMsg says how far the code's email has got; deliveryTickMsg
	// asks again. Both name their screen: a screen left behind must not
	// take another's answer nor keep a second round of asking going.
	deliveryMsg struct {
		s   *Code
		gen int // the code it was asked for (see Code.gen)
		d   domain.Delivery
		err error
	}
	deliveryTickMsg struct{ s *Code }
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
	// delivery is how far the latest code's email has got, as last
	// looked up (0 until then); asking is true while a look is in flight
	// or due, so there is only ever one round of asking.
	delivery domain.Delivery
	asking   bool
	// gen counts the codes sent from this screen, so that an answer about
	// the email of an earlier code is not taken for the new one's.
	gen int
	// onResend: the "Send a new code" button is chosen (↑/↓), so Enter
	// sends a new code rather than the one typed.
	onResend bool
	// noMore: the domain has said no more codes can be sent for now
	// (while the latest one still works), so the button is not offered.
	noMore bool
	// away: the last call met the store unavailable. Neither checking a
	// code (it counts tries) nor sending one (it counts codes) is
	// repeated by itself; the code stays typed and the holder sends again
	// with awayKey.
	away    bool
	awayKey key.Binding
}

// ResendLabel names the button that emails a new code.
const ResendLabel = "Send a new code"

// NewCode returns the code screen; masked is the address the code went
// to (already masked by the domain), sent whether a code was sent just
// now, problem an opening complaint.
func NewCode(c *common.Common, v *common.Visit, p Purpose, masked string, sent bool, problem string) (common.Screen, tea.Cmd) {
	return newCode(c, v, p, masked, sent, problem), nil
}

func newCode(c *common.Common, v *common.Visit, p Purpose, masked string, sent bool, problem string) *Code {
	label := "Smartcard Unlock Code"
	if p == PurposeRegistration {
		label = "Registration Code"
	}
	return &Code{c: c, v: v, purpose: p, masked: masked, sent: sent, problem: problem,
		field: components.NewCodeField(label, domain.CodeDigits)}
}

// Init starts following the code's email, if one was sent on the way here.
func (s *Code) Init() tea.Cmd { return s.follow() }

// follow starts asking how far the code's email has got, unless asking
// already; it stops once the email is sent or given up.
func (s *Code) follow() tea.Cmd {
	if !s.sent || s.asking {
		return nil
	}
	s.asking = true
	return s.look()
}

func (s *Code) look() tea.Cmd {
	svc, sess, gen := s.c.Service, s.v.Session, s.gen
	return s.v.Look(func(ctx context.Context) tea.Msg {
		d, err := svc.CodeDelivery(ctx, sess)
		return deliveryMsg{s: s, gen: gen, d: d, err: err}
	})
}

// delivered takes how far the code's email has got and asks again later
// while it may still change.
func (s *Code) delivered(msg deliveryMsg) tea.Cmd {
	switch {
	case msg.gen != s.gen:
		// About an earlier code's email: ask about the new one.
	case errors.Is(msg.err, selfservice.ErrOutOfTurn):
		s.asking = false // no longer at this step: nothing to follow
		return nil
	case msg.err != nil:
		// Not known just now (the store did not answer): keep what the
		// screen says and ask again.
		s.c.Log.Debug("look up the code's email", "err", msg.err)
	default:
		s.delivery = msg.d
	}
	if s.delivery == domain.DeliverySent || s.delivery == domain.DeliveryFailed {
		s.asking = false
		return nil
	}
	return tea.Tick(s.c.DeliveryPoll, func(time.Time) tea.Msg { return deliveryTickMsg{s} })
}

func (s *Code) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case deliveryMsg:
		if msg.s != s {
			return s, nil
		}
		return s, s.delivered(msg)
	case deliveryTickMsg:
		if msg.s != s {
			return s, nil
		}
		return s, s.look()
	case codeCheckedMsg:
		s.busy = false
		return s.checked(msg)
	case codeResentMsg:
		s.busy = false
		if msg.err != nil {
			logFault(s.c, "resend code", msg.err)
			var lim *selfservice.CodeLimitError
			if errors.As(msg.err, &lim) {
				return s.limited(lim)
			}
			if common.IsUnavailable(msg.err) && !s.v.Ended {
				s.away, s.awayKey, s.info, s.problem = true, s.c.Keys.Resend, "", ""
				return s, s.c.StoreAway(msg.err)
			}
			ex := s.c.Explain(msg.err)
			s.problem, s.info = ex.What+" "+ex.Next, ""
			return s, nil
		}
		s.masked, s.sent = clean(msg.masked), true
		s.problem, s.onResend = "", false
		// A new code is a new email, followed from the start.
		s.info, s.delivery = common.NewCodeText, 0
		s.gen++
		return s, s.follow()
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
			return s, s.resend()
		case key.Matches(msg, s.c.Keys.Next, s.c.Keys.Prev):
			// ↑/↓ move between the code (with its Next button) and the
			// Send a new code button, when there is one.
			s.onResend = !s.noMore && key.Matches(msg, s.c.Keys.Next)
			return s, nil
		case key.Matches(msg, s.c.Keys.Enter) && s.onResend:
			return s, s.resend()
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
		// Typing answers the last complaint and news, and is about the
		// code, not the button.
		s.field.Feedback, s.field.Bad, s.info, s.onResend = "", false, "", false
	}
	return s, cmd
}

// resend asks the domain for a new code (the button or its key).
func (s *Code) resend() tea.Cmd {
	s.busy, s.away = true, false
	s.field.Reset()
	svc, sess := s.c.Service, s.v.Session
	return s.v.Do(func(ctx context.Context) tea.Msg {
		masked, err := svc.ResendCode(ctx, sess)
		return codeResentMsg{masked, err}
	})
}

// limited takes the domain's word that no more codes can be sent for now.
// While the latest code works the holder stays to enter it, with no
// button that cannot work; otherwise nothing here can work any more, and
// the holder is told so, and when to come back.
func (s *Code) limited(lim *selfservice.CodeLimitError) (common.Screen, tea.Cmd) {
	s.field.Reset()
	if !lim.LiveUntil.IsZero() {
		ex := s.c.Explain(lim)
		s.noMore, s.onResend, s.info = true, false, ""
		s.problem = ex.What + " " + ex.Next
		return s, nil
	}
	if s.purpose == PurposeRegistration {
		// The domain has closed this registration attempt; the rest of My
		// Profile still works.
		ex := s.c.Explain(lim)
		return NewMessage(s.c, common.Explanation{
			Title: ex.Title, What: ex.What,
			Next: "You can register after " + common.When(lim.RetryAt) + ". Your Smartcard itself is not affected.",
		}, s.backTo(), s.back()), nil
	}
	return ended(s.c, lim), nil
}

func (s *Code) submit() tea.Cmd {
	s.busy, s.problem, s.info, s.away = true, "", "", false
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
	var lim *selfservice.CodeLimitError
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
	case errors.As(msg.err, &lim):
		// The code no longer works, and no new one can be sent.
		logFault(s.c, "check code", msg.err)
		return s.limited(lim)
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
		// Never "type it again": the way on is a new code, chosen already.
		s.problem = ex.What + " Choose " + ResendLabel + " below (or press " + keyName(s.c.Keys.Resend) + ")."
		s.onResend, s.noMore = true, false
		return s, nil
	}
	logFault(s.c, "check code", msg.err)
	if s.v.Ended {
		return ended(s.c, msg.err), nil
	}
	if common.IsUnavailable(msg.err) {
		// As below, and the banner says when the store is back.
		s.away, s.awayKey = true, s.c.Keys.Enter
		return s, s.c.StoreAway(msg.err)
	}
	if common.IsServiceFault(msg.err) {
		// The service did not answer: the session is still at this step
		// (answers accepted, registration details kept) and the code still
		// works, so the holder stays to try again, the code still typed.
		s.problem = common.CodeNotChecked(keyCap(s.c.Keys.Enter))
		return s, nil
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
		text := common.CodeSentText(s.delivery, "a Smartcard Unlock Code", to)
		if s.delivery != domain.DeliveryFailed {
			text += " Once you receive the code, enter it below and press the Next button. This will take you to a screen where you will be able to set a new passcode for your Smartcard."
		}
		d.Add(para(th.Text, w, text))
		d.Gap()
		d.Add(para(th.Muted, w, "The code is valid for "+codeValidity(s.c)+". It is not your new passcode, it is only temporary. If it has not arrived, please check your Junk folder."))
	default:
		title = "Registration Code"
		addr := "your email address"
		if s.masked != "" {
			addr = s.masked
		}
		text := common.CodeSentText(s.delivery, "a Registration Code", addr)
		if s.delivery != domain.DeliveryFailed {
			text += " Enter it below and press the Next button to complete your registration."
		}
		d.Add(para(th.Text, w, text))
		d.Gap()
		d.Add(para(th.Muted, w, "The code is only valid for "+codeValidity(s.c)+". Please check your Junk folder in case the email is flagged as Junk."))
	}
	if p := common.CodeDeliveryProblem(s.delivery, keyName(s.c.Keys.Resend)); s.sent && p != "" {
		d.Gap()
		d.Add(th.Notice.Width(w).Render(th.Warning.Render(p)))
	}
	if s.info != "" {
		d.Gap()
		d.Add(para(th.Success, w, s.info))
	}
	switch {
	case s.away:
		d.Gap()
		d.Add(awayNote(s.c, s.awayKey))
	case s.problem != "":
		d.Gap()
		d.Add(th.Notice.Width(w).Render(th.Error.Render(s.problem)))
	}
	d.Gap()
	field := s.field.View(th, w, !s.busy && !s.onResend)
	next := components.Button(th, "Next", s.field.Complete() && !s.busy && !s.onResend)
	if s.onResend {
		d.Add(field)
		d.Gap()
		d.Add(next)
	} else {
		d.Focus(field)
		d.Gap()
		d.Add(next)
	}
	if !s.noMore {
		d.Gap()
		btn := components.Button(th, ResendLabel, s.onResend && !s.busy)
		if s.onResend {
			d.Focus(btn)
		} else {
			d.Add(btn)
		}
	}
	return d.Frame(title)
}

func (s *Code) Help() []key.Binding {
	enter := common.WithHelp(s.c.Keys.Enter, "next")
	if s.onResend {
		enter = common.WithHelp(s.c.Keys.Enter, "send")
	}
	help := []key.Binding{enter}
	if !s.noMore {
		help = append(help, common.WithHelp(s.c.Keys.Up, "choose"), s.c.Keys.Resend)
	}
	return append(help, common.WithHelp(s.c.Keys.Back, s.backTo()))
}

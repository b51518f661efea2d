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

// incompleteRegistration explains a stored registration without enough
// questions to unlock with.
var incompleteRegistration = common.Explanation{
	Title: "Registration incomplete",
	What:  "Your registration for the Smartcard Unlock Service is incomplete, so it cannot be used to unlock your Smartcard.",
	Next:  "Please register again under My Profile. If your Smartcard is locked, please visit the IT booth to reset your passcode first.",
}

// Seed 004's texts for Smartcard Unlock.
const (
	DisciplinaryText = "You should not attempt to unlock another staff member's card; this could result in disciplinary action."
	AttemptsNoteText = "** Please note that after 3 failed attempts at answering your security questions, you will not be able to proceed and you will have to visit the IT booth to reset your Smartcard passcode"
	UnlockedText     = "Your Smartcard has been successfully unlocked."
	ReinsertText     = "Please remove and then reinsert your Smartcard to log in as normal using your new passcode."
)

// Results of the unlock workflow's domain calls.
type (
	unlockStartedMsg struct {
		questions []selfservice.Question
		err       error
	}
	answersCheckedMsg struct {
		masked string
		step   selfservice.Step
		err    error
	}
	unlockDoneMsg struct{ err error }
)

func backHome(c *common.Common, v *common.Visit) Next {
	return func() (common.Screen, tea.Cmd) { return NewHome(c, v) }
}

// UnlockIntro explains the 3 steps and starts Smartcard Unlock.
type UnlockIntro struct {
	c    *common.Common
	v    *common.Visit
	busy bool
	// retry starts the unlock again while the store is away: StartUnlock
	// only reads, and its draw of questions stands until answered, so a
	// second call gives the same questions. leaving: Esc was pressed with
	// a try in flight, which is waited for before going back.
	retry   common.Retrier
	leaving bool
}

// start is the call that starts the unlock.
func (s *UnlockIntro) start() func(context.Context) tea.Msg {
	svc, sess := s.c.Service, s.v.Session
	return func(ctx context.Context) tea.Msg {
		qs, err := svc.StartUnlock(ctx, sess)
		return unlockStartedMsg{qs, err}
	}
}

// NewUnlockIntro returns the Smartcard Unlock start screen.
func NewUnlockIntro(c *common.Common, v *common.Visit) (common.Screen, tea.Cmd) {
	return &UnlockIntro{c: c, v: v}, nil
}

func (s *UnlockIntro) Init() tea.Cmd { return nil }

func (s *UnlockIntro) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	if s.retry.Due(msg) {
		return s, s.retry.Try(s.v, s.start(), unlockStartedMsg{err: common.TryTimedOut()})
	}
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		switch {
		case s.retry.Waiting() && key.Matches(msg, s.c.Keys.Back):
			if s.retry.Stop() {
				s.leaving = true
				return s, nil
			}
			return NewHome(s.c, s.v)
		case s.busy:
		case key.Matches(msg, s.c.Keys.Enter):
			s.busy = true
			return s, s.v.Do(s.start())
		case key.Matches(msg, s.c.Keys.Back):
			return NewHome(s.c, s.v)
		}
	case abandonedMsg:
		return msg.next()
	case unlockStartedMsg:
		if s.leaving {
			// The try given up may have drawn the questions: leave the
			// unlock before the menu, as Back from the questions does.
			return s, abandon(s.c, s.v, backHome(s.c, s.v))
		}
		if common.IsUnavailable(msg.err) {
			logFault(s.c, "start unlock", msg.err)
			return s, s.retry.Wait(s.c, msg.err)
		}
		s.retry.Done()
		s.busy = false
		if msg.err != nil {
			logFault(s.c, "start unlock", msg.err)
			switch {
			case s.v.Ended:
				return ended(s.c, msg.err), nil
			case errors.Is(msg.err, domain.ErrQuestions):
				// The stored registration is short of questions: nothing
				// the holder typed was wrong (they typed nothing yet).
				return NewMessage(s.c, incompleteRegistration, "back to the menu", backHome(s.c, s.v)), nil
			}
			return NewNotice(s.c, msg.err, "back to the menu", backHome(s.c, s.v)), nil
		}
		return NewQuestions(s.c, s.v, msg.questions)
	}
	return s, nil
}

func (s *UnlockIntro) View() common.Frame {
	if s.retry.Waiting() || s.leaving {
		return s.c.UnavailableFrame(common.Unavailable, "Smartcard Unlock will then start: keep your Smartcard in the reader.")
	}
	th, w := s.c.Theme, s.c.ContentWidth()
	var d common.Doc
	d.Add(para(th.Text, w, "Here you can unlock your Smartcard and set a new passcode. You need to have registered for the Smartcard Unlock Service to be able to do this."))
	d.Gap()
	d.Add(para(th.Strong, w, "Complete these 3 simple steps to unlock your Smartcard."))
	d.Add(steps(th.Text, w,
		"Answer security questions you set during registration.",
		"Enter the Unlock Code that we will send you via registered email.",
		"Reset your Smartcard passcode.",
	))
	d.Gap()
	d.Add(para(th.Text, w, "These steps should take no longer than 5 minutes to complete. Please make sure you have access to your email account."))
	d.Gap()
	d.Add(para(th.Text, w, "To start the process, keep your Smartcard in the reader and press the Start button below."))
	d.Gap()
	d.Focus(components.Button(th, "Start", !s.busy))
	return d.Frame("Smartcard Unlock")
}

func (s *UnlockIntro) Help() []key.Binding {
	if s.retry.Waiting() {
		return []key.Binding{s.c.Keys.Back}
	}
	return []key.Binding{common.WithHelp(s.c.Keys.Enter, "start"), s.c.Keys.Back}
}

// Questions asks 2–4 of the holder's security questions.
type Questions struct {
	c         *common.Common
	v         *common.Visit
	questions []selfservice.Question
	form      components.QuestionForm
	problem   string
	busy      bool
	// away: the answers met the store unavailable. They are not sent
	// again by themselves: the domain may have counted a failed attempt
	// before the store went (RecordFailedAttempt's commit), and a second
	// one must be the holder's choice. They stay typed; Enter sends them.
	away bool
}

// NewQuestions returns the security questions screen.
func NewQuestions(c *common.Common, v *common.Visit, qs []selfservice.Question) (common.Screen, tea.Cmd) {
	texts := make([]string, len(qs))
	for i, q := range qs {
		texts[i] = clean(q.Text)
	}
	form, cmd := components.NewQuestionForm(c.Keys, texts)
	return &Questions{c: c, v: v, questions: qs, form: form}, cmd
}

func (s *Questions) Init() tea.Cmd { return nil }

func (s *Questions) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case answersCheckedMsg:
		s.busy = false
		var ae *selfservice.AnswerError
		switch {
		case msg.err == nil:
			return NewCode(s.c, s.v, PurposeUnlock, clean(msg.masked), true, "")
		case errors.As(msg.err, &ae):
			ex := s.c.Explain(msg.err)
			s.problem = ex.What + " " + ex.Next
			return s, s.form.Reset()
		case common.IsUnavailable(msg.err) && msg.step == selfservice.StepQuestions && !s.v.Ended:
			logFault(s.c, "answer questions", msg.err)
			s.away = true
			return s, s.c.StoreAway(msg.err)
		case s.v.Ended:
			// Locked out, or the registration has gone.
			logFault(s.c, "answer questions", msg.err)
			return ended(s.c, msg.err), nil
		case msg.step == selfservice.StepCodeSent && errors.Is(msg.err, selfservice.ErrTooManyCodes):
			// The answers were right, but no more codes can be sent for
			// now, and the latest one sent still works (else the domain
			// would have ended the visit): enter that one.
			logFault(s.c, "send unlock code", msg.err)
			ex := s.c.Explain(msg.err)
			sc := newCode(s.c, s.v, PurposeUnlock, "", false, ex.What+" "+ex.Next)
			sc.noMore = true
			return sc, nil
		case msg.step == selfservice.StepCodeSent:
			// The answers were right but the email could not be queued:
			// the holder may ask for the code again from the next screen.
			logFault(s.c, "send unlock code", msg.err)
			return NewCode(s.c, s.v, PurposeUnlock, "", false, "We could not send the email just now. Press "+keyName(s.c.Keys.Resend)+" to send the code again.")
		}
		logFault(s.c, "answer questions", msg.err)
		s.busy = true
		return s, abandon(s.c, s.v, notice(s.c, msg.err, "back to the menu", backHome(s.c, s.v)))
	case abandonedMsg:
		return msg.next()
	}
	if s.busy {
		return s, nil
	}
	if k, ok := msg.(tea.KeyPressMsg); ok && key.Matches(k, s.c.Keys.Back) {
		s.busy = true
		return s, abandon(s.c, s.v, backHome(s.c, s.v))
	}
	form, cmd, submitted := s.form.Update(msg)
	s.form = form
	if !submitted {
		return s, cmd
	}
	answers := s.form.Answers()
	for i, a := range answers {
		if a == "" {
			s.form.SetFeedback(i, "Please answer this question.")
			return s, s.form.FocusField(i)
		}
	}
	s.busy, s.problem, s.away = true, "", false
	svc, sess := s.c.Service, s.v.Session
	return s, s.v.Do(func(ctx context.Context) tea.Msg {
		masked, err := svc.AnswerQuestions(ctx, sess, answers)
		return answersCheckedMsg{masked: masked, step: sess.Step(), err: err}
	})
}

func (s *Questions) View() common.Frame {
	th, w := s.c.Theme, s.c.ContentWidth()
	var d common.Doc
	d.Add(th.Warning.Width(w).Render(th.Strong.Render(DisciplinaryText)))
	d.Gap()
	// The 3-attempts warning comes before the answers, where it is read
	// (and where it stays in view on an 80×24 screen).
	d.Add(para(th.Text, w, "To confirm your identity please answer the following security questions. These are questions that you provided when you registered for the Smartcard Unlock Service. "+th.Strong.Render(AttemptsNoteText)))
	switch {
	case s.away:
		d.Gap()
		d.Add(awayNote(s.c, s.c.Keys.Enter))
	case s.problem != "":
		d.Gap()
		d.Add(th.Notice.Width(w).Render(th.Error.Render(s.problem)))
	}
	d.Gap()
	s.form.View(&d, th, w)
	d.Gap()
	d.Add(components.Button(th, "Next", !s.busy))
	return d.Frame("Security questions")
}

func (s *Questions) Help() []key.Binding {
	return []key.Binding{s.c.Keys.Next, common.WithHelp(s.c.Keys.Enter, "next"), common.WithHelp(s.c.Keys.Reveal, "show/hide"), common.WithHelp(s.c.Keys.Back, "back to the menu")}
}

// NewPasscode takes the new passcode twice, checked as it is typed, and
// completes the unlock.
type NewPasscode struct {
	c      *common.Common
	v      *common.Visit
	fields components.PasscodeFields
	busy   bool
	// away: the unlock met the store unavailable before the card was
	// touched (its intent could not be written ahead). A card write is
	// never repeated by itself: the passcodes stay typed, Enter sends.
	away bool
}

// NewNewPasscode returns the "Reset Smartcard Passcode" screen.
func NewNewPasscode(c *common.Common, v *common.Visit) (common.Screen, tea.Cmd) {
	f, cmd := components.NewPasscodeFields(c, false)
	return &NewPasscode{c: c, v: v, fields: f}, cmd
}

func (s *NewPasscode) Init() tea.Cmd { return nil }

func (s *NewPasscode) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	if m, ok := msg.(abandonedMsg); ok {
		return m.next()
	}
	if m, ok := msg.(unlockDoneMsg); ok {
		s.busy = false
		switch {
		case m.err == nil:
			s.v.Holder.Blocked = false
			return NewUnlocked(s.c, s.v), nil
		case errors.Is(m.err, domain.ErrRecordDelayed), errors.Is(m.err, domain.ErrNotRecorded):
			// The card was unlocked: say so, and what became of its record.
			logFault(s.c, "record unlock", m.err)
			s.v.Holder.Blocked = false
			u := NewUnlocked(s.c, s.v)
			ex := s.c.Explain(m.err)
			u.Note = ex.What + " " + ex.Next
			return u, nil
		case errors.Is(m.err, domain.ErrPasscodePolicy):
			return s, s.fields.ResetNew(s.c.Explain(m.err).What)
		case common.IsUnavailable(m.err) && !s.v.Ended:
			// After the two outcomes above, which say the card was
			// changed: the domain touches the card only once its intent
			// is in the store, so here it was not.
			logFault(s.c, "complete unlock", m.err)
			s.away = true
			return s, s.c.StoreAway(m.err)
		}
		logFault(s.c, "complete unlock", m.err)
		switch {
		case errors.Is(m.err, domain.ErrCodeExpired):
			return NewMessage(s.c, common.Explanation{
				Title: "Time ran out",
				What:  "The new passcode was not set within " + codeValidity(s.c) + " of entering the code, so the unlock has stopped.",
				Next:  "Please remove your Smartcard, reinsert it and start Smartcard Unlock again.",
				Fatal: true,
			}, "", nil), nil
		case errors.Is(m.err, domain.ErrCardRemoved):
			return interrupted(s.c, s.v), nil
		case s.v.Ended, s.c.Explain(m.err).Fatal:
			// E.g. the card refused the stored PUK: trying again would
			// only spend the PUK's own tries.
			return ended(s.c, m.err), nil
		}
		s.busy = true
		return s, abandon(s.c, s.v, notice(s.c, m.err, "back to the menu", backHome(s.c, s.v)))
	}
	if s.busy {
		return s, nil
	}
	if k, ok := msg.(tea.KeyPressMsg); ok && key.Matches(k, s.c.Keys.Back) {
		s.busy = true
		return s, abandon(s.c, s.v, backHome(s.c, s.v))
	}
	fields, cmd, submitted := s.fields.Update(msg)
	s.fields = fields
	if !submitted || !s.fields.Ready() {
		return s, cmd
	}
	s.busy, s.away = true, false
	svc, sess, card := s.c.Service, s.v.Session, s.v.Card
	newPIN, confirm := s.fields.New(), s.fields.Confirm()
	return s, s.v.DoCard(func(ctx context.Context) tea.Msg {
		return unlockDoneMsg{svc.CompleteUnlock(ctx, sess, card, newPIN, confirm)}
	})
}

func (s *NewPasscode) View() common.Frame {
	th, w := s.c.Theme, s.c.ContentWidth()
	var d common.Doc
	d.Add(para(th.Text, w, "Please enter the new passcode for your Smartcard in the two spaces below and then press the Confirm button."))
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
	return d.Frame("Reset Smartcard Passcode")
}

func (s *NewPasscode) Help() []key.Binding {
	return []key.Binding{s.c.Keys.Next, common.WithHelp(s.c.Keys.Enter, "confirm"), common.WithHelp(s.c.Keys.Back, "back to the menu")}
}

// Unlocked is seed 004's confirmation.
type Unlocked struct {
	c *common.Common
	v *common.Visit
	// Note, if set, says the unlock is not yet recorded with the service
	// (so its confirming email has not gone yet), and what happens next.
	Note string
}

// NewUnlocked returns the "Smartcard Unlocked" screen.
func NewUnlocked(c *common.Common, v *common.Visit) *Unlocked { return &Unlocked{c: c, v: v} }

func (s *Unlocked) Init() tea.Cmd { return nil }

func (s *Unlocked) Update(tea.Msg) (common.Screen, tea.Cmd) { return s, nil }

func (s *Unlocked) View() common.Frame {
	th, w := s.c.Theme, s.c.ContentWidth()
	var d common.Doc
	d.Add(para(th.Success, w, UnlockedText))
	if s.Note != "" {
		d.Gap()
		d.Add(th.Notice.Width(w).Render(s.Note))
	}
	d.Gap()
	d.Focus(para(th.Strong, w, ReinsertText))
	return d.Frame("Smartcard Unlocked")
}

// Finished says the visit is complete: pulling the card now is expected.
func (s *Unlocked) Finished() bool { return true }

func (s *Unlocked) Help() []key.Binding {
	return []key.Binding{common.Hint("remove card", "finish")}
}

// codeValidity words the codes' lifetime, as configured: "15 minutes". A
// code also bounds the time to set the new passcode once it is entered.
func codeValidity(c *common.Common) string { return domain.Period(c.CodeValidity()) }

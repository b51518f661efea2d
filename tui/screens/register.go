package screens

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/selfservice"
	"github.com/smartcard-service-centre/kiosk/tui/common"
	"github.com/smartcard-service-centre/kiosk/tui/components"
)

func backProfile(c *common.Common, v *common.Visit) Next {
	return func() (common.Screen, tea.Cmd) { return NewProfile(c, v, "") }
}

// RegisterIntro gives seed 004's instructions for registration.
type RegisterIntro struct {
	c *common.Common
	v *common.Visit
}

// NewRegisterIntro returns the registration instructions.
func NewRegisterIntro(c *common.Common, v *common.Visit) (common.Screen, tea.Cmd) {
	return &RegisterIntro{c: c, v: v}, nil
}

func (s *RegisterIntro) Init() tea.Cmd { return nil }

func (s *RegisterIntro) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		switch {
		case key.Matches(k, s.c.Keys.Enter):
			return NewChooseQuestions(s.c, s.v, s)
		case key.Matches(k, s.c.Keys.Back):
			return NewProfile(s.c, s.v, "")
		}
	}
	return s, nil
}

func (s *RegisterIntro) View() common.Frame {
	th, w := s.c.Theme, s.c.ContentWidth()
	var d common.Doc
	d.Add(para(th.Text, w, "Registering lets you unlock your own Smartcard here if it becomes locked or you forget your passcode. It should take no longer than a few minutes."))
	d.Gap()
	d.Add(para(th.Text, w, "You must have an email address from a provider that is approved for use with the Spine, e.g. "+domainsList(s.c)+"."))
	d.Gap()
	d.Add(steps(th.Text, w,
		fmt.Sprintf("Choose %d security questions from a list of %d, and answer them.", domain.QuestionsPerUser, len(domain.SecurityQuestions)-1),
		"Confirm your email address.",
		"Enter the Registration Code we email you. It is only valid for "+codeValidity(s.c)+".",
	))
	if s.v.Holder.Registered {
		d.Gap()
		d.Add(para(th.Muted, w, "You are already registered. Your new questions and email address replace the old ones only once you enter the new Registration Code."))
	}
	d.Gap()
	d.Focus(components.Button(th, "Continue", true))
	return d.Frame("Register for Smartcard Unlock")
}

func (s *RegisterIntro) Help() []key.Binding {
	return []key.Binding{common.WithHelp(s.c.Keys.Enter, "continue"), s.c.Keys.Back}
}

func domainsList(c *common.Common) string {
	ds := c.Service.EmailPolicy().Domains
	switch len(ds) {
	case 0:
		return ""
	case 1:
		return ds[0]
	}
	return strings.Join(ds[:len(ds)-1], ", ") + " or " + ds[len(ds)-1]
}

// ChooseQuestions picks 4 distinct questions of the 20.
type ChooseQuestions struct {
	c       *common.Common
	v       *common.Visit
	back    common.Screen
	cursor  int
	chosen  []domain.QuestionID // in the order chosen
	problem string
}

// NewChooseQuestions returns the question chooser; back is the screen
// Esc returns to.
func NewChooseQuestions(c *common.Common, v *common.Visit, back common.Screen) (common.Screen, tea.Cmd) {
	return &ChooseQuestions{c: c, v: v, back: back}, nil
}

func (s *ChooseQuestions) Init() tea.Cmd { return nil }

func (s *ChooseQuestions) count() int { return len(domain.SecurityQuestions) - 1 } // IDs start at 1

func (s *ChooseQuestions) isChosen(id domain.QuestionID) int {
	for i, c := range s.chosen {
		if c == id {
			return i
		}
	}
	return -1
}

func (s *ChooseQuestions) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return s, nil
	}
	n := s.count()
	switch {
	case key.Matches(k, s.c.Keys.Back):
		return s.back, nil
	case key.Matches(k, s.c.Keys.Up, s.c.Keys.Prev):
		s.cursor = (s.cursor + n - 1) % n
	case key.Matches(k, s.c.Keys.Down, s.c.Keys.Next):
		s.cursor = (s.cursor + 1) % n
	case key.Matches(k, s.c.Keys.Toggle):
		id := domain.QuestionID(s.cursor + 1)
		if i := s.isChosen(id); i >= 0 {
			s.chosen = append(s.chosen[:i], s.chosen[i+1:]...)
			s.problem = ""
		} else if len(s.chosen) < domain.QuestionsPerUser {
			s.chosen = append(s.chosen, id)
			s.problem = ""
		} else {
			s.problem = fmt.Sprintf("You have chosen %d questions already. Unchoose one first.", domain.QuestionsPerUser)
		}
	case key.Matches(k, s.c.Keys.Enter):
		if len(s.chosen) != domain.QuestionsPerUser {
			s.problem = fmt.Sprintf("Choose %d different questions (you have chosen %d) with %s.", domain.QuestionsPerUser, len(s.chosen), keyName(s.c.Keys.Toggle))
			return s, nil
		}
		return NewRegisterAnswers(s.c, s.v, s, append([]domain.QuestionID(nil), s.chosen...))
	}
	return s, nil
}

func (s *ChooseQuestions) View() common.Frame {
	th, w := s.c.Theme, s.c.ContentWidth()
	var d common.Doc
	d.Add(para(th.Text, w, fmt.Sprintf("Choose %d different questions whose answers only you know and will remember. Press %s to choose or unchoose a question, then %s to continue.",
		domain.QuestionsPerUser, keyName(s.c.Keys.Toggle), keyCap(s.c.Keys.Enter))))
	d.Add(para(th.Strong, w, fmt.Sprintf("Chosen: %d of %d", len(s.chosen), domain.QuestionsPerUser)))
	if s.problem != "" {
		d.Add(para(th.Error, w, s.problem))
	}
	d.Gap()
	for i := 0; i < s.count(); i++ {
		id := domain.QuestionID(i + 1)
		text, _ := domain.QuestionText(id)
		box := "[ ]"
		if s.isChosen(id) >= 0 {
			box = "[x]"
		}
		line := fmt.Sprintf("%s %s", box, text)
		if i == s.cursor {
			d.Focus(th.MenuItemActive.Width(w).Render(line))
		} else {
			d.Add(th.MenuItem.Width(w).Render(line))
		}
	}
	return d.Frame("Choose your security questions")
}

func (s *ChooseQuestions) Help() []key.Binding {
	return []key.Binding{s.c.Keys.Up, s.c.Keys.Toggle, common.WithHelp(s.c.Keys.Enter, "continue"), s.c.Keys.Back}
}

// RegisterAnswers takes the answers to the chosen questions.
type RegisterAnswers struct {
	c    *common.Common
	v    *common.Visit
	back common.Screen
	ids  []domain.QuestionID
	form components.QuestionForm
}

// NewRegisterAnswers returns the answer form for the chosen questions.
func NewRegisterAnswers(c *common.Common, v *common.Visit, back common.Screen, ids []domain.QuestionID) (common.Screen, tea.Cmd) {
	texts := make([]string, len(ids))
	for i, id := range ids {
		texts[i], _ = domain.QuestionText(id)
	}
	form, cmd := components.NewQuestionForm(c.Keys, texts)
	return &RegisterAnswers{c: c, v: v, back: back, ids: ids, form: form}, cmd
}

func (s *RegisterAnswers) Init() tea.Cmd { return nil }

func (s *RegisterAnswers) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok && key.Matches(k, s.c.Keys.Back) {
		return s.back, nil
	}
	form, cmd, submitted := s.form.Update(msg)
	s.form = form
	if !submitted {
		return s, cmd
	}
	answers := s.form.Answers()
	for i, a := range answers {
		// The domain decides; this only saves a round trip for the
		// obvious case.
		if len([]rune(strings.TrimSpace(a))) < 2 {
			s.form.SetFeedback(i, "Please give an answer of at least 2 characters.")
			return s, s.form.FocusField(i)
		}
	}
	qas := make([]selfservice.QuestionAnswer, len(s.ids))
	for i, id := range s.ids {
		qas[i] = selfservice.QuestionAnswer{Question: id, Answer: answers[i]}
	}
	return NewRegisterEmail(s.c, s.v, s, qas)
}

func (s *RegisterAnswers) View() common.Frame {
	th, w := s.c.Theme, s.c.ContentWidth()
	var d common.Doc
	d.Add(para(th.Text, w, "Answer each question. You will be asked some of them when you unlock your Smartcard, so choose answers you will remember; capitals and spaces do not matter."))
	d.Gap()
	s.form.View(&d, th, w)
	d.Gap()
	d.Add(components.Button(th, "Continue", true))
	return d.Frame("Answer your security questions")
}

func (s *RegisterAnswers) Help() []key.Binding {
	return []key.Binding{s.c.Keys.Next, common.WithHelp(s.c.Keys.Enter, "next"), s.c.Keys.Reveal, s.c.Keys.Back}
}

type registrationStartedMsg struct {
	masked string
	err    error
}

// RegisterEmail takes the approved-domain email address and sends the
// Registration Code.
type RegisterEmail struct {
	c     *common.Common
	v     *common.Visit
	back  common.Screen
	qas   []selfservice.QuestionAnswer
	field components.Field
	busy  bool
}

// NewRegisterEmail returns the email step.
func NewRegisterEmail(c *common.Common, v *common.Visit, back common.Screen, qas []selfservice.QuestionAnswer) (common.Screen, tea.Cmd) {
	f := components.NewField("Email address", false, 254)
	cmd := f.Focus()
	return &RegisterEmail{c: c, v: v, back: back, qas: qas, field: f}, cmd
}

func (s *RegisterEmail) Init() tea.Cmd { return nil }

func (s *RegisterEmail) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case registrationStartedMsg:
		s.busy = false
		switch {
		case msg.err == nil:
			return NewCode(s.c, s.v, PurposeRegistration, clean(msg.masked), true, "")
		case errors.Is(msg.err, domain.ErrEmailNotApproved), errors.Is(msg.err, domain.ErrInvalidEmail):
			s.field.Feedback, s.field.Bad = s.emailProblem(msg.err), true
			return s, nil
		}
		logFault(s.c, "start registration", msg.err)
		if s.v.Ended {
			return ended(s.c, msg.err), nil
		}
		return NewNotice(s.c, msg.err, "back to My Profile", backProfile(s.c, s.v)), nil
	case tea.KeyPressMsg:
		if s.busy {
			return s, nil
		}
		switch {
		case key.Matches(msg, s.c.Keys.Back):
			return s.back, nil
		case key.Matches(msg, s.c.Keys.Enter):
			s.busy = true
			svc, sess, qas, email := s.c.Service, s.v.Session, s.qas, s.field.Value()
			return s, s.v.Do(func(ctx context.Context) tea.Msg {
				masked, err := svc.StartRegistration(ctx, sess, qas, email)
				return registrationStartedMsg{masked, err}
			})
		}
	}
	if s.busy {
		return s, nil
	}
	var cmd tea.Cmd
	s.field, cmd = s.field.Update(msg)
	s.check()
	return s, cmd
}

// check says, as the address is typed, whether its domain is approved;
// only once an @ and a dot after it are there, so it does not nag.
func (s *RegisterEmail) check() {
	v := s.field.Value()
	at := strings.LastIndexByte(v, '@')
	if at < 0 || !strings.Contains(v[at:], ".") {
		s.field.Feedback, s.field.Bad = "", false
		return
	}
	if _, err := s.c.Service.EmailPolicy().Normalise(v); err != nil {
		s.field.Feedback, s.field.Bad = s.emailProblem(err), true
		return
	}
	s.field.Feedback, s.field.Bad = "Approved email provider", false
}

func (s *RegisterEmail) emailProblem(err error) string {
	if errors.Is(err, domain.ErrEmailNotApproved) {
		return "That email provider is not approved. Use an address ending in " + domainsList(s.c) + "."
	}
	return "That is not a valid email address. Enter an address such as jane.smith@nhs.net."
}

func (s *RegisterEmail) View() common.Frame {
	th, w := s.c.Theme, s.c.ContentWidth()
	var d common.Doc
	d.Add(para(th.Text, w, "Enter the email address the Registration Code and, later, your Smartcard Unlock Codes should be sent to."))
	d.Gap()
	d.Add(para(th.Muted, w, "It must be from a provider approved for use with the Spine: an address ending in "+domainsList(s.c)+" (or one of their subdomains)."))
	d.Gap()
	d.Focus(s.field.View(th, w))
	d.Gap()
	d.Add(components.Button(th, "Send code", !s.busy))
	return d.Frame("Confirm your email address")
}

func (s *RegisterEmail) Help() []key.Binding {
	return []key.Binding{common.WithHelp(s.c.Keys.Enter, "send code"), s.c.Keys.Back}
}

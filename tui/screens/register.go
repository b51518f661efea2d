package screens

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/selfservice"
	"github.com/smartcard-service-centre/kiosk/tui/common"
	"github.com/smartcard-service-centre/kiosk/tui/components"
)

func backProfile(c *common.Common, v *common.Visit) Next {
	return func() (common.Screen, tea.Cmd) { return NewProfile(c, v, "") }
}

// draft is what the registration screens share: the registered address
// to start the email step from, read as registration begins so that it
// is there before that step is drawn.
type draft struct {
	email string
}

// registeredEmailMsg brings the registered address to the draft that
// asked for it; whichever registration screen is showing applies it.
type registeredEmailMsg struct {
	d    *draft
	addr string
	err  error
}

// readRegisteredEmail asks for the registered address of a holder who is
// registering again; nil for a first registration.
func readRegisteredEmail(c *common.Common, v *common.Visit, d *draft) tea.Cmd {
	if !v.Holder.Registered {
		return nil
	}
	// Through Do, as every call on the session: the session is locked
	// while another call runs.
	svc, sess := c.Service, v.Session
	return v.Do(func(context.Context) tea.Msg {
		addr, err := svc.RegisteredEmail(sess)
		return registeredEmailMsg{d, addr, err}
	})
}

// apply keeps the address in its draft.
func (m registeredEmailMsg) apply(c *common.Common) {
	if m.err != nil {
		// The holder types the address instead.
		logFault(c, "read registered email", m.err)
		return
	}
	m.d.email = m.addr
}

// RegisterIntro gives seed 004's instructions for registration.
type RegisterIntro struct {
	c     *common.Common
	v     *common.Visit
	draft *draft
}

// NewRegisterIntro returns the registration instructions.
func NewRegisterIntro(c *common.Common, v *common.Visit) (common.Screen, tea.Cmd) {
	d := &draft{}
	return &RegisterIntro{c: c, v: v, draft: d}, readRegisteredEmail(c, v, d)
}

func (s *RegisterIntro) Init() tea.Cmd { return nil }

func (s *RegisterIntro) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	if m, ok := msg.(registeredEmailMsg); ok {
		m.apply(s.c)
		return s, nil
	}
	if k, ok := msg.(tea.KeyPressMsg); ok {
		switch {
		case key.Matches(k, s.c.Keys.Enter):
			return newChooseQuestions(s.c, s.v, s, s.draft)
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
	draft   *draft
	cursor  int
	chosen  []domain.QuestionID // in the order chosen
	problem string
}

// newChooseQuestions returns the question chooser; back is the screen
// Esc returns to, d what the registration screens share.
func newChooseQuestions(c *common.Common, v *common.Visit, back common.Screen, d *draft) (common.Screen, tea.Cmd) {
	return &ChooseQuestions{c: c, v: v, back: back, draft: d}, nil
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
	if m, ok := msg.(registeredEmailMsg); ok {
		m.apply(s.c)
	}
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
		return newRegisterAnswers(s.c, s.v, s, s.draft, append([]domain.QuestionID(nil), s.chosen...))
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
	c     *common.Common
	v     *common.Visit
	back  common.Screen
	draft *draft
	ids   []domain.QuestionID
	form  components.QuestionForm
	// email is the email step once reached: going back and on again
	// keeps the address.
	email *RegisterEmail
	// toReview: the holder came from the review to change an answer, so
	// the form goes back there rather than through the email step.
	toReview bool
}

// newRegisterAnswers returns the answer form for the chosen questions.
func newRegisterAnswers(c *common.Common, v *common.Visit, back common.Screen, d *draft, ids []domain.QuestionID) (common.Screen, tea.Cmd) {
	texts := make([]string, len(ids))
	for i, id := range ids {
		texts[i], _ = domain.QuestionText(id)
	}
	form, cmd := components.NewQuestionForm(c.Keys, texts)
	return &RegisterAnswers{c: c, v: v, back: back, draft: d, ids: ids, form: form}, cmd
}

func (s *RegisterAnswers) Init() tea.Cmd { return nil }

func (s *RegisterAnswers) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	if m, ok := msg.(registeredEmailMsg); ok {
		m.apply(s.c)
		return s, nil
	}
	if k, ok := msg.(tea.KeyPressMsg); ok && key.Matches(k, s.c.Keys.Back) {
		return s.back, nil
	}
	form, cmd, submitted := s.form.Update(msg)
	s.form = form
	if !submitted {
		return s, cmd
	}
	answers := s.form.Answers()
	qas := make([]selfservice.QuestionAnswer, len(s.ids))
	for i, id := range s.ids {
		qas[i] = selfservice.QuestionAnswer{Question: id, Answer: answers[i]}
	}
	// The domain's rules, checked here so that every answer that breaks
	// them is marked at once; StartRegistration checks them again.
	var ae *domain.AnswersError
	if err := selfservice.CheckAnswers(qas); errors.As(err, &ae) {
		return s, s.showProblems(ae)
	}
	if s.email == nil {
		s.email = newRegisterEmail(s.c, s.v, s)
	}
	s.email.qas = qas
	if s.toReview {
		s.toReview = false
		return s.email.review()
	}
	return s.email, cmd
}

// showProblems puts each answer's problem under it, clears the others'
// and moves the cursor to the first that needs changing.
func (s *RegisterAnswers) showProblems(ae *domain.AnswersError) tea.Cmd {
	first := -1
	for i := range s.ids {
		is, ok := ae.Issue(i)
		if !ok {
			s.form.SetFeedback(i, "")
			continue
		}
		s.form.SetFeedback(i, answerProblem(is))
		if first < 0 {
			first = i
		}
	}
	if first < 0 {
		return nil
	}
	return s.form.FocusField(first)
}

// answerProblem says what is wrong with one answer, for under its field.
func answerProblem(is domain.AnswerIssue) string {
	switch is.Problem {
	case domain.AnswerMissing:
		return "Please answer this question."
	case domain.AnswerTooShort:
		return fmt.Sprintf("Please give an answer of at least %d characters.", domain.MinAnswerLen)
	case domain.AnswerTooLong:
		return fmt.Sprintf("Please give an answer of at most %d characters.", domain.MaxAnswerLen)
	case domain.AnswerRepeated:
		return fmt.Sprintf("The same as answer %d: give each question a different answer.", is.SameAs+1)
	}
	return "Please give a different answer."
}

// change puts the cursor on answer i, for the review to send the holder
// back to it.
func (s *RegisterAnswers) change(i int) (common.Screen, tea.Cmd) {
	s.toReview = true
	return s, s.form.FocusField(i)
}

func (s *RegisterAnswers) View() common.Frame {
	th, w := s.c.Theme, s.c.ContentWidth()
	var d common.Doc
	if bad := s.form.Flagged(); len(bad) > 0 {
		// In place of the instructions, so the screen grows no taller.
		d.Add(para(th.Error, w, answersToChange(bad)+" Capitals and spaces do not matter."))
	} else {
		d.Add(para(th.Text, w, "Answer each question. You will be asked some of them when you unlock your Smartcard, so choose answers you will remember; capitals and spaces do not matter."))
	}
	d.Gap()
	s.form.View(&d, th, w)
	d.Gap()
	d.Add(components.Button(th, "Continue", true))
	return d.Frame("Answer your security questions")
}

// answersToChange names the answers that need changing (0-based in).
func answersToChange(bad []int) string {
	if len(bad) == 1 {
		return fmt.Sprintf("Answer %d needs changing: see the message under it.", bad[0]+1)
	}
	names := make([]string, len(bad))
	for i, b := range bad {
		names[i] = fmt.Sprint(b + 1)
	}
	return "Answers " + strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1] +
		" need changing: see the message under each."
}

func (s *RegisterAnswers) Help() []key.Binding {
	return []key.Binding{s.c.Keys.Next, common.WithHelp(s.c.Keys.Enter, "next"), s.c.Keys.Reveal, s.c.Keys.Back}
}

type registrationStartedMsg struct {
	masked string
	err    error
}

// RegisterEmail takes the approved-domain email address; the review
// comes next, before any code is sent.
type RegisterEmail struct {
	c       *common.Common
	v       *common.Visit
	answers *RegisterAnswers // Esc goes back to them
	qas     []selfservice.QuestionAnswer
	field   components.Field
	// prefilled: the field was filled with the registered address.
	prefilled bool
}

// newRegisterEmail returns the email step, starting from the registered
// address when there is one.
func newRegisterEmail(c *common.Common, v *common.Visit, answers *RegisterAnswers) *RegisterEmail {
	f := components.NewField("Email address", false, 254)
	f.Focus()
	s := &RegisterEmail{c: c, v: v, answers: answers, field: f}
	s.prefill()
	return s
}

// prefill types in the registered address, once known, unless the holder
// has begun to type; as a paste is typed, so the field's own rules apply.
func (s *RegisterEmail) prefill() {
	addr := s.answers.draft.email
	if addr == "" || s.prefilled || s.field.Value() != "" {
		return
	}
	s.field, _ = s.field.Update(tea.PasteMsg{Content: addr})
	s.prefilled = true
	s.check()
}

func (s *RegisterEmail) Init() tea.Cmd { return nil }

func (s *RegisterEmail) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case registeredEmailMsg:
		// Only if the holder went faster than the read.
		msg.apply(s.c)
		s.prefill()
		return s, nil
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, s.c.Keys.Back):
			return s.answers, nil
		case key.Matches(msg, s.c.Keys.Enter):
			return s.review()
		}
	}
	var cmd tea.Cmd
	s.field, cmd = s.field.Update(msg)
	s.check()
	return s, cmd
}

// review goes on to the review if the address is one a code may be sent
// to; else it stays, saying why.
func (s *RegisterEmail) review() (common.Screen, tea.Cmd) {
	addr, err := s.c.Service.EmailPolicy().Normalise(s.field.Value())
	if err != nil {
		s.field.Feedback, s.field.Bad = s.emailProblem(err), true
		return s, s.field.Focus()
	}
	return newRegisterReview(s.c, s.v, s, addr), nil
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
	if s.prefilled {
		d.Add(para(th.Text, w, "This is the email address you registered. Keep it, or enter the one the Registration Code and, later, your Smartcard Unlock Codes should be sent to."))
	} else {
		d.Add(para(th.Text, w, "Enter the email address the Registration Code and, later, your Smartcard Unlock Codes should be sent to."))
	}
	d.Gap()
	d.Add(para(th.Muted, w, "It must be from a provider approved for use with the Spine: an address ending in "+domainsList(s.c)+" (or one of their subdomains)."))
	d.Gap()
	d.Focus(s.field.View(th, w))
	d.Gap()
	d.Add(components.Button(th, "Continue", true))
	return d.Frame("Confirm your email address")
}

func (s *RegisterEmail) Help() []key.Binding {
	return []key.Binding{common.WithHelp(s.c.Keys.Enter, "continue"), s.c.Keys.Back}
}

// RegisterReview shows the answers (masked until the holder reveals
// them) and the address in full, the holder's own, before the
// Registration Code is sent: a typing error found here cannot lock them
// out later. ↑/↓ choose an answer or the address to change, or Send.
type RegisterReview struct {
	c     *common.Common
	v     *common.Visit
	email *RegisterEmail // Esc goes back to it; it leads to the answers
	qas   []selfservice.QuestionAnswer
	addr  string // normalised, as it will be stored
	// cursor is on answer i (0…n-1), the address (n) or Send (n+1).
	cursor   int
	revealed bool
	busy     bool
	// away: sending met the store unavailable; a code may or may not
	// have been stored, so it is sent again only by the holder (Enter).
	away bool
}

func newRegisterReview(c *common.Common, v *common.Visit, email *RegisterEmail, addr string) *RegisterReview {
	qas := append([]selfservice.QuestionAnswer(nil), email.qas...)
	return &RegisterReview{c: c, v: v, email: email, qas: qas, addr: addr, cursor: len(qas) + 1}
}

func (s *RegisterReview) Init() tea.Cmd { return nil }

func (s *RegisterReview) onAddress() bool { return s.cursor == len(s.qas) }
func (s *RegisterReview) onSend() bool    { return s.cursor == len(s.qas)+1 }

func (s *RegisterReview) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case registrationStartedMsg:
		s.busy = false
		var ae *domain.AnswersError
		switch {
		case msg.err == nil:
			return NewCode(s.c, s.v, PurposeRegistration, clean(msg.masked), true, "")
		case errors.As(msg.err, &ae):
			// Checked before the review too; should the rules have
			// changed, each answer still says what is wrong with it.
			a := s.email.answers
			a.toReview = true
			return a, a.showProblems(ae)
		case errors.Is(msg.err, domain.ErrEmailNotApproved), errors.Is(msg.err, domain.ErrInvalidEmail):
			s.email.field.Feedback, s.email.field.Bad = s.email.emailProblem(msg.err), true
			return s.email, nil
		}
		logFault(s.c, "start registration", msg.err)
		if s.v.Ended {
			return ended(s.c, msg.err), nil
		}
		if common.IsUnavailable(msg.err) {
			s.away = true
			return s, s.c.StoreAway(msg.err)
		}
		return NewNotice(s.c, msg.err, "back to My Profile", backProfile(s.c, s.v)), nil
	case tea.KeyPressMsg:
		if s.busy {
			return s, nil
		}
		last := len(s.qas) + 1
		switch {
		case key.Matches(msg, s.c.Keys.Back):
			return s.email, nil
		case key.Matches(msg, s.c.Keys.Up, s.c.Keys.Prev):
			s.cursor = max(0, s.cursor-1)
		case key.Matches(msg, s.c.Keys.Down, s.c.Keys.Next):
			s.cursor = min(last, s.cursor+1)
		case key.Matches(msg, s.c.Keys.Reveal):
			s.revealed = !s.revealed
		case key.Matches(msg, s.c.Keys.Enter):
			switch {
			case s.onAddress():
				return s.email, s.email.field.Focus()
			case !s.onSend():
				return s.email.answers.change(s.cursor)
			}
			s.busy, s.away = true, false
			svc, sess, qas, addr := s.c.Service, s.v.Session, s.qas, s.addr
			return s, s.v.Do(func(ctx context.Context) tea.Msg {
				masked, err := svc.StartRegistration(ctx, sess, qas, addr)
				return registrationStartedMsg{masked, err}
			})
		}
	}
	return s, nil
}

// shown is answer a as drawn: one • per character until revealed.
func (s *RegisterReview) shown(a string) string {
	if s.revealed {
		return clean(a)
	}
	return strings.Repeat(string(components.Mask), utf8.RuneCountInString(a))
}

func (s *RegisterReview) View() common.Frame {
	th, w := s.c.Theme, s.c.ContentWidth()
	var d common.Doc
	d.Add(para(th.Text, w, fmt.Sprintf("Check your answers and email address before we send the Registration Code. To change one, choose it with %s and press %s; %s shows the answers.",
		keyName(s.c.Keys.Up), keyCap(s.c.Keys.Enter), keyName(s.c.Keys.Reveal))))
	d.Gap()
	row := func(i int, head, body string) {
		inner := max(10, w-2) // the marker's columns
		block := lipgloss.JoinVertical(lipgloss.Left,
			th.Strong.Width(inner).Render(head),
			th.Text.PaddingLeft(3).Width(inner).Render(body))
		if i == s.cursor {
			d.Focus(th.MenuItemActive.Render(block))
		} else {
			d.Add(th.MenuItem.Render(block))
		}
	}
	for i, qa := range s.qas {
		text, _ := domain.QuestionText(qa.Question)
		row(i, fmt.Sprintf("%d. %s", i+1, text), s.shown(qa.Answer))
	}
	row(len(s.qas), "Email address", clean(s.addr))
	if s.away {
		d.Gap()
		d.Add(awayNote(s.c, s.c.Keys.Enter))
	}
	d.Gap()
	if s.onSend() {
		d.Focus(components.Button(th, "Send code", !s.busy))
	} else {
		d.Add(components.Button(th, "Send code", false))
	}
	return d.Frame("Check your details")
}

func (s *RegisterReview) Help() []key.Binding {
	enter := "send code"
	switch {
	case s.onAddress():
		enter = "change address"
	case !s.onSend():
		enter = "change answer"
	}
	return []key.Binding{s.c.Keys.Up, common.WithHelp(s.c.Keys.Enter, enter),
		common.WithHelp(s.c.Keys.Reveal, "show/hide answers"), s.c.Keys.Back}
}

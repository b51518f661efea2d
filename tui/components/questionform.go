package components

import (
	"fmt"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/tui/common"
	"github.com/smartcard-service-centre/kiosk/tui/theme"
)

// AnswerLimit bounds an answer's length: the field stops taking
// characters where the domain's rule would refuse them.
const AnswerLimit = domain.MaxAnswerLen

// QuestionForm asks security questions, one answer field each, masked
// as they are typed; Reveal shows the focused answer until it is pressed
// again or the cursor leaves it. Enter moves to the next field; on the
// last it reports Submitted.
type QuestionForm struct {
	questions []string
	fields    []Field
	focus     int
	keys      common.KeyMap
}

// NewQuestionForm returns a form for the questions, the first focused.
func NewQuestionForm(keys common.KeyMap, questions []string) (QuestionForm, tea.Cmd) {
	q := QuestionForm{questions: questions, keys: keys, fields: make([]Field, len(questions))}
	for i := range questions {
		// Masked: answers are long-lived secrets, typed on a public screen.
		q.fields[i] = NewField("", true, AnswerLimit)
	}
	var cmd tea.Cmd
	if len(q.fields) > 0 {
		cmd = q.fields[0].Focus()
	}
	return q, cmd
}

// Answers returns the answers in the order of the questions.
func (q QuestionForm) Answers() []string {
	out := make([]string, len(q.fields))
	for i, f := range q.fields {
		out[i] = f.Value()
	}
	return out
}

// Reset wipes every answer and focuses the first field.
func (q *QuestionForm) Reset() tea.Cmd {
	for i := range q.fields {
		q.fields[i].Reset()
	}
	return q.setFocus(0)
}

// SetFeedback puts feedback under answer i (e.g. "too short").
func (q *QuestionForm) SetFeedback(i int, text string) {
	if i >= 0 && i < len(q.fields) {
		q.fields[i].Feedback, q.fields[i].Bad = text, text != ""
	}
}

// Flagged lists the answers whose feedback is a complaint, in order; an
// answer typed into again drops out (see Update).
func (q QuestionForm) Flagged() []int {
	var out []int
	for i, f := range q.fields {
		if f.Bad && f.Feedback != "" {
			out = append(out, i)
		}
	}
	return out
}

// FocusField moves the cursor to answer i.
func (q *QuestionForm) FocusField(i int) tea.Cmd { return q.setFocus(i) }

func (q *QuestionForm) setFocus(i int) tea.Cmd {
	if len(q.fields) == 0 {
		return nil
	}
	i = max(0, min(i, len(q.fields)-1))
	q.fields[q.focus].Blur()
	q.focus = i
	return q.fields[i].Focus()
}

// Update handles moving between answers and typing; submitted is true
// when Enter was pressed on the last answer.
func (q QuestionForm) Update(msg tea.Msg) (QuestionForm, tea.Cmd, bool) {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		switch {
		case key.Matches(k, q.keys.Enter):
			if q.focus == len(q.fields)-1 {
				return q, nil, true
			}
			return q, q.setFocus(q.focus + 1), false
		case key.Matches(k, q.keys.Next):
			return q, q.setFocus(q.focus + 1), false
		case key.Matches(k, q.keys.Prev):
			return q, q.setFocus(q.focus - 1), false
		case key.Matches(k, q.keys.Reveal):
			if len(q.fields) > 0 {
				q.fields[q.focus].ToggleReveal()
			}
			return q, nil, false
		}
	}
	if len(q.fields) == 0 {
		return q, nil, false
	}
	var cmd tea.Cmd
	i := q.focus
	before := q.fields[i].Value()
	q.fields[i], cmd = q.fields[i].Update(msg)
	if q.fields[i].Bad && q.fields[i].Value() != before {
		// Typing again answers the complaint; the domain checks on submit.
		q.fields[i].Feedback, q.fields[i].Bad = "", false
	}
	return q, cmd, false
}

// View adds the numbered questions and their fields to d, marking the
// focused one.
func (q QuestionForm) View(d *common.Doc, th *theme.Theme, width int) {
	for i, text := range q.questions {
		block := th.Strong.Width(width).Render(fmt.Sprintf("%d. %s", i+1, text)) + "\n" + q.fields[i].View(th, width)
		if i == q.focus {
			d.Focus(block)
		} else {
			d.Add(block)
		}
	}
}

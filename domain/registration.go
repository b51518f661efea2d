package domain

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// QuestionsPerUser is how many security questions a registration holds.
const QuestionsPerUser = 4

// QuestionID identifies one of the SecurityQuestions (1-based, persisted).
type QuestionID int

// SecurityQuestions are the 20 questions a card holder chooses 4 from. IDs
// are stored with answers, so entries may be appended but never reordered.
var SecurityQuestions = []string{
	1:  "What is your mother's maiden name?",
	2:  "Where were you on the turn of the millennium?",
	3:  "What was the name of your first pet?",
	4:  "What was the name of your first school?",
	5:  "In which town or city were you born?",
	6:  "What was the make of your first car?",
	7:  "What is the name of the street you grew up in?",
	8:  "What was your childhood nickname?",
	9:  "What is the middle name of your oldest sibling?",
	10: "In which town or city did your parents meet?",
	11: "What was the name of your favourite teacher?",
	12: "What was your first job?",
	13: "What is the name of your favourite book?",
	14: "What was the first concert you attended?",
	15: "What is your favourite film?",
	16: "What was the name of your best friend at school?",
	17: "Where did you go on your first holiday abroad?",
	18: "What is your grandmother's first name?",
	19: "What was the first name of your first manager?",
	20: "What was your favourite subject at school?",
}

// QuestionText returns the text of a question, or an error for an unknown ID.
func QuestionText(id QuestionID) (string, error) {
	if id < 1 || int(id) >= len(SecurityQuestions) {
		return "", fmt.Errorf("%w: unknown question %d", ErrQuestions, id)
	}
	return SecurityQuestions[id], nil
}

// Answer is a question with the argon2id hash of its normalised answer.
type Answer struct {
	Question QuestionID
	Hash     string
}

// Registration is a user's enrolment in the Smartcard Unlock Service.
type Registration struct {
	UserID         UserID
	Email          string
	Answers        []Answer
	FailedAttempts int
	// LockedOutAt is set once FailedAttempts reaches the limit; the user
	// must then visit the IT booth.
	LockedOutAt  time.Time
	RegisteredAt time.Time
}

// LockedOut reports whether self-service is closed to the user.
func (r Registration) LockedOut() bool { return !r.LockedOutAt.IsZero() }

// PendingRegistration holds a registration awaiting its emailed code, so an
// abandoned attempt never replaces a registration that already works.
type PendingRegistration struct {
	UserID    UserID
	Email     string
	Answers   []Answer
	CreatedAt time.Time
}

// ValidateAnswers checks that exactly 4 distinct known questions are used.
func ValidateAnswers(answers []Answer) error {
	if len(answers) != QuestionsPerUser {
		return fmt.Errorf("%w: need %d questions, got %d", ErrQuestions, QuestionsPerUser, len(answers))
	}
	seen := map[QuestionID]bool{}
	for _, a := range answers {
		if _, err := QuestionText(a.Question); err != nil {
			return err
		}
		if seen[a.Question] {
			return fmt.Errorf("%w: question %d chosen twice", ErrQuestions, a.Question)
		}
		seen[a.Question] = true
		if a.Hash == "" {
			return fmt.Errorf("%w: question %d has no answer", ErrQuestions, a.Question)
		}
	}
	return nil
}

// Rules for the answers a holder registers (issue 11: "aa" for three
// questions, and a 500-character answer, were accepted).
const (
	// MinAnswerLen is the fewest characters an answer may have once
	// normalised: shorter ones are guessed in the attempts allowed.
	MinAnswerLen = 3
	// MaxAnswerLen is the most characters an answer may have as typed:
	// longer ones only make a typing error at the unlock likelier. It is
	// counted as typed, as the answer field counts, so the field's limit
	// and this rule always agree.
	MaxAnswerLen = 64
)

// AnswerProblem is what is wrong with one answer.
type AnswerProblem int

const (
	AnswerMissing  AnswerProblem = iota + 1 // nothing but spaces
	AnswerTooShort                          // fewer than MinAnswerLen characters
	AnswerTooLong                           // more than MaxAnswerLen characters
	AnswerRepeated                          // the same as another answer, once normalised
)

func (p AnswerProblem) String() string {
	switch p {
	case AnswerMissing:
		return "no answer"
	case AnswerTooShort:
		return fmt.Sprintf("fewer than %d characters", MinAnswerLen)
	case AnswerTooLong:
		return fmt.Sprintf("more than %d characters", MaxAnswerLen)
	case AnswerRepeated:
		return "the same as another answer"
	}
	return fmt.Sprintf("AnswerProblem(%d)", int(p))
}

// AnswerIssue is the problem with the answer at Index (0-based, in the
// order the answers were given).
type AnswerIssue struct {
	Index   int
	Problem AnswerProblem
	// SameAs is, for AnswerRepeated, the index of the first other answer
	// it equals.
	SameAs int
}

// AnswersError lists every answer that breaks the rules, so that each
// field can say what is wrong with it rather than only the first. It
// matches ErrQuestions, and never holds the answers themselves: it is
// logged.
type AnswersError struct {
	Issues []AnswerIssue // in order of Index
}

func (e *AnswersError) Error() string {
	parts := make([]string, len(e.Issues))
	for i, is := range e.Issues {
		parts[i] = fmt.Sprintf("answer %d: %v", is.Index+1, is.Problem)
		if is.Problem == AnswerRepeated {
			parts[i] += fmt.Sprintf(" (%d)", is.SameAs+1)
		}
	}
	return fmt.Sprintf("%v: %s", ErrQuestions, strings.Join(parts, "; "))
}

func (e *AnswersError) Unwrap() error { return ErrQuestions }

// Issue returns the problem with answer i, if it has one.
func (e *AnswersError) Issue(i int) (AnswerIssue, bool) {
	for _, is := range e.Issues {
		if is.Index == i {
			return is, true
		}
	}
	return AnswerIssue{}, false
}

// CheckAnswers applies the answer rules to answers as typed: each at least
// MinAnswerLen characters once normalised, at most MaxAnswerLen as typed,
// and no two the same once normalised. normalise must be the normalisation
// the answers are hashed with (secret.NormaliseAnswer, which domain cannot
// import), so that two answers an unlock would take as the same are never
// registered as different. The error is an *AnswersError, or nil.
func CheckAnswers(answers []string, normalise func(string) string) error {
	norm := make([]string, len(answers))
	for i, a := range answers {
		norm[i] = normalise(a)
	}
	var issues []AnswerIssue
	for i, a := range answers {
		n := utf8.RuneCountInString(norm[i])
		switch {
		case n == 0:
			issues = append(issues, AnswerIssue{Index: i, Problem: AnswerMissing})
			continue
		case n < MinAnswerLen:
			issues = append(issues, AnswerIssue{Index: i, Problem: AnswerTooShort})
			continue
		case utf8.RuneCountInString(a) > MaxAnswerLen:
			issues = append(issues, AnswerIssue{Index: i, Problem: AnswerTooLong})
			continue
		}
		// Every answer of a repeated pair is marked, so each field says
		// which other it repeats.
		for j := range answers {
			if j != i && norm[j] == norm[i] {
				issues = append(issues, AnswerIssue{Index: i, Problem: AnswerRepeated, SameAs: j})
				break
			}
		}
	}
	if len(issues) > 0 {
		return &AnswersError{Issues: issues}
	}
	return nil
}

package domain

import (
	"fmt"
	"time"
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

package domain

import (
	"fmt"
	"math/bits"
	"slices"
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

// MinDrawn and MaxDrawn bound how many of the holder's questions an
// unlock asks (seed 004: "2-4 security questions").
const (
	MinDrawn = 2
	MaxDrawn = 4
)

// Answer is a question with the argon2id hash of its normalised answer
// alone: how registrations made before answer sets hold their answers.
type Answer struct {
	Question QuestionID
	Hash     string
}

// AnswerSet is the argon2id hash of the answers to Questions (ascending)
// together. A registration holds one for every set of its questions an
// unlock may ask (DrawableSets), so an unlock checks its answers with one
// argon2id computation, not one per answer, and a stolen database gives
// no answer that can be guessed on its own.
type AnswerSet struct {
	Questions []QuestionID
	Hash      string
}

// Registration is a user's enrolment in the Smartcard Unlock Service.
// Its answers are either Sets (registrations since answer sets) or
// Answers (one hash per answer, earlier ones), never both.
type Registration struct {
	UserID         UserID
	Email          string
	Answers        []Answer
	Sets           []AnswerSet
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
	Sets      []AnswerSet
	CreatedAt time.Time
}

// Questions are the registration's questions: those of its answer sets
// (ascending), or of its answers (in order).
func (r Registration) Questions() []QuestionID { return questionsOf(r.Answers, r.Sets) }

func questionsOf(answers []Answer, sets []AnswerSet) []QuestionID {
	var qs []QuestionID
	for _, a := range answers {
		qs = append(qs, a.Question)
	}
	for _, s := range sets {
		qs = append(qs, s.Questions...)
	}
	if len(sets) > 0 {
		slices.Sort(qs)
		qs = slices.Compact(qs)
	}
	return qs
}

// ValidateQuestions checks that exactly 4 distinct known questions are
// chosen.
func ValidateQuestions(qs []QuestionID) error {
	if len(qs) != QuestionsPerUser {
		return fmt.Errorf("%w: need %d questions, got %d", ErrQuestions, QuestionsPerUser, len(qs))
	}
	seen := map[QuestionID]bool{}
	for _, q := range qs {
		if _, err := QuestionText(q); err != nil {
			return err
		}
		if seen[q] {
			return fmt.Errorf("%w: question %d chosen twice", ErrQuestions, q)
		}
		seen[q] = true
	}
	return nil
}

// ValidateAnswers checks stored answers, either form: 4 distinct known
// questions, each answer hashed; answer sets, one for every set an unlock
// may ask and no other, so that no draw finds its set missing.
func ValidateAnswers(answers []Answer, sets []AnswerSet) error {
	if len(answers) > 0 && len(sets) > 0 {
		return fmt.Errorf("%w: both answers and answer sets", ErrQuestions)
	}
	qs := questionsOf(answers, sets)
	if err := ValidateQuestions(qs); err != nil {
		return err
	}
	for _, a := range answers {
		if a.Hash == "" {
			return fmt.Errorf("%w: question %d has no answer", ErrQuestions, a.Question)
		}
	}
	if len(sets) == 0 {
		return nil
	}
	want := DrawableSets(qs)
	if len(sets) != len(want) {
		return fmt.Errorf("%w: %d answer sets, want %d", ErrQuestions, len(sets), len(want))
	}
	for _, w := range want {
		if i := FindSet(sets, w); i < 0 || sets[i].Hash == "" {
			return fmt.Errorf("%w: no answer set for questions %v", ErrQuestions, w)
		}
	}
	return nil
}

// DrawableSets lists every set of qs an unlock may ask, MinDrawn to
// MaxDrawn of them, each ascending: of 4 questions, 6 pairs, 4 threes and
// the 4.
func DrawableSets(qs []QuestionID) [][]QuestionID {
	qs = slices.Sorted(slices.Values(qs))
	var out [][]QuestionID
	for mask := 1; mask < 1<<len(qs); mask++ {
		if n := bits.OnesCount(uint(mask)); n < MinDrawn || n > MaxDrawn {
			continue
		}
		var set []QuestionID
		for i, q := range qs {
			if mask&(1<<i) != 0 {
				set = append(set, q)
			}
		}
		out = append(out, set)
	}
	slices.SortFunc(out, func(a, b []QuestionID) int {
		if len(a) != len(b) {
			return len(a) - len(b)
		}
		return slices.Compare(a, b)
	})
	return out
}

// FindSet returns the index of the set of exactly the questions qs (in
// any order) in sets, or -1.
func FindSet(sets []AnswerSet, qs []QuestionID) int {
	want := slices.Sorted(slices.Values(qs))
	return slices.IndexFunc(sets, func(s AnswerSet) bool { return slices.Equal(s.Questions, want) })
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

package secret

import (
	"bytes"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/smartcard-service-centre/kiosk/domain"
)

var setAnswers = map[domain.QuestionID]string{3: "Smith", 7: "Edinburgh", 12: "Rex", 19: "St Mary's"}

// TestAnswerSets: a registration's sets are every set an unlock may ask,
// each with its own salt; each verifies with its own answers as people
// type them, and not with one wrong, blank or from another question.
func TestAnswerSets(t *testing.T) {
	sets, err := HashAnswerSets(cheap, setAnswers, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := domain.ValidateAnswers(nil, sets); err != nil {
		t.Fatalf("the sets made are not a registration's: %v", err)
	}
	salts := map[string]bool{}
	for _, set := range sets {
		_, salt, _, err := parseHash(set.Hash)
		if err != nil {
			t.Fatal(err)
		}
		salts[string(salt)] = true
		typed := map[domain.QuestionID]string{}
		for _, q := range set.Questions {
			typed[q] = "  " + strings.ToUpper(setAnswers[q]) + " " // as typed
		}
		if ok, err := VerifyAnswerSet(cheap, set, typed); err != nil || !ok {
			t.Errorf("set %v, right answers: %v, %v", set.Questions, ok, err)
		}
		for _, q := range set.Questions {
			cases := map[string]string{"wrong": "Jones", "blank": "   "}
			for other := range setAnswers {
				if !slices.Contains(set.Questions, other) {
					cases["another question's"] = setAnswers[other]
				}
			}
			for name, wrong := range cases {
				bad := maps.Clone(typed)
				bad[q] = wrong
				if ok, err := VerifyAnswerSet(cheap, set, bad); err != nil || ok {
					t.Errorf("set %v, %s answer to %d: %v, %v", set.Questions, name, q, ok, err)
				}
			}
		}
		// Answers swapped between two questions are wrong too.
		swapped := maps.Clone(typed)
		a, b := set.Questions[0], set.Questions[1]
		swapped[a], swapped[b] = typed[b], typed[a]
		if ok, _ := VerifyAnswerSet(cheap, set, swapped); ok {
			t.Errorf("set %v: answers swapped between %d and %d accepted", set.Questions, a, b)
		}
		// A set's questions must all be answered: the caller asked them.
		missing := maps.Clone(typed)
		delete(missing, a)
		if _, err := VerifyAnswerSet(cheap, set, missing); err == nil {
			t.Errorf("set %v: no answer to %d accepted", set.Questions, a)
		}
	}
	if len(salts) != len(sets) {
		t.Errorf("%d salts for %d sets: each needs its own", len(salts), len(sets))
	}
}

// TestAnswerSetInputIsUnambiguous: where one answer ends and the next
// starts is part of the input, and so is which question each answers.
func TestAnswerSetInputIsUnambiguous(t *testing.T) {
	qs := []domain.QuestionID{1, 2}
	inputs := [][]byte{}
	for _, answers := range []map[domain.QuestionID]string{
		{1: "abc", 2: "def"},
		{1: "ab", 2: "cdef"},
		{1: "abcd", 2: "ef"},
		{1: "def", 2: "abc"},
	} {
		in, ok := answerSetInput(qs, answers)
		if !ok {
			t.Fatal("no input")
		}
		inputs = append(inputs, in)
	}
	other, _ := answerSetInput([]domain.QuestionID{1, 3}, map[domain.QuestionID]string{1: "abc", 3: "def"})
	inputs = append(inputs, other)
	for i := range inputs {
		for j := range i {
			if bytes.Equal(inputs[i], inputs[j]) {
				t.Errorf("inputs %d and %d are the same: %q", i, j, inputs[i])
			}
		}
	}
	// Never a single answer's input: the label comes first.
	single, _ := answerSetInput([]domain.QuestionID{1}, map[domain.QuestionID]string{1: "abc"})
	if !bytes.HasPrefix(single, []byte(answerSetLabel)) {
		t.Errorf("input %q lacks the label", single)
	}
}

// TestAnswerSetRefusesWeakHash: a set hash cheaper than the minimum is
// refused, not checked, as a single answer's is; a malformed one too.
func TestAnswerSetRefusesWeakHash(t *testing.T) {
	sets, err := HashAnswerSets(cheap, setAnswers, nil)
	if err != nil {
		t.Fatal(err)
	}
	stronger := cheap
	stronger.Memory *= 2
	if _, err := VerifyAnswerSet(stronger, sets[0], setAnswers); !errors.Is(err, ErrWeakHash) {
		t.Errorf("weak set hash: %v, want ErrWeakHash", err)
	}
	bad := sets[0]
	bad.Hash = "$argon2id$v=19$m=64,t=1,p=1$bm90$"
	if _, err := VerifyAnswerSet(cheap, bad, setAnswers); !errors.Is(err, ErrMalformedHash) {
		t.Errorf("malformed set hash: %v, want ErrMalformedHash", err)
	}
	if _, err := HashAnswerSets(cheap, map[domain.QuestionID]string{1: "abc", 2: " ", 3: "ghi", 4: "jkl"}, nil); err == nil {
		t.Error("a blank answer was hashed")
	}
}

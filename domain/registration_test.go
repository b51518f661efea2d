package domain_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/secret"
)

func TestCheckAnswers(t *testing.T) {
	long := strings.Repeat("x", domain.MaxAnswerLen)
	type issue = domain.AnswerIssue
	tests := []struct {
		name    string
		answers []string
		want    []issue // nil: accepted
	}{
		{"fine", []string{"Smith", "Edinburgh", "Rex", "St Marys"}, nil},
		{"three characters and the longest", []string{"Rex", long, "Ann", "Bob"}, nil},
		{"too short three times", []string{"aa", "aa", "Rex", "aa"}, []issue{
			{Index: 0, Problem: domain.AnswerTooShort}, {Index: 1, Problem: domain.AnswerTooShort},
			{Index: 3, Problem: domain.AnswerTooShort}}},
		// Counted once normalised: spaces round a short answer do not help.
		{"short once normalised", []string{"  a  ", "Smith", "Rex", "Leeds"}, []issue{
			{Index: 0, Problem: domain.AnswerTooShort}}},
		{"missing", []string{"Smith", "   ", "", "Leeds"}, []issue{
			{Index: 1, Problem: domain.AnswerMissing}, {Index: 2, Problem: domain.AnswerMissing}}},
		{"too long", []string{"Smith", long + "y", "Rex", strings.Repeat("z", 500)}, []issue{
			{Index: 1, Problem: domain.AnswerTooLong}, {Index: 3, Problem: domain.AnswerTooLong}}},
		// The same once normalised (case, spaces, compatibility forms) is
		// the same answer at an unlock, so it is refused here.
		{"repeated", []string{"Rex", "Smith", " REX ", "rex"}, []issue{
			{Index: 0, Problem: domain.AnswerRepeated, SameAs: 2}, {Index: 2, Problem: domain.AnswerRepeated, SameAs: 0},
			{Index: 3, Problem: domain.AnswerRepeated, SameAs: 0}}},
		{"repeated after folding", []string{"Straße", "STRASSE", "\ufb01at", "fiat"}, []issue{
			{Index: 0, Problem: domain.AnswerRepeated, SameAs: 1}, {Index: 1, Problem: domain.AnswerRepeated, SameAs: 0},
			{Index: 2, Problem: domain.AnswerRepeated, SameAs: 3}, {Index: 3, Problem: domain.AnswerRepeated, SameAs: 2}}},
		{"every problem at once", []string{"aa", "", "Smith", "smith"}, []issue{
			{Index: 0, Problem: domain.AnswerTooShort}, {Index: 1, Problem: domain.AnswerMissing},
			{Index: 2, Problem: domain.AnswerRepeated, SameAs: 3}, {Index: 3, Problem: domain.AnswerRepeated, SameAs: 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := domain.CheckAnswers(tt.answers, secret.NormaliseAnswer)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ae *domain.AnswersError
			if !errors.As(err, &ae) || !errors.Is(err, domain.ErrQuestions) {
				t.Fatalf("err = %v, want an *AnswersError matching ErrQuestions", err)
			}
			if !reflect.DeepEqual(ae.Issues, tt.want) {
				t.Fatalf("issues = %+v, want %+v", ae.Issues, tt.want)
			}
			for _, w := range tt.want {
				if got, ok := ae.Issue(w.Index); !ok || got != w {
					t.Errorf("Issue(%d) = %+v, %v", w.Index, got, ok)
				}
			}
			// The error is logged: it must not carry what was typed.
			for _, a := range tt.answers {
				if n := strings.TrimSpace(a); len(n) >= 2 && strings.Contains(strings.ToLower(err.Error()), strings.ToLower(n)) {
					t.Errorf("error %q holds the answer %q", err, a)
				}
			}
		})
	}
}

func TestAnswersErrorWords(t *testing.T) {
	err := &domain.AnswersError{Issues: []domain.AnswerIssue{
		{Index: 0, Problem: domain.AnswerTooShort}, {Index: 2, Problem: domain.AnswerRepeated, SameAs: 3},
	}}
	want := "security questions are not valid: answer 1: fewer than 3 characters; answer 3: the same as another answer (4)"
	if err.Error() != want {
		t.Fatalf("Error() = %q, want %q", err.Error(), want)
	}
	if _, ok := err.Issue(1); ok {
		t.Fatal("Issue(1) found for an answer without one")
	}
}

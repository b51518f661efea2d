package selfservice_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/selfservice"
	"github.com/smartcard-service-centre/kiosk/internal/sstest"
)

// The answer rules are the domain's: a registration that breaks them is
// refused with every broken answer listed, before anything is stored or
// mailed, whatever the screens checked first.
func TestRegistrationRefusesWeakAnswers(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	card := f.enrol(t, sstest.Holder{})
	sess := f.identify(t, card)
	noErr(t, f.svc.SignIn(ctx, sess, card, "2580"))
	before := len(f.mails(t, 50))

	long := strings.Repeat("q", domain.MaxAnswerLen+1)
	tests := []struct {
		name    string
		answers [4]string
		want    []domain.AnswerIssue
	}{
		{"too short", [4]string{"aa", "aa", "Leeds", "aa"}, []domain.AnswerIssue{
			{Index: 0, Problem: domain.AnswerTooShort}, {Index: 1, Problem: domain.AnswerTooShort},
			{Index: 3, Problem: domain.AnswerTooShort}}},
		{"too long", [4]string{"Smith", long, "Leeds", strings.Repeat("r", 500)}, []domain.AnswerIssue{
			{Index: 1, Problem: domain.AnswerTooLong}, {Index: 3, Problem: domain.AnswerTooLong}}},
		{"the same once normalised", [4]string{"Rex", "Smith", "  rex", "Leeds"}, []domain.AnswerIssue{
			{Index: 0, Problem: domain.AnswerRepeated, SameAs: 2}, {Index: 2, Problem: domain.AnswerRepeated, SameAs: 0}}},
	}
	ids := []domain.QuestionID{5, 6, 12, 3}
	for _, tt := range tests {
		qas := make([]selfservice.QuestionAnswer, 4)
		for i, a := range tt.answers {
			qas[i] = selfservice.QuestionAnswer{Question: ids[i], Answer: a}
		}
		for what, err := range map[string]error{
			"check": selfservice.CheckAnswers(qas),
			"start": func() error { _, err := f.svc.StartRegistration(ctx, sess, qas, "amara@nhs.net"); return err }(),
		} {
			var ae *domain.AnswersError
			if !errors.As(err, &ae) || !errors.Is(err, domain.ErrQuestions) {
				t.Fatalf("%s: %s: %v, want an *AnswersError", tt.name, what, err)
			}
			if !reflect.DeepEqual(ae.Issues, tt.want) {
				t.Errorf("%s: %s: issues %+v, want %+v", tt.name, what, ae.Issues, tt.want)
			}
		}
	}
	if n := len(f.mails(t, 50)); n != before {
		t.Fatalf("%d emails sent for refused registrations", n-before)
	}
	if _, err := f.store.GetPendingRegistration(ctx, "555001799894"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("a refused registration was kept: %v", err)
	}
	if sess.Step() != selfservice.StepSignedIn {
		t.Fatalf("step %v after refusals, want still signed in", sess.Step())
	}
	good := []selfservice.QuestionAnswer{{5, "Lagos"}, {6, "Fiat"}, {12, "Ward clerk"}, {3, "Biscuit"}}
	if err := selfservice.CheckAnswers(good); err != nil {
		t.Fatalf("good answers refused: %v", err)
	}
	if _, err := f.svc.StartRegistration(ctx, sess, good, "amara@nhs.net"); err != nil {
		t.Fatalf("good answers refused: %v", err)
	}
}

// The registered address in full is for the signed-in holder only.
func TestRegisteredEmail(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	card := f.enrol(t, sstest.Holder{Email: "Test.Person@nhs.net", Answers: answers})
	sess := f.identify(t, card)
	if got, err := f.svc.RegisteredEmail(sess); !errors.Is(err, selfservice.ErrOutOfTurn) || got != "" {
		t.Fatalf("before sign-in: %q, %v", got, err)
	}
	noErr(t, f.svc.SignIn(ctx, sess, card, "2580"))
	if got, err := f.svc.RegisteredEmail(sess); err != nil || got != "Test.Person@nhs.net" {
		t.Fatalf("signed in: %q, %v", got, err)
	}
	sess.End()
	if got, err := f.svc.RegisteredEmail(sess); !errors.Is(err, selfservice.ErrOutOfTurn) || got != "" {
		t.Fatalf("after the visit: %q, %v", got, err)
	}

	// Not registered: nothing to prefill.
	other := f.enrol(t, sstest.Holder{ID: "555000000011", Serial: "4082A00100000011"})
	sess = f.identify(t, other)
	noErr(t, f.svc.SignIn(ctx, sess, other, "2580"))
	if got, err := f.svc.RegisteredEmail(sess); err != nil || got != "" {
		t.Fatalf("not registered: %q, %v", got, err)
	}
}

package tui_test

import (
	"strings"
	"testing"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/secret"
	"github.com/smartcard-service-centre/kiosk/internal/sstest"
)

// Issue 11, "Registration that cannot trap its owner": answers that break
// the rules are each marked, the answers and address are reviewed before
// the code is sent, and registering again starts from the registered
// address.

// toAnswers signs in to My Profile with card and opens the answer form
// for the first four questions.
func (k *kiosk) toAnswers(card *sstest.Card, pin string) {
	k.t.Helper()
	signIn(k.t, k, card, pin)
	k.press("enter")
	k.waitFor("Register for Smartcard Unlock", "Continue")
	k.press("enter")
	k.waitFor("Chosen: 0 of 4")
	k.press("space", "down", "space", "down", "space", "down", "space", "enter")
	k.waitFor("Answer your security questions")
}

// typeAnswers types each answer and presses Enter after it.
func (k *kiosk) typeAnswers(answers ...string) {
	for _, a := range answers {
		k.typeText(a)
		k.press("enter")
	}
}

// question returns the text of question id, as numbered on the form.
func question(t *testing.T, n int, id domain.QuestionID) string {
	t.Helper()
	text, err := domain.QuestionText(id)
	if err != nil {
		t.Fatal(err)
	}
	return string(rune('0'+n)) + ". " + text
}

// inOrder fails unless the texts appear in s in the order given.
func inOrder(t *testing.T, s string, texts ...string) {
	t.Helper()
	at := 0
	for _, x := range texts {
		i := strings.Index(s[at:], x)
		if i < 0 {
			t.Fatalf("%q not found (in order) in:\n%s", x, s)
		}
		at += i + len(x)
	}
}

// noAnswersLogged fails if the kiosk's log holds any of the answers.
func noAnswersLogged(k *kiosk, answers ...string) {
	k.t.Helper()
	log := strings.ToLower(k.logText())
	for _, a := range answers {
		if strings.Contains(log, strings.ToLower(a)) {
			k.t.Fatalf("the answer %q is in the log:\n%s", a, k.logText())
		}
	}
}

// Answers too short, missing or the same as another are each marked
// under their own field, all at once; the form does not go on until all
// are right.
func TestRegisterAnswerRules(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := unblocked()
	card := fx.add(p)
	k := fx.start(100, 44)
	k.toAnswers(card, p.PIN)

	short := "Please give an answer of at least 3 characters."
	k.typeAnswers("aa", "aa", "Leeds", "  a ")
	s := flat(k.waitFor("Answers 1, 2 and 4 need changing: see the message under each."))
	inOrder(t, s, question(t, 1, 1), short, question(t, 2, 2), short, question(t, 3, 3), question(t, 4, 4), short)
	if n := strings.Count(s, short); n != 3 {
		t.Fatalf("%d too-short messages, want 3 (one under each short answer):\n%s", n, s)
	}
	if strings.Contains(s, "Confirm your email address") {
		t.Fatalf("went on with answers that break the rules:\n%s", s)
	}

	// The cursor is on the first answer to change. Fix the first two so
	// that they repeat each other and the third (capitals and spaces do
	// not count), and leave the fourth empty.
	k.press("ctrl+u")
	k.typeText("Leeds")
	k.press("tab", "ctrl+u")
	k.typeText(" LEEDS ")
	k.press("tab", "tab", "ctrl+u", "enter")
	s = flat(k.waitFor("Answers 1, 2, 3 and 4 need changing"))
	inOrder(t, s,
		question(t, 1, 1), "The same as answer 2: give each question a different answer.",
		question(t, 2, 2), "The same as answer 1: give each question a different answer.",
		question(t, 3, 3), "The same as answer 1: give each question a different answer.",
		question(t, 4, 4), "Please answer this question.")
	if strings.Contains(s, short) {
		t.Fatalf("an old message stayed after its answer was changed:\n%s", s)
	}

	// Typing into an answer takes its message away; the others stay.
	// The cursor is on the first to change again.
	k.press("ctrl+u")
	k.typeText("Smith")
	s = flat(k.waitFor("Answers 2, 3 and 4 need changing"))
	if strings.Count(s, "The same as answer") != 2 {
		t.Fatalf("want the messages under answers 2 and 3 only:\n%s", s)
	}
	k.press("tab", "ctrl+u")
	k.typeText("Rex")
	k.press("tab", "tab")
	k.typeText("Elm Road")
	k.press("enter")
	k.waitFor("Confirm your email address")
	noAnswersLogged(k, "Leeds", "Smith", "Elm Road")
}

// The answer field stops taking characters at the most an answer may
// have, 64: the rest of a longer one is not typed at all.
func TestRegisterAnswerStopsAtTheLimit(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := unblocked()
	card := fx.add(p)
	k := fx.start(100, 44)
	k.toAnswers(card, p.PIN)

	long := strings.Repeat("abcdefghi-", 7) // 70 characters
	k.typeText(long)
	k.press("enter")
	k.typeAnswers("Rex", "Leeds", "Elm Road")
	k.waitFor("Confirm your email address")
	k.press("enter") // the registered address, filled in
	k.waitFor("Check your details")
	k.press("ctrl+t")
	s := flat(k.waitFor(long[:domain.MaxAnswerLen]))
	if strings.Contains(s, long[:domain.MaxAnswerLen+1]) {
		t.Fatalf("the answer field took more than %d characters:\n%s", domain.MaxAnswerLen, s)
	}
}

// The review lists each question with its answer masked until the holder
// shows them, offers each answer to change, and only then sends the
// code; it fits the kiosk's smallest screen, 80×24.
func TestRegisterReview(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := unblocked()
	card := fx.add(p)
	k := fx.start(80, 24)
	k.toAnswers(card, p.PIN)
	k.typeAnswers("Smith", "Edinburgh", "Rexx", "St Marys")
	k.waitFor("Confirm your email address")
	k.press("enter")

	s := k.waitFor("Check your details", "Email address", "test.person@nhs.net", "Send code",
		"ctrl+t show/hide answers", "enter send code", "esc back")
	inOrder(t, flat(s), question(t, 1, 1), "•••••", question(t, 2, 2), "•••••••••",
		question(t, 3, 3), "••••", question(t, 4, 4), "••••••••", "Email address", "Send code")
	for _, a := range []string{"Smith", "Edinburgh", "Rexx", "St Marys"} {
		if strings.Contains(s, a) {
			t.Fatalf("answer %q shown before the holder asked:\n%s", a, s)
		}
	}

	// Shown and hidden again with one key.
	k.press("ctrl+t")
	k.waitFor("Smith", "Edinburgh", "Rexx", "St Marys")
	k.press("ctrl+t")
	k.waitGone("Rexx")

	// The third answer has a typing error: choose it and change it. The
	// form goes straight back to the review.
	k.press("up")
	k.waitFor("enter change address")
	k.press("up", "up")
	k.waitFor("enter change answer")
	k.press("enter")
	k.waitFor("Answer your security questions")
	k.press("ctrl+t")
	k.waitFor("Rexx")
	k.press("ctrl+u")
	k.typeText("Rex")
	k.press("enter", "enter")
	k.waitFor("Check your details", "enter send code")
	k.press("ctrl+t")
	s = k.waitFor("Rex", "St Marys")
	if strings.Contains(s, "Rexx") {
		t.Fatalf("the review shows the old answer:\n%s", s)
	}

	// Back goes to the email step, the address kept.
	k.press("esc")
	k.waitFor("Confirm your email address", "test.person@nhs.net")
	k.press("enter")
	k.waitFor("Check your details")
	k.press("enter")
	s = k.waitFor("Registration Code", "t•••@nhs.net")
	if strings.Contains(s, "test.person@nhs.net") {
		t.Fatalf("the code screen shows the address in full:\n%s", s)
	}
	k.typeText(fx.latestCode("Smartcard Unlock Service Registration Code"))
	k.press("enter")
	k.waitFor("Registration complete")

	reg, err := fx.store.GetRegistration(t.Context(), p.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := map[domain.QuestionID]string{1: "smith", 2: "EDINBURGH", 3: "rex", 4: "st marys"}
	for _, a := range reg.Answers {
		if ok, err := secret.VerifyAnswer(cheapArgon2, a.Hash, want[a.Question]); err != nil || !ok {
			t.Errorf("question %d: the stored answer is not %q (%v)", a.Question, want[a.Question], err)
		}
	}
	noAnswersLogged(k, "Smith", "Edinburgh", "Rexx", "St Marys")
}

// Registering again starts from the registered address, shown in full to
// the signed-in holder; a new address is shown in full for confirmation
// before the code is sent, and masked everywhere after.
func TestRegisterEmailPrefilledAndConfirmed(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := unblocked()
	card := fx.add(p)
	k := fx.start(100, 44)
	k.toAnswers(card, p.PIN)
	k.typeAnswers("Smith", "Edinburgh", "Rex", "St Marys")
	k.waitFor("Confirm your email address", "This is the email address you registered.",
		"test.person@nhs.net", "Approved email provider")

	k.press("ctrl+u")
	k.waitGone("test.person@nhs.net")
	k.typeText("T.Person@Trust.NHS.uk")
	k.press("enter")
	s := k.waitFor("Check your details", "Email address", "T.Person@trust.nhs.uk", "Send code")
	if strings.Contains(s, "test.person@nhs.net") {
		t.Fatalf("the review shows the old address:\n%s", s)
	}
	// The address, too, can be changed from the review.
	k.press("up")
	k.waitFor("enter change address")
	k.press("enter")
	k.waitFor("Confirm your email address", "T.Person@Trust.NHS.uk")
	k.press("enter")
	k.waitFor("Check your details")
	k.press("enter")
	s = k.waitFor("Registration Code", "We are sending a Registration Code to T•••@trust.nhs.uk.")
	if strings.Contains(strings.ToLower(s), "t.person@trust.nhs.uk") {
		t.Fatalf("the code screen shows the address in full:\n%s", s)
	}
	// My Profile keeps showing the registered address masked.
	k.press("esc")
	s = k.waitFor("Smartcard Unlock Registered (t•••@nhs.net)")
	if strings.Contains(s, "test.person@nhs.net") {
		t.Fatalf("My Profile shows the address in full:\n%s", s)
	}
}

// A first registration has no address to start from.
func TestRegisterEmailEmptyWhenNotRegistered(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := unblocked()
	p.Email, p.Answers = "", nil
	card := fx.add(p)
	k := fx.start(100, 44)
	k.toAnswers(card, p.PIN)
	k.typeAnswers("Smith", "Edinburgh", "Rex", "St Marys")
	s := k.waitFor("Confirm your email address", "Enter the email address")
	if strings.Contains(s, "@") || strings.Contains(s, "you registered") {
		t.Fatalf("an address offered to a holder who never registered one:\n%s", s)
	}
	k.press("enter")
	k.waitFor("That is not a valid email address.")
	k.typeText("grace.hughes@nhs.net")
	k.press("enter")
	k.waitFor("Check your details", "grace.hughes@nhs.net")
}

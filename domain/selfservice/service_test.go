package selfservice_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"errors"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/secret"
	"github.com/smartcard-service-centre/kiosk/domain/selfservice"
	"github.com/smartcard-service-centre/kiosk/internal/sstest"
	"github.com/smartcard-service-centre/kiosk/storage/sqlite"
)

// cheap keeps argon2id fast in tests; production uses secret.DefaultArgon2.
var cheap = secret.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

type fixture struct {
	svc   *selfservice.Service
	store domain.Store
	keys  *secret.Keys
	ca    domain.CertificateAuthority
	clock *sstest.Clock
}

var answers = map[domain.QuestionID]string{1: "Smith", 2: "Edinburgh", 3: "Rex", 4: "St Marys"}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := t.Context()
	keys, err := secret.NewKeys(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "kiosk.db"), sqlite.WithAuditChain(keys))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{store: st, keys: keys, ca: sstest.NewCA(t), clock: sstest.NewClock(time.Now().UTC())}
	f.svc = f.serviceOn(st)
	return f
}

// serviceOn is the fixture's service over st (the fixture's store, or
// one wrapped around it).
func (f *fixture) serviceOn(st domain.Store) *selfservice.Service {
	return selfservice.New(selfservice.Config{Store: st, Keys: f.keys, CA: f.ca, Clock: f.clock, Argon2: cheap, Terminal: "test"})
}

// registerPerAnswer stores the enrolled holder's registration as one
// made before answer sets holds it: each answer hashed alone with p.
func (f *fixture) registerPerAnswer(t *testing.T, p secret.Argon2Params) {
	t.Helper()
	reg := f.registration(t, "555001799894")
	reg.Sets = nil
	for _, q := range []domain.QuestionID{3, 1, 4, 2} {
		h, err := secret.HashAnswer(p, answers[q], nil)
		noErr(t, err)
		reg.Answers = append(reg.Answers, domain.Answer{Question: q, Hash: h})
	}
	noErr(t, f.store.PutRegistration(t.Context(), reg))
}

func (f *fixture) enrol(t *testing.T, h sstest.Holder) *sstest.Card {
	t.Helper()
	if h.ID == "" {
		h.ID = "555001799894"
	}
	if h.Serial == "" {
		h.Serial = "4082A001132F2817"
	}
	if h.Email == "" {
		h.Email = "test.person@nhs.net"
	}
	h.Given, h.Family = "Test", "Person"
	if h.PIN == "" {
		h.PIN = "2580"
	}
	h.PUK = "87654321"
	h.HashAnswers = func(a map[domain.QuestionID]string) ([]domain.AnswerSet, error) {
		return secret.HashAnswerSets(cheap, a, nil)
	}
	h.Seal = func(serial domain.CardSerial, puk, mk []byte) (domain.CardSecrets, error) {
		return f.keys.SealCard(serial, puk, "AES256", mk, f.clock.Now())
	}
	c, err := sstest.Enrol(t.Context(), f.store, f.ca, h)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var sixDigits = regexp.MustCompile(`\b\d{6}\b`)

// lastCode reads the newest code mailed to the holder from the outbox.
func (f *fixture) lastCode(t *testing.T, subject string) string {
	t.Helper()
	for _, m := range f.mails(t, 10) {
		if m.Subject == subject {
			return sixDigits.FindString(m.Body)
		}
	}
	t.Fatalf("no mail %q in the outbox", subject)
	return ""
}

// The helpers below fail the test when a step on the way to what a test
// checks fails, so that none can fail unseen.

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) identify(t *testing.T, card domain.Card) *selfservice.Session {
	t.Helper()
	sess, err := f.svc.Identify(t.Context(), card)
	noErr(t, err)
	return sess
}

// answerRight starts an unlock and answers its questions right, which
// mails the unlock code.
func (f *fixture) answerRight(t *testing.T, sess *selfservice.Session) {
	t.Helper()
	_, err := f.svc.StartUnlock(t.Context(), sess)
	noErr(t, err)
	_, err = f.svc.AnswerQuestions(t.Context(), sess, answerAll(sess, true))
	noErr(t, err)
}

// mails lists the newest n mails in the outbox, their sealed bodies
// opened as the sender opens them.
func (f *fixture) mails(t *testing.T, n int) []domain.Mail {
	t.Helper()
	mails, err := f.store.ListMail(t.Context(), n)
	noErr(t, err)
	for i, m := range mails {
		mails[i], err = f.keys.OpenMail(m)
		noErr(t, err)
	}
	return mails
}

func (f *fixture) auditLog(t *testing.T) []domain.AuditEvent {
	t.Helper()
	ev, err := f.store.ListAudit(t.Context(), domain.AuditFilter{})
	noErr(t, err)
	return ev
}

// answersRefusedAudited checks that the newest audit row is a refused
// answer check whose detail says why.
func (f *fixture) answersRefusedAudited(t *testing.T, why string) {
	t.Helper()
	ev := f.auditLog(t)
	if ev[0].Action != domain.AuditQuestionsAnswered || ev[0].Outcome != domain.OutcomeFailure || !strings.Contains(ev[0].Detail, why) {
		t.Fatalf("newest audit row %+v, want the answers refused (%q)", ev[0], why)
	}
}

func (f *fixture) registration(t *testing.T, id domain.UserID) domain.Registration {
	t.Helper()
	reg, err := f.store.GetRegistration(t.Context(), id)
	noErr(t, err)
	return reg
}

func (f *fixture) smartcard(t *testing.T, serial domain.CardSerial) domain.Smartcard {
	t.Helper()
	rec, err := f.store.GetSmartcard(t.Context(), serial)
	noErr(t, err)
	return rec
}

// answerAll answers the session's questions, right or wrong.
func answerAll(sess *selfservice.Session, right bool) []string {
	var out []string
	for _, q := range sess.Questions() {
		a := answers[q.ID]
		if !right {
			a = "wrong"
		}
		out = append(out, a)
	}
	return out
}

func TestUnlockHappyPath(t *testing.T) {
	f := newFixture(t)
	card := f.enrol(t, sstest.Holder{Blocked: true, Answers: answers})
	ctx := t.Context()
	sess, err := f.svc.Identify(ctx, card)
	if err != nil {
		t.Fatal(err)
	}
	h := f.svc.Holder(sess)
	if h.Name != "Mx Test Person" || !h.Registered || !h.Blocked || h.MaskedEmail != "t•••@nhs.net" {
		t.Fatalf("holder %+v", h)
	}
	qs, err := f.svc.StartUnlock(ctx, sess)
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) < 2 || len(qs) > 4 {
		t.Fatalf("%d questions, want 2–4", len(qs))
	}
	// Answers are compared normalised: case, spaces and width do not matter.
	in := answerAll(sess, true)
	in[0] = "  " + strings.ToUpper(in[0]) + " "
	masked, err := f.svc.AnswerQuestions(ctx, sess, in)
	if err != nil {
		t.Fatal(err)
	}
	if masked != "t•••@nhs.net" {
		t.Fatalf("masked email %q", masked)
	}
	code := f.lastCode(t, "Smartcard Unlock Code")
	mails := f.mails(t, 1)
	if !strings.Contains(mails[0].Body, "This code is valid for 15 minutes.") || mails[0].To != "test.person@nhs.net" {
		t.Fatalf("unlock mail: %+v", mails[0])
	}
	if !mails[0].NotAfter.Equal(f.clock.Now().Add(15 * time.Minute).Truncate(time.Microsecond)) {
		t.Fatalf("NotAfter %v", mails[0].NotAfter)
	}
	if err := f.svc.EnterUnlockCode(ctx, sess, code[:3]+" "+code[3:]); err != nil {
		t.Fatalf("code with a space: %v", err)
	}
	if err := f.svc.CompleteUnlock(ctx, sess, card, "1234", "1234"); !errors.Is(err, domain.ErrPasscodePolicy) {
		t.Fatalf("run 1234: %v", err)
	}
	if err := f.svc.CompleteUnlock(ctx, sess, card, "Kx9!a", "Kx9!b"); !errors.Is(err, domain.ErrPasscodePolicy) {
		t.Fatalf("mismatch: %v", err)
	}
	if err := f.svc.CompleteUnlock(ctx, sess, card, "Kx9!a", "Kx9!a"); err != nil {
		t.Fatal(err)
	}
	if !card.PINIs("Kx9!a") || card.PINTries != domain.PasscodeTries {
		t.Fatalf("card PIN not reset")
	}
	if h := f.svc.Holder(sess); h.Blocked || h.TriesLeft != domain.PasscodeTries {
		t.Fatalf("holder after the unlock: %+v", h)
	}
	if sess.Step() != selfservice.StepUnlocked {
		t.Fatalf("step %v", sess.Step())
	}
	if f.lastCode(t, "Your Smartcard has been unlocked") != "" {
		t.Fatal("notification carries a code")
	}
	// The code works once only.
	if err := f.svc.EnterUnlockCode(ctx, sess, code); !errors.Is(err, selfservice.ErrOutOfTurn) {
		t.Fatalf("second use: %v", err)
	}
	ev := f.auditLog(t)
	var unlocked bool
	for _, e := range ev {
		unlocked = unlocked || (e.Action == domain.AuditSelfUnlock && e.Outcome == domain.OutcomeSuccess)
	}
	if !unlocked {
		t.Fatal("no audit event for the unlock")
	}
}

func TestIdentifyRefusals(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	card := f.enrol(t, sstest.Holder{})
	unknown := sstest.NewCard("4082A00100000099", "1111", "2222")
	if _, err := f.svc.Identify(ctx, unknown); !errors.Is(err, domain.ErrCardNotFound) {
		t.Fatalf("unknown card: %v", err)
	}
	// Same serial, different key: a cloned serial is not genuine.
	clone := sstest.NewCard(card.Serial, "2580", "x")
	if _, err := f.svc.Identify(ctx, clone); !errors.Is(err, domain.ErrCardNotGenuine) {
		t.Fatalf("clone: %v", err)
	}
	cancelled := f.enrol(t, sstest.Holder{ID: "555000000079", Serial: "4082A00100000079", Cancelled: true})
	if _, err := f.svc.Identify(ctx, cancelled); !errors.Is(err, domain.ErrCardCancelled) {
		t.Fatalf("cancelled: %v", err)
	}
	card.SetRemoved(true)
	if _, err := f.svc.Identify(ctx, card); !errors.Is(err, domain.ErrCardRemoved) {
		t.Fatalf("removed: %v", err)
	}
	card.SetRemoved(false)
	sess, err := f.svc.Identify(ctx, card)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.StartUnlock(ctx, sess); !errors.Is(err, domain.ErrNotRegistered) {
		t.Fatalf("unregistered: %v", err)
	}
}

func TestWrongAnswersLockOut(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	card := f.enrol(t, sstest.Holder{Blocked: true, Answers: answers})
	sess, err := f.svc.Identify(ctx, card)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.StartUnlock(ctx, sess); err != nil {
		t.Fatal(err)
	}
	for left := 2; left >= 1; left-- {
		_, err := f.svc.AnswerQuestions(ctx, sess, answerAll(sess, false))
		var ae *selfservice.AnswerError
		if !errors.As(err, &ae) || ae.AttemptsLeft != left || !errors.Is(err, domain.ErrWrongAnswer) {
			t.Fatalf("attempt: %v, want %d left", err, left)
		}
	}
	if _, err := f.svc.AnswerQuestions(ctx, sess, answerAll(sess, false)); !errors.Is(err, domain.ErrLockedOut) {
		t.Fatalf("third: %v", err)
	}
	// Persisted: a new session (another kiosk) is refused too, even with right answers.
	sess2 := f.identify(t, card)
	if _, err := f.svc.StartUnlock(ctx, sess2); !errors.Is(err, domain.ErrLockedOut) {
		t.Fatalf("after lock-out: %v", err)
	}
	if mails := f.mails(t, 10); len(mails) != 0 {
		t.Fatalf("a code was mailed to a locked-out user")
	}
}

func TestCodeFailures(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	card := f.enrol(t, sstest.Holder{Blocked: true, Answers: answers})
	start := func() *selfservice.Session {
		sess, err := f.svc.Identify(ctx, card)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.StartUnlock(ctx, sess); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.AnswerQuestions(ctx, sess, answerAll(sess, true)); err != nil {
			t.Fatal(err)
		}
		return sess
	}
	sess := start()
	code := f.lastCode(t, "Smartcard Unlock Code")
	wrong := "000000"
	if wrong == code {
		wrong = "111111"
	}
	for left := 2; left >= 1; left-- {
		var ce *selfservice.CodeError
		if err := f.svc.EnterUnlockCode(ctx, sess, wrong); !errors.As(err, &ce) || ce.TriesLeft != left {
			t.Fatalf("wrong code: %v, want %d left", err, left)
		}
	}
	if err := f.svc.EnterUnlockCode(ctx, sess, wrong); !errors.Is(err, domain.ErrCodeTriesExhausted) {
		t.Fatalf("third wrong code: %v", err)
	}
	if err := f.svc.EnterUnlockCode(ctx, sess, code); !errors.Is(err, domain.ErrCodeTriesExhausted) {
		t.Fatalf("right code after exhaustion: %v", err)
	}
	// Resend gives a new code; the old one stops working.
	if _, err := f.svc.ResendCode(ctx, sess); err != nil {
		t.Fatal(err)
	}
	fresh := f.lastCode(t, "Smartcard Unlock Code")
	if fresh == code {
		t.Fatalf("the resent code %s is the old one", code)
	}
	var ce *selfservice.CodeError
	if err := f.svc.EnterUnlockCode(ctx, sess, code); !errors.As(err, &ce) || ce.TriesLeft != 2 {
		t.Fatalf("old code after a resend: %v, want a wrong code with 2 tries left", err)
	}
	noErr(t, f.svc.EnterUnlockCode(ctx, sess, fresh))

	// Expiry: 15 minutes.
	sess = start()
	code = f.lastCode(t, "Smartcard Unlock Code")
	f.clock.Advance(15*time.Minute + time.Second)
	if err := f.svc.EnterUnlockCode(ctx, sess, code); !errors.Is(err, domain.ErrCodeExpired) {
		t.Fatalf("expired code: %v", err)
	}
}

func TestOutOfTurnAndPulledCard(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	card := f.enrol(t, sstest.Holder{Blocked: true, Answers: answers})
	sess, err := f.svc.Identify(ctx, card)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.CompleteUnlock(ctx, sess, card, "Kx9!a", "Kx9!a"); !errors.Is(err, selfservice.ErrOutOfTurn) {
		t.Fatalf("unlock without code: %v", err)
	}
	if err := f.svc.EnterUnlockCode(ctx, sess, "123456"); !errors.Is(err, selfservice.ErrOutOfTurn) {
		t.Fatalf("code before questions: %v", err)
	}
	f.answerRight(t, sess)
	noErr(t, f.svc.EnterUnlockCode(ctx, sess, f.lastCode(t, "Smartcard Unlock Code")))
	card.SetRemoved(true)
	if err := f.svc.CompleteUnlock(ctx, sess, card, "Kx9!a", "Kx9!a"); !errors.Is(err, domain.ErrCardRemoved) {
		t.Fatalf("pulled card: %v", err)
	}
	sess.End()
	card.SetRemoved(false)
	if err := f.svc.CompleteUnlock(ctx, sess, card, "Kx9!a", "Kx9!a"); !errors.Is(err, selfservice.ErrOutOfTurn) {
		t.Fatalf("after End: %v", err)
	}
	if card.PINIs("Kx9!a") {
		t.Fatal("PIN changed after the session ended")
	}
}

func TestAbandonAndSameQuestions(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	card := f.enrol(t, sstest.Holder{Blocked: true, Answers: answers})
	sess, err := f.svc.Identify(ctx, card)
	if err != nil {
		t.Fatal(err)
	}
	first, err := f.svc.StartUnlock(ctx, sess)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		again, err := f.svc.StartUnlock(ctx, sess)
		if err != nil || len(again) != len(first) || again[0] != first[0] {
			t.Fatalf("asking again drew other questions: %v then %v (%v)", first, again, err)
		}
	}
	if _, err := f.svc.AnswerQuestions(ctx, sess, answerAll(sess, true)); err != nil {
		t.Fatal(err)
	}
	f.svc.Abandon(sess)
	if sess.Step() != selfservice.StepIdentified {
		t.Fatalf("after Abandon: step %v", sess.Step())
	}
	if err := f.svc.EnterUnlockCode(ctx, sess, f.lastCode(t, "Smartcard Unlock Code")); !errors.Is(err, selfservice.ErrOutOfTurn) {
		t.Fatalf("code after Abandon: %v", err)
	}
	if err := f.svc.SignIn(ctx, sess, card, "0000"); !errors.Is(err, domain.ErrCardBlocked) {
		t.Fatalf("sign-in after Abandon reaches the card: %v", err)
	}
}

func TestRegistration(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	card := f.enrol(t, sstest.Holder{})
	sess, err := f.svc.Identify(ctx, card)
	if err != nil {
		t.Fatal(err)
	}
	qas := []selfservice.QuestionAnswer{{5, "Lagos"}, {6, "Fiat"}, {12, "Ward clerk"}, {3, "Biscuit"}}
	if _, err := f.svc.StartRegistration(ctx, sess, qas, "a@nhs.net"); !errors.Is(err, selfservice.ErrOutOfTurn) {
		t.Fatalf("before sign-in: %v", err)
	}
	var pe *domain.PasscodeError
	if err := f.svc.SignIn(ctx, sess, card, "9999"); !errors.As(err, &pe) || pe.TriesLeft != domain.PasscodeTries-1 {
		t.Fatalf("wrong passcode: %v", err)
	}
	if err := f.svc.SignIn(ctx, sess, card, "2580"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		qas   []selfservice.QuestionAnswer
		email string
		want  error
	}{
		{"three questions", qas[:3], "amara@nhs.net", domain.ErrQuestions},
		{"repeated question", append(qas[:3:3], qas[0]), "amara@nhs.net", domain.ErrQuestions},
		{"empty answer", []selfservice.QuestionAnswer{{5, " "}, {6, "Fiat"}, {12, "Ward"}, {3, "Rex"}}, "amara@nhs.net", domain.ErrQuestions},
		{"gmail", qas, "amara@gmail.com", domain.ErrEmailNotApproved},
		{"lookalike domain", qas, "amara@evilnhs.net", domain.ErrEmailNotApproved},
		{"header injection", qas, "amara@nhs.net\r\nBcc: x@evil.com", domain.ErrInvalidEmail},
	}
	for _, tt := range tests {
		if _, err := f.svc.StartRegistration(ctx, sess, tt.qas, tt.email); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	masked, err := f.svc.StartRegistration(ctx, sess, qas, "Amara.Okafor@Wales.NHS.uk")
	if err != nil || masked != "A•••@wales.nhs.uk" {
		t.Fatalf("register: %q %v", masked, err)
	}
	if _, err := f.store.GetRegistration(ctx, "555001799894"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatal("registered before the code was entered")
	}
	code := f.lastCode(t, "Smartcard Unlock Service Registration Code")
	if err := f.svc.ConfirmRegistration(ctx, sess, code); err != nil {
		t.Fatal(err)
	}
	h := f.svc.Holder(sess)
	if !h.Registered || h.MaskedEmail != "A•••@wales.nhs.uk" {
		t.Fatalf("profile not refreshed: %+v", h)
	}
	// Stored as answer sets, one for each set an unlock may ask, and no
	// answer hashed on its own.
	reg := f.registration(t, "555001799894")
	if len(reg.Answers) != 0 || len(reg.Sets) != 11 || domain.ValidateAnswers(reg.Answers, reg.Sets) != nil {
		t.Fatalf("registration stored with %d answers and %d sets, want 0 and 11", len(reg.Answers), len(reg.Sets))
	}
	// The new registration works for an unlock.
	sess2 := f.identify(t, card)
	qs, err := f.svc.StartUnlock(ctx, sess2)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[domain.QuestionID]string{5: "lagos", 6: "FIAT", 12: "ward  clerk", 3: "biscuit"}
	var in []string
	for _, q := range qs {
		in = append(in, byID[q.ID])
	}
	if _, err := f.svc.AnswerQuestions(ctx, sess2, in); err != nil {
		t.Fatalf("answers after registering: %v", err)
	}
}

func TestChangePasscodeAndRenewal(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	// A passcode the policy accepts, so that choosing it again is refused
	// as the same one, not as too easy to guess.
	card := f.enrol(t, sstest.Holder{PIN: "4739", CertExpiry: time.Now().AddDate(0, 0, 40)})
	sess := f.identify(t, card)
	if err := f.svc.SignIn(ctx, sess, card, "4739"); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.ChangePasscode(ctx, sess, card, "4739", "4739", "4739"); !errors.Is(err, selfservice.ErrSamePasscode) {
		t.Fatalf("same passcode: %v", err)
	}
	if err := f.svc.ChangePasscode(ctx, sess, card, "4739", "password", "password"); !errors.Is(err, domain.ErrPasscodePolicy) {
		t.Fatalf("deny-listed: %v", err)
	}
	var pe *domain.PasscodeError
	if err := f.svc.ChangePasscode(ctx, sess, card, "0000", "Kx9!a", "Kx9!a"); !errors.As(err, &pe) || pe.TriesLeft != domain.PasscodeTries-1 {
		t.Fatalf("wrong current: %v", err)
	}
	if err := f.svc.ChangePasscode(ctx, sess, card, "4739", "Kx9!a", "Kx9!a"); err != nil || !card.PINIs("Kx9!a") {
		t.Fatalf("change: %v", err)
	}

	if err := f.svc.CanRenew(sess); err != nil {
		t.Fatalf("inside the window: %v", err)
	}
	if err := f.svc.Renew(ctx, sess, card); err != nil {
		t.Fatal(err)
	}
	rec := f.smartcard(t, card.Serial)
	if rec.RenewalsSinceOperator != 1 || rec.CertExpiry.Before(time.Now().AddDate(1, 11, 0)) {
		t.Fatalf("record after renewal: %+v", rec)
	}
	// The new 9E key is the one recorded: the card is still genuine.
	if _, err := f.svc.Identify(ctx, card); err != nil {
		t.Fatalf("identify after renewal: %v", err)
	}
	// So is the new 9A key, which an operator logs in with.
	cert, err := f.ca.Verify(rec.PIVAuthCert, rec.UserID, rec.Serial, domain.KeyPIVAuth)
	noErr(t, err)
	digest := sha256.Sum256([]byte("log-in challenge"))
	sig, err := card.SignWithPasscode(ctx, "Kx9!a", digest[:])
	if err != nil || !ecdsa.VerifyASN1(cert.PublicKey.(*ecdsa.PublicKey), digest[:], sig) {
		t.Fatalf("the recorded 9A certificate is not the card's new key (%v)", err)
	}
	if err := f.svc.CanRenew(sess); !errors.Is(err, domain.ErrRenewalTooEarly) {
		t.Fatalf("just renewed: %v", err)
	}

	expired := f.enrol(t, sstest.Holder{ID: "555000000061", Serial: "4082A00100000061", CertExpiry: time.Now().Add(-24 * time.Hour)})
	sess = f.identify(t, expired)
	noErr(t, f.svc.SignIn(ctx, sess, expired, "2580"))
	if err := f.svc.Renew(ctx, sess, expired); !errors.Is(err, domain.ErrCertificateExpired) {
		t.Fatalf("expired: %v", err)
	}
}

// Kiosks racing on one user: every wrong set of answers is counted exactly
// once, and the user ends locked out.
func TestConcurrentKiosksCountEveryAttempt(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	card := f.enrol(t, sstest.Holder{Blocked: true, Answers: answers})
	var wg sync.WaitGroup
	errs := make([]error, 6)
	answered := make([]bool, len(errs))
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sess, err := f.svc.Identify(ctx, card)
			if err != nil {
				errs[i] = err
				return
			}
			if _, err := f.svc.StartUnlock(ctx, sess); err != nil {
				errs[i] = err
				return
			}
			answered[i] = true
			_, errs[i] = f.svc.AnswerQuestions(ctx, sess, answerAll(sess, false))
		}()
	}
	wg.Wait()
	reg, err := f.store.GetRegistration(ctx, "555001799894")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i, a := range answered {
		if a {
			n++
			if !errors.Is(errs[i], domain.ErrWrongAnswer) && !errors.Is(errs[i], domain.ErrLockedOut) {
				t.Fatalf("kiosk %d: %v", i, errs[i])
			}
		}
	}
	// A kiosk that found the lock-out before checking its answers counts
	// nothing, and the count stops at the limit.
	if !reg.LockedOut() || n < selfservice.MaxFailedAttempts || reg.FailedAttempts != selfservice.MaxFailedAttempts {
		t.Fatalf("after racing kiosks: %d attempts (%d answered), locked %v (%v)", reg.FailedAttempts, n, reg.LockedOut(), errs)
	}
}

// TestRefusedAttemptPastTheLimit: a kiosk whose holder answers wrong after
// another kiosk locked them out is refused; it counts no fourth failure
// and is audited as refused for the lock-out. (When the two race, the
// store's conditional count refuses it: see the store suite.)
func TestRefusedAttemptPastTheLimit(t *testing.T) {
	f := newFixture(t)
	card := f.enrol(t, sstest.Holder{Blocked: true, Answers: answers})
	first, second := f.identify(t, card), f.identify(t, card)
	for _, sess := range []*selfservice.Session{first, second} {
		_, err := f.svc.StartUnlock(t.Context(), sess)
		noErr(t, err)
	}
	var err error
	for range selfservice.MaxFailedAttempts {
		_, err = f.svc.AnswerQuestions(t.Context(), first, answerAll(first, false))
	}
	if !errors.Is(err, domain.ErrLockedOut) {
		t.Fatalf("last wrong answers on the first kiosk: %v, want ErrLockedOut", err)
	}
	_, err = f.svc.AnswerQuestions(t.Context(), second, answerAll(second, false))
	if !errors.Is(err, domain.ErrLockedOut) {
		t.Fatalf("wrong answers past the limit: %v, want ErrLockedOut", err)
	}
	if reg := f.registration(t, "555001799894"); reg.FailedAttempts != selfservice.MaxFailedAttempts {
		t.Fatalf("%d failed attempts recorded, want %d", reg.FailedAttempts, selfservice.MaxFailedAttempts)
	}
	f.answersRefusedAudited(t, "locked out")
}

// The review's holes, each closed.

func TestQuestionsStandAcrossVisits(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	card := f.enrol(t, sstest.Holder{Blocked: true, Answers: answers})
	start := func() []selfservice.Question {
		t.Helper()
		sess, err := f.svc.Identify(ctx, card)
		if err != nil {
			t.Fatal(err)
		}
		qs, err := f.svc.StartUnlock(ctx, sess)
		if err != nil {
			t.Fatal(err)
		}
		f.svc.Abandon(sess)
		return qs
	}
	first := start()
	// Going back, pulling the card or another kiosk: the same questions.
	for range 10 {
		if again := start(); !slices.Equal(again, first) {
			t.Fatalf("a new visit drew other questions: %v then %v", first, again)
		}
	}
	reg := f.registration(t, "555001799894")
	if reg.FailedAttempts != 0 {
		t.Fatalf("visits cost %d attempts", reg.FailedAttempts)
	}
}

func TestRightAnswersDoNotUndoALockOut(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	card := f.enrol(t, sstest.Holder{Blocked: true, Answers: answers})
	sess := f.identify(t, card)
	if _, err := f.svc.StartUnlock(ctx, sess); err != nil {
		t.Fatal(err)
	}
	// Another kiosk locks the user out meanwhile.
	for range selfservice.MaxFailedAttempts {
		if _, err := f.store.RecordFailedAttempt(ctx, "555001799894", selfservice.MaxFailedAttempts, f.clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.svc.AnswerQuestions(ctx, sess, answerAll(sess, true)); !errors.Is(err, domain.ErrLockedOut) {
		t.Fatalf("right answers after a lock-out: %v", err)
	}
	if reg := f.registration(t, "555001799894"); !reg.LockedOut() {
		t.Fatal("lock-out undone")
	}
	if mails := f.mails(t, 10); len(mails) != 0 {
		t.Fatal("a code was sent to a locked-out user")
	}
}

func TestIncompleteRegistrationAsksNoFewerQuestions(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	card := f.enrol(t, sstest.Holder{Blocked: true, Answers: map[domain.QuestionID]string{1: "Smith"}})
	sess := f.identify(t, card)
	if _, err := f.svc.StartUnlock(ctx, sess); !errors.Is(err, domain.ErrQuestions) {
		t.Fatalf("registration with one answer: %v", err)
	}
}

func TestRegistrationCodeProvesItsAddress(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	card := f.enrol(t, sstest.Holder{})
	sess := f.identify(t, card)
	if err := f.svc.SignIn(ctx, sess, card, "2580"); err != nil {
		t.Fatal(err)
	}
	qas := []selfservice.QuestionAnswer{{5, "Lagos"}, {6, "Fiat"}, {12, "Ward clerk"}, {3, "Biscuit"}}
	if _, err := f.svc.StartRegistration(ctx, sess, qas, "mine@nhs.net"); err != nil {
		t.Fatal(err)
	}
	for range domain.DefaultCodePolicy.MaxSends - 1 {
		if _, err := f.svc.ResendCode(ctx, sess); err != nil {
			t.Fatal(err)
		}
	}
	code := f.lastCode(t, "Smartcard Unlock Service Registration Code")
	// No more codes: switching the address must not keep the last code valid for it.
	if _, err := f.svc.StartRegistration(ctx, sess, qas, "someone.else@nhs.net"); !errors.Is(err, selfservice.ErrTooManyCodes) {
		t.Fatalf("fourth code: %v", err)
	}
	if err := f.svc.ConfirmRegistration(ctx, sess, code); err != nil {
		t.Fatal(err)
	}
	reg, err := f.store.GetRegistration(ctx, "555001799894")
	if err != nil || reg.Email != "mine@nhs.net" {
		t.Fatalf("registered %q (%v), want the address the code went to", reg.Email, err)
	}
}

func TestRenewNeverRevivesACancelledCard(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	card := f.enrol(t, sstest.Holder{CertExpiry: time.Now().AddDate(0, 0, 40)})
	sess := f.identify(t, card)
	if err := f.svc.SignIn(ctx, sess, card, "2580"); err != nil {
		t.Fatal(err)
	}
	// An operator cancels the card while the holder is at the kiosk.
	rec := f.smartcard(t, card.Serial)
	rec.CancelledAt, rec.CancelReason = time.Now(), "Stolen"
	noErr(t, f.store.PutSmartcard(ctx, rec))
	if err := f.svc.Renew(ctx, sess, card); !errors.Is(err, domain.ErrCardCancelled) {
		t.Fatalf("renewal of a card cancelled meanwhile: %v", err)
	}
	if got := f.smartcard(t, card.Serial); got.Active() || card.Personals != 0 {
		t.Fatalf("card revived or personalised: active %v, personalised %d", got.Active(), card.Personals)
	}
}

// cancelAfter cancels the caller's context once the card has unlocked,
// as a pulled card or an impatient screen would.
type cancelAfter struct {
	*sstest.Card
	cancel context.CancelFunc
}

func (c cancelAfter) Unlock(ctx context.Context, puk []byte, pin string) error {
	err := c.Card.Unlock(ctx, puk, pin)
	c.cancel()
	return err
}

func TestUnlockIsRecordedEvenIfTheVisitEnds(t *testing.T) {
	f := newFixture(t)
	card := f.enrol(t, sstest.Holder{Blocked: true, Answers: answers})
	ctx, cancel := context.WithCancel(t.Context())
	sess := f.identify(t, card)
	f.answerRight(t, sess)
	if err := f.svc.EnterUnlockCode(ctx, sess, f.lastCode(t, "Smartcard Unlock Code")); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.CompleteUnlock(ctx, sess, cancelAfter{card, cancel}, "Kx9!a", "Kx9!a"); err != nil {
		t.Fatal(err)
	}
	ev := f.auditLog(t)
	recorded := false
	for _, e := range ev {
		recorded = recorded || (e.Action == domain.AuditSelfUnlock && e.Outcome == domain.OutcomeSuccess)
	}
	if !recorded {
		t.Fatal("the unlock was not audited")
	}
	if f.lastCode(t, "Your Smartcard has been unlocked") != "" {
		t.Fatal("notification carries a code")
	}
}

func TestRejectedPUKEndsTheVisit(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	card := f.enrol(t, sstest.Holder{Blocked: true, Answers: answers})
	card.PUK = "11223344" // not the one the service holds
	sess := f.identify(t, card)
	f.answerRight(t, sess)
	noErr(t, f.svc.EnterUnlockCode(ctx, sess, f.lastCode(t, "Smartcard Unlock Code")))
	if err := f.svc.CompleteUnlock(ctx, sess, card, "Kx9!a", "Kx9!a"); !errors.Is(err, domain.ErrCardSecretRejected) {
		t.Fatalf("rejected PUK: %v", err)
	}
	if err := f.svc.CompleteUnlock(ctx, sess, card, "Kx9!a", "Kx9!a"); !errors.Is(err, selfservice.ErrOutOfTurn) {
		t.Fatalf("second try: %v", err)
	}
	if card.PUKTries != domain.PUKTries-1 {
		t.Fatalf("PUK tries left %d, want %d: only one was spent", card.PUKTries, domain.PUKTries-1)
	}
}

// fiveTries is a card whose passcode allows five tries, unlike the cards
// the service issues.
type fiveTries struct{ *sstest.Card }

func (c fiveTries) Status(ctx context.Context) (domain.CardStatus, error) {
	st, err := c.Card.Status(ctx)
	if err == nil && !st.Blocked {
		st.PasscodeTriesLeft += 5 - domain.PasscodeTries
	}
	return st, err
}

// pullAfterUnlock is a card pulled the moment it has unlocked.
type pullAfterUnlock struct{ *sstest.Card }

func (c pullAfterUnlock) Unlock(ctx context.Context, puk []byte, pin string) error {
	err := c.Card.Unlock(ctx, puk, pin)
	c.SetRemoved(true)
	return err
}

// After an unlock the kiosk shows what the card says of its passcode; a
// card that can no longer say has just accepted the new passcode, so it is
// not blocked and has all its tries.
func TestUnlockReadsTheCardBack(t *testing.T) {
	tests := []struct {
		name  string
		card  func(*sstest.Card) domain.Card
		tries int
	}{
		{"the card's own count", func(c *sstest.Card) domain.Card { return fiveTries{c} }, 5},
		{"pulled right after", func(c *sstest.Card) domain.Card { return pullAfterUnlock{c} }, domain.PasscodeTries},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := t.Context()
			card := tt.card(f.enrol(t, sstest.Holder{Blocked: true, Answers: answers}))
			sess := f.identify(t, card)
			f.answerRight(t, sess)
			noErr(t, f.svc.EnterUnlockCode(ctx, sess, f.lastCode(t, "Smartcard Unlock Code")))
			noErr(t, f.svc.CompleteUnlock(ctx, sess, card, "Kx9!a", "Kx9!a"))
			if h := f.svc.Holder(sess); h.Blocked || h.TriesLeft != tt.tries {
				t.Fatalf("holder after the unlock: blocked %v, %d tries left; want %d", h.Blocked, h.TriesLeft, tt.tries)
			}
		})
	}
}

// TestCodesAreSealedInTheOutbox: the stored body of a code mail never
// shows the code; only the kiosk's key opens it.
func TestCodesAreSealedInTheOutbox(t *testing.T) {
	f := newFixture(t)
	card := f.enrol(t, sstest.Holder{Blocked: true, Answers: answers})
	f.answerRight(t, f.identify(t, card))
	stored, err := f.store.ListMail(t.Context(), 1)
	noErr(t, err)
	if len(stored) != 1 || !stored[0].BodySealed || sixDigits.MatchString(stored[0].Body) || strings.Contains(stored[0].Body, "Unlock Code") {
		t.Fatalf("stored code mail %+v: want a sealed body that shows nothing", stored)
	}
	code := f.lastCode(t, stored[0].Subject)
	if len(code) != 6 {
		t.Fatalf("opened body has no code: %q", code)
	}
	other, err := secret.NewKeys([]byte("another key-encryption key, 32B."))
	noErr(t, err)
	if _, err := other.OpenMail(stored[0]); !errors.Is(err, secret.ErrOpenSeal) {
		t.Fatalf("opened with another key: %v, want ErrOpenSeal", err)
	}
}

// TestDowngradedAnswerHashIsRefusedAndAudited: a stored answer hash
// cheaper than the service's minimum (as a database writer could plant)
// is never checked; the refusal is audited. Both forms: answer sets, and
// the answers of a registration made before them.
func TestDowngradedAnswerHashIsRefusedAndAudited(t *testing.T) {
	weak := secret.Argon2Params{Memory: 8, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	for name, downgrade := range map[string]func(t *testing.T, f *fixture){
		"answer sets": func(t *testing.T, f *fixture) {
			reg := f.registration(t, "555001799894")
			sets, err := secret.HashAnswerSets(weak, answers, nil)
			noErr(t, err)
			reg.Sets = sets
			noErr(t, f.store.PutRegistration(t.Context(), reg))
		},
		"answers": func(t *testing.T, f *fixture) { f.registerPerAnswer(t, weak) },
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			card := f.enrol(t, sstest.Holder{Blocked: true, Answers: answers})
			downgrade(t, f)
			sess := f.identify(t, card)
			_, err := f.svc.StartUnlock(t.Context(), sess)
			noErr(t, err)
			if _, err := f.svc.AnswerQuestions(t.Context(), sess, answerAll(sess, true)); !errors.Is(err, secret.ErrWeakHash) {
				t.Fatalf("right answers against downgraded hashes: %v, want ErrWeakHash", err)
			}
			f.answersRefusedAudited(t, "weaker")
		})
	}
}

// TestAnswersRegisteredBeforeAnswerSets: a registration made before
// answer sets (one hash per answer) still unlocks with the right answers
// and counts one wrong answer among right ones as a failed attempt;
// registering again stores answer sets in its place.
func TestAnswersRegisteredBeforeAnswerSets(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	card := f.enrol(t, sstest.Holder{Blocked: true, Answers: answers})
	f.registerPerAnswer(t, cheap)

	sess := f.identify(t, card)
	_, err := f.svc.StartUnlock(ctx, sess)
	noErr(t, err)
	in := answerAll(sess, true)
	in[len(in)-1] = "wrong"
	var ae *selfservice.AnswerError
	if _, err := f.svc.AnswerQuestions(ctx, sess, in); !errors.As(err, &ae) || ae.AttemptsLeft != selfservice.MaxFailedAttempts-1 {
		t.Fatalf("one wrong answer among right ones: %v, want an AnswerError with %d attempts left", err, selfservice.MaxFailedAttempts-1)
	}
	sess = f.identify(t, card)
	f.answerRight(t, sess)
	if got := f.registration(t, "555001799894"); got.FailedAttempts != 0 || len(got.Answers) != 4 || len(got.Sets) != 0 {
		t.Fatalf("registration after right answers: %d failed attempts, %d answers, %d sets", got.FailedAttempts, len(got.Answers), len(got.Sets))
	}
}

// A renewal that stops once the card has new keys marks the card for an
// operator's repair; the kiosk then refuses to renew it.
func TestRenewalPartWayNeedsRepair(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	card := f.enrol(t, sstest.Holder{CertExpiry: time.Now().AddDate(0, 0, 40)})
	sess := f.identify(t, card)
	noErr(t, f.svc.SignIn(ctx, sess, card, "2580"))
	card.BreakPersonalise = errors.New("the card stopped answering")
	if err := f.svc.Renew(ctx, sess, card); !errors.Is(err, domain.ErrCardNeedsRepair) {
		t.Fatalf("renewal stopped part-way: %v", err)
	}
	rec := f.smartcard(t, card.Serial)
	if !rec.NeedsRepair || rec.RenewalsSinceOperator != 0 {
		t.Fatalf("record after a part-way renewal: %+v", rec)
	}
	card.BreakPersonalise = nil
	if err := f.svc.Renew(ctx, sess, card); !errors.Is(err, domain.ErrCardNeedsRepair) || card.Personals != 0 {
		t.Fatalf("renew a card that needs repair: %v (personalised %d)", err, card.Personals)
	}
}

// twiceDrawn is the real store, but the draw it keeps asks question 3
// twice, as a database writer could make it.
type twiceDrawn struct{ domain.Store }

func (s twiceDrawn) DrawChallenge(ctx context.Context, id domain.UserID, proposed []domain.QuestionID) ([]domain.QuestionID, error) {
	if _, err := s.Store.DrawChallenge(ctx, id, proposed); err != nil {
		return nil, err
	}
	return []domain.QuestionID{3, 3}, nil
}

// TestQuestionDrawnTwiceIsRefused: a stored draw asking one question
// twice is refused before any answer is taken, so that one right answer
// cannot stand for two (answer sets would never match it; a registration
// from before them checks each answer).
func TestQuestionDrawnTwiceIsRefused(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		f := newFixture(t)
		card := f.enrol(t, sstest.Holder{Blocked: true, Answers: answers})
		if legacy {
			f.registerPerAnswer(t, cheap)
		}
		svc := f.serviceOn(twiceDrawn{f.store})
		sess, err := svc.Identify(t.Context(), card)
		noErr(t, err)
		if qs, err := svc.StartUnlock(t.Context(), sess); !errors.Is(err, domain.ErrQuestions) {
			t.Fatalf("legacy %v: draw of question 3 twice: %v, %v; want ErrQuestions", legacy, qs, err)
		}
	}
}

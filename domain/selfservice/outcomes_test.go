package selfservice_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/selfservice"
	"github.com/smartcard-service-centre/kiosk/internal/sstest"
)

// errBlip is the database not answering for a moment.
var errBlip = errors.New("connection reset by peer")

// blipStore is the store as the service sees it, where a test can make
// transactions or code look-ups fail for a while.
type blipStore struct {
	domain.Store
	mu   sync.Mutex
	fail map[string]bool
}

func (b *blipStore) set(op string, failing bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fail[op] = failing
}

func (b *blipStore) failing(op string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.fail[op]
}

func (b *blipStore) InTx(ctx context.Context, fn func(q domain.Queries) error) error {
	if b.failing("InTx") {
		return errBlip
	}
	return b.Store.InTx(ctx, fn)
}

func (b *blipStore) LatestCode(ctx context.Context, id domain.UserID, p domain.CodePurpose) (domain.OneTimeCode, error) {
	if b.failing("LatestCode") {
		return domain.OneTimeCode{}, errBlip
	}
	return b.Store.LatestCode(ctx, id, p)
}

// withBlips gives the fixture a service over a store that can blip.
func (f *fixture) withBlips() *blipStore {
	b := &blipStore{Store: f.store, fail: map[string]bool{}}
	f.svc = selfservice.New(selfservice.Config{Store: b, Keys: f.keys, CA: f.ca, Clock: f.clock, Argon2: cheap, Terminal: "test"})
	return b
}

// audited returns the audit rows of action, newest first.
func (f *fixture) audited(t *testing.T, action domain.AuditAction) []domain.AuditEvent {
	t.Helper()
	ev, err := f.store.ListAudit(t.Context(), domain.AuditFilter{Action: action})
	noErr(t, err)
	return ev
}

// Every card put in the reader is in the audit trail under its serial,
// genuine or not, also when the check could not finish.
func TestCardCheckIsAudited(t *testing.T) {
	const serial = domain.CardSerial("4082A001132F2817")
	for _, tc := range []struct {
		name    string
		card    func(f *fixture) *sstest.Card
		want    error // nil: identified
		outcome domain.AuditOutcome
		detail  string
	}{
		{"genuine", func(f *fixture) *sstest.Card { return f.enrol(t, sstest.Holder{}) },
			nil, domain.OutcomeSuccess, "genuine"},
		{"not genuine", func(f *fixture) *sstest.Card {
			f.enrol(t, sstest.Holder{})
			return sstest.NewCard(serial, "2580", "x") // the serial, another key
		}, domain.ErrCardNotGenuine, domain.OutcomeFailure, "genuine"},
		{"unknown", func(*fixture) *sstest.Card { return sstest.NewCard(serial, "2580", "x") },
			domain.ErrCardNotFound, domain.OutcomeFailure, "not known"},
		{"pulled during the check", func(f *fixture) *sstest.Card {
			card := f.enrol(t, sstest.Holder{})
			card.Hook = func(op string) {
				if op == "Sign" {
					card.SetRemoved(true)
				}
			}
			return card
		}, domain.ErrCardRemoved, domain.OutcomeFailure, "removed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			card := tc.card(f)
			_, err := f.svc.Identify(t.Context(), card)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Identify: %v, want %v", err, tc.want)
			}
			ev := f.audited(t, domain.AuditCardChecked)
			if len(ev) != 1 {
				t.Fatalf("%d card checks audited, want 1: %+v", len(ev), ev)
			}
			if e := ev[0]; e.CardSerial != serial || e.Outcome != tc.outcome || !strings.Contains(e.Detail, tc.detail) {
				t.Fatalf("audit row %+v, want %s for %s with %q", e, tc.outcome, serial, tc.detail)
			}
		})
	}
}

// A code refused because the user has had their codes is audited as a
// refusal, for an unlock and for a registration.
func TestTooManyCodesIsAudited(t *testing.T) {
	limit := domain.DefaultCodePolicy.MaxSends
	t.Run("unlock", func(t *testing.T) {
		f := newFixture(t)
		sess := f.identify(t, f.enrol(t, sstest.Holder{Blocked: true, Answers: answers}))
		f.answerRight(t, sess)
		for range limit - 1 {
			_, err := f.svc.ResendCode(t.Context(), sess)
			noErr(t, err)
		}
		if _, err := f.svc.ResendCode(t.Context(), sess); !errors.Is(err, selfservice.ErrTooManyCodes) {
			t.Fatalf("a code past the limit: %v", err)
		}
		refusals(t, f, "unlock refused", limit)
	})
	t.Run("registration", func(t *testing.T) {
		f := newFixture(t)
		card := f.enrol(t, sstest.Holder{})
		sess := f.identify(t, card)
		noErr(t, f.svc.SignIn(t.Context(), sess, card, "2580"))
		qas := []selfservice.QuestionAnswer{{5, "Lagos"}, {6, "Fiat"}, {12, "Ward clerk"}, {3, "Biscuit"}}
		for range limit {
			_, err := f.svc.StartRegistration(t.Context(), sess, qas, "amara@nhs.net")
			noErr(t, err)
		}
		if _, err := f.svc.StartRegistration(t.Context(), sess, qas, "amara@nhs.net"); !errors.Is(err, selfservice.ErrTooManyCodes) {
			t.Fatalf("a code past the limit: %v", err)
		}
		refusals(t, f, "registration refused", limit)
	})
}

// refusals checks the code_issued rows: sent successes, then one refusal
// whose detail holds what.
func refusals(t *testing.T, f *fixture, what string, sent int) {
	t.Helper()
	ev := f.audited(t, domain.AuditCodeIssued)
	if len(ev) != sent+1 {
		t.Fatalf("%d code rows, want %d sent and 1 refused: %+v", len(ev), sent, ev)
	}
	if e := ev[0]; e.Outcome != domain.OutcomeFailure || !strings.Contains(e.Detail, what) ||
		!strings.Contains(e.Detail, selfservice.ErrTooManyCodes.Error()) {
		t.Fatalf("newest code row %+v, want the refusal (%q)", e, what)
	}
}

// The database failing while a code is sent keeps the holder at the code
// step with their answers accepted; the send is audited as failed and is
// not one of the visit's codes.
func TestFailedSendIsNotACodeSent(t *testing.T) {
	f := newFixture(t)
	blips := f.withBlips()
	sess := f.identify(t, f.enrol(t, sstest.Holder{Blocked: true, Answers: answers}))
	_, err := f.svc.StartUnlock(t.Context(), sess)
	noErr(t, err)
	blips.set("InTx", true)
	if _, err := f.svc.AnswerQuestions(t.Context(), sess, answerAll(sess, true)); !errors.Is(err, errBlip) {
		t.Fatalf("answers with the database away: %v", err)
	}
	if sess.Step() != selfservice.StepCodeSent {
		t.Fatalf("step %v after a failed send, want the code step", sess.Step())
	}
	if _, err := f.svc.ResendCode(t.Context(), sess); !errors.Is(err, errBlip) {
		t.Fatalf("resend with the database away: %v", err)
	}
	if ev := f.audited(t, domain.AuditCodeIssued); len(ev) != 2 || ev[0].Outcome != domain.OutcomeFailure ||
		!strings.Contains(ev[0].Detail, errBlip.Error()) {
		t.Fatalf("code rows %+v, want both failed sends", ev)
	}
	blips.set("InTx", false)
	for i := range domain.DefaultCodePolicy.MaxSends {
		if _, err := f.svc.ResendCode(t.Context(), sess); err != nil {
			t.Fatalf("code %d of the visit: %v (failed sends were counted)", i+1, err)
		}
	}
	noErr(t, f.svc.EnterUnlockCode(t.Context(), sess, f.lastCode(t, "Smartcard Unlock Code")))
}

// A database blip while a code is checked leaves the holder at the code
// step (answers, registration details and the code all stand): they
// type the same code again once the database is back.
func TestBlipAtTheCodeStepKeepsTheVisit(t *testing.T) {
	qas := []selfservice.QuestionAnswer{{5, "Lagos"}, {6, "Fiat"}, {12, "Ward clerk"}, {3, "Biscuit"}}
	for _, tc := range []struct {
		name    string
		holder  sstest.Holder
		toCode  func(t *testing.T, f *fixture, sess *selfservice.Session, card *sstest.Card)
		subject string
		enter   func(f *fixture, sess *selfservice.Session, code string) error
		step    selfservice.Step
	}{
		{"unlock", sstest.Holder{Blocked: true, Answers: answers},
			func(t *testing.T, f *fixture, sess *selfservice.Session, _ *sstest.Card) { f.answerRight(t, sess) },
			"Smartcard Unlock Code",
			func(f *fixture, sess *selfservice.Session, code string) error {
				return f.svc.EnterUnlockCode(context.Background(), sess, code)
			}, selfservice.StepCodeSent},
		{"registration", sstest.Holder{},
			func(t *testing.T, f *fixture, sess *selfservice.Session, card *sstest.Card) {
				noErr(t, f.svc.SignIn(t.Context(), sess, card, "2580"))
				_, err := f.svc.StartRegistration(t.Context(), sess, qas, "amara@nhs.net")
				noErr(t, err)
			},
			"Smartcard Unlock Service Registration Code",
			func(f *fixture, sess *selfservice.Session, code string) error {
				return f.svc.ConfirmRegistration(context.Background(), sess, code)
			}, selfservice.StepRegistrationCodeSent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			blips := f.withBlips()
			card := f.enrol(t, tc.holder)
			sess := f.identify(t, card)
			tc.toCode(t, f, sess, card)
			code := f.lastCode(t, tc.subject)
			blips.set("LatestCode", true)
			if err := tc.enter(f, sess, code); !errors.Is(err, errBlip) {
				t.Fatalf("code with the database away: %v", err)
			}
			if sess.Step() != tc.step {
				t.Fatalf("step %v after a blip, want %v: the visit's progress was thrown away", sess.Step(), tc.step)
			}
			blips.set("LatestCode", false)
			noErr(t, tc.enter(f, sess, code))
		})
	}
}

// The screen learns how far the code's email has got from the outbox:
// queued, delayed by failed attempts, sent, or given up.
func TestCodeDelivery(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	sess := f.identify(t, f.enrol(t, sstest.Holder{Blocked: true, Answers: answers}))
	if _, err := f.svc.CodeDelivery(ctx, sess); !errors.Is(err, selfservice.ErrOutOfTurn) {
		t.Fatalf("delivery before any code: %v", err)
	}
	f.answerRight(t, sess)
	id := f.mails(t, 1)[0].ID
	state := func(want domain.Delivery) {
		t.Helper()
		got, err := f.svc.CodeDelivery(ctx, sess)
		if err != nil || got != want {
			t.Fatalf("delivery %v, %v; want %v", got, err, want)
		}
	}
	state(domain.DeliveryQueued)
	noErr(t, f.store.MarkMailFailed(ctx, id, "421 try later", f.clock.Now().Add(time.Minute)))
	state(domain.DeliveryDelayed)
	noErr(t, f.store.MarkMailSent(ctx, id, f.clock.Now()))
	state(domain.DeliverySent)

	// A new code is a new email, followed from the start.
	_, err := f.svc.ResendCode(ctx, sess)
	noErr(t, err)
	state(domain.DeliveryQueued)
	id = f.mails(t, 1)[0].ID
	noErr(t, f.store.MarkMailFailed(ctx, id, "550 no such user", time.Time{}))
	state(domain.DeliveryFailed)

	// Unsent when its code expires: it will never come, sender or not.
	_, err = f.svc.ResendCode(ctx, sess)
	noErr(t, err)
	f.clock.Advance(f.svc.CodeValidity())
	state(domain.DeliveryFailed)

	f.svc.Abandon(sess)
	if _, err := f.svc.CodeDelivery(ctx, sess); !errors.Is(err, selfservice.ErrOutOfTurn) {
		t.Fatalf("delivery after leaving the code step: %v", err)
	}
}

// The codes a user may be sent are counted over every visit: pulling the
// card and inserting it again does not reset them. Once no code works and
// none can be sent, the visit ends, saying when one can be sent again:
// when the oldest code of the window leaves it.
func TestCodeLimitAcrossVisits(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	card := f.enrol(t, sstest.Holder{Blocked: true, Answers: answers})
	first := f.clock.Now().UTC()
	retryAt := first.Add(domain.DefaultCodePolicy.Window)

	// Visit 1: the answers' code, and one more.
	sess := f.identify(t, card)
	f.answerRight(t, sess)
	f.clock.Advance(time.Minute)
	_, err := f.svc.ResendCode(ctx, sess)
	noErr(t, err)
	sess.End() // the card is pulled

	// Visit 2: the third code, the last of the window.
	f.clock.Advance(time.Hour)
	sess = f.identify(t, card)
	f.answerRight(t, sess)
	code := f.lastCode(t, "Smartcard Unlock Code")
	// A fourth is refused, but the third still works: the visit goes on.
	_, err = f.svc.ResendCode(ctx, sess)
	var lim *selfservice.CodeLimitError
	if !errors.As(err, &lim) || !lim.RetryAt.Equal(retryAt.Truncate(time.Microsecond)) || lim.LiveUntil.IsZero() || lim.Code != nil {
		t.Fatalf("a fourth code: %v (%+v), want refused until %v with the latest code live", err, lim, retryAt)
	}
	if sess.Step() != selfservice.StepCodeSent {
		t.Fatalf("step %v with a live code, want the code step", sess.Step())
	}
	refusals(t, f, "unlock refused", 3)
	// Used up: no new code can be sent, so the visit ends, saying when.
	wrong := "000000"
	if wrong == code {
		wrong = "111111"
	}
	for range domain.DefaultCodePolicy.MaxTries - 1 {
		var ce *selfservice.CodeError
		if err := f.svc.EnterUnlockCode(ctx, sess, wrong); !errors.As(err, &ce) {
			t.Fatalf("wrong code: %v", err)
		}
	}
	err = f.svc.EnterUnlockCode(ctx, sess, wrong)
	if !errors.As(err, &lim) || !errors.Is(err, domain.ErrCodeTriesExhausted) || !errors.Is(err, selfservice.ErrTooManyCodes) ||
		!lim.RetryAt.Equal(retryAt.Truncate(time.Microsecond)) || !lim.LiveUntil.IsZero() {
		t.Fatalf("the last code used up: %v, want a dead code and no more until %v", err, retryAt)
	}
	if sess.Step() != selfservice.StepEnded {
		t.Fatalf("step %v, want the visit ended", sess.Step())
	}
	if ev := f.audited(t, domain.AuditCodeEntered); ev[0].Outcome != domain.OutcomeFailure ||
		!strings.Contains(ev[0].Detail, selfservice.ErrTooManyCodes.Error()) {
		t.Fatalf("code entry audited as %+v, want the refusal", ev[0])
	}

	// Visit 3, reinserted: refused before any question is asked, and
	// audited; still so a moment before the time shown.
	for _, at := range []time.Time{f.clock.Now(), retryAt.Add(-time.Second)} {
		f.clock.Advance(at.Sub(f.clock.Now()))
		sess = f.identify(t, card)
		if _, err := f.svc.StartUnlock(ctx, sess); !errors.As(err, &lim) || !lim.RetryAt.Equal(retryAt.Truncate(time.Microsecond)) {
			t.Fatalf("unlock at %v: %v, want no more codes until %v", at, err, retryAt)
		}
		if sess.Step() != selfservice.StepEnded {
			t.Fatalf("step %v after the refusal, want the visit ended", sess.Step())
		}
		if ev := f.audited(t, domain.AuditUnlockStarted); ev[0].Outcome != domain.OutcomeFailure ||
			!strings.Contains(ev[0].Detail, selfservice.ErrTooManyCodes.Error()) {
			t.Fatalf("unlock start audited as %+v, want the refusal", ev[0])
		}
	}
	// At the time shown, a code can be sent again, and unlocks.
	f.clock.Advance(retryAt.Sub(f.clock.Now()))
	sess = f.identify(t, card)
	f.answerRight(t, sess)
	noErr(t, f.svc.EnterUnlockCode(ctx, sess, f.lastCode(t, "Smartcard Unlock Code")))
}

// With the limit reached and the latest code still working, a new visit
// may answer the questions and enter that code; nothing new is sent.
func TestCodeLimitKeepsTheLiveCode(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	card := f.enrol(t, sstest.Holder{Blocked: true, Answers: answers})
	sess := f.identify(t, card)
	f.answerRight(t, sess)
	for range domain.DefaultCodePolicy.MaxSends - 1 {
		_, err := f.svc.ResendCode(ctx, sess)
		noErr(t, err)
	}
	code := f.lastCode(t, "Smartcard Unlock Code")
	sess.End()
	sess = f.identify(t, card)
	_, err := f.svc.StartUnlock(ctx, sess)
	noErr(t, err)
	_, err = f.svc.AnswerQuestions(ctx, sess, answerAll(sess, true))
	var lim *selfservice.CodeLimitError
	if !errors.As(err, &lim) || lim.LiveUntil.IsZero() || sess.Step() != selfservice.StepCodeSent {
		t.Fatalf("answers past the limit: %v at step %v, want the latest code still live", err, sess.Step())
	}
	noErr(t, f.svc.EnterUnlockCode(ctx, sess, code))
}

// NextSend: the time shown is when enough codes have left the window.
func TestCodePolicyNextSend(t *testing.T) {
	p := domain.CodePolicy{MaxSends: 2, Window: time.Hour}
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	if at := p.NextSend([]time.Time{t0}); !at.IsZero() {
		t.Fatalf("one of two sent: %v, want now", at)
	}
	if at := p.NextSend([]time.Time{t0, t0.Add(time.Minute)}); !at.Equal(t0.Add(time.Hour)) {
		t.Fatalf("two of two sent: %v, want an hour after the oldest", at)
	}
	// More than the limit (it was lowered): the one that leaves the count
	// at the limit decides.
	if at := p.NextSend([]time.Time{t0, t0.Add(time.Minute), t0.Add(2 * time.Minute)}); !at.Equal(t0.Add(time.Hour + time.Minute)) {
		t.Fatalf("three of two sent: %v", at)
	}
}

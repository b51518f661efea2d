package selfservice_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/secret"
	"github.com/smartcard-service-centre/kiosk/domain/selfservice"
	"github.com/smartcard-service-centre/kiosk/internal/sstest"
	"github.com/smartcard-service-centre/kiosk/storage/postgres"
	"github.com/smartcard-service-centre/kiosk/storage/postgres/pgtest"
)

// commitStore counts the commits the service makes: a transaction, or a
// write outside one (each its own commit). Inside a transaction it can
// make AppendAudit fail, as a store whose audit chain is broken does.
type commitStore struct {
	domain.Store
	mu        sync.Mutex
	commits   int
	failAudit bool
	// loseAnswer: the next transaction commits but its caller hears that
	// the commit got no answer, as when the connection goes during COMMIT.
	loseAnswer bool
}

func (c *commitStore) commit() {
	c.mu.Lock()
	c.commits++
	c.mu.Unlock()
}

// take returns the commits counted since the last take.
func (c *commitStore) take() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.commits
	c.commits = 0
	return n
}

func (c *commitStore) auditFails() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failAudit
}

var errAuditRefused = errors.New("append audit: the audit trail has been changed")

// auditTx is a transaction's queries, whose AppendAudit may fail.
type auditTx struct {
	domain.Queries
	c *commitStore
}

func (t auditTx) AppendAudit(ctx context.Context, e domain.AuditEvent) (domain.AuditEvent, error) {
	if t.c.auditFails() {
		return domain.AuditEvent{}, errAuditRefused
	}
	return t.Queries.AppendAudit(ctx, e)
}

func (c *commitStore) InTx(ctx context.Context, fn func(q domain.Queries) error) error {
	err := c.Store.InTx(ctx, func(q domain.Queries) error { return fn(auditTx{q, c}) })
	if err == nil {
		c.commit()
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.loseAnswer {
			c.loseAnswer = false
			return fmt.Errorf("commit: %w: %w", domain.ErrCommitUnknown, domain.ErrStoreUnavailable)
		}
	}
	return err
}

// The writes the self-service makes; each outside a transaction is a
// commit of its own.

func (c *commitStore) AppendAudit(ctx context.Context, e domain.AuditEvent) (domain.AuditEvent, error) {
	if c.auditFails() {
		return domain.AuditEvent{}, errAuditRefused
	}
	c.commit()
	return c.Store.AppendAudit(ctx, e)
}

func (c *commitStore) DrawChallenge(ctx context.Context, id domain.UserID, p []domain.QuestionID) ([]domain.QuestionID, error) {
	c.commit()
	return c.Store.DrawChallenge(ctx, id, p)
}

func (c *commitStore) PassChallenge(ctx context.Context, id domain.UserID) error {
	c.commit()
	return c.Store.PassChallenge(ctx, id)
}

func (c *commitStore) RecordFailedAttempt(ctx context.Context, id domain.UserID, limit int, now time.Time) (domain.Registration, error) {
	c.commit()
	return c.Store.RecordFailedAttempt(ctx, id, limit, now)
}

func (c *commitStore) RecordCodeFailure(ctx context.Context, id int64) (domain.OneTimeCode, error) {
	c.commit()
	return c.Store.RecordCodeFailure(ctx, id)
}

func (c *commitStore) UseCode(ctx context.Context, id int64, now time.Time) error {
	c.commit()
	return c.Store.UseCode(ctx, id, now)
}

func (c *commitStore) CreateCode(ctx context.Context, code domain.OneTimeCode) (domain.OneTimeCode, error) {
	c.commit()
	return c.Store.CreateCode(ctx, code)
}

func (c *commitStore) EnqueueMail(ctx context.Context, m domain.Mail) (domain.Mail, error) {
	c.commit()
	return c.Store.EnqueueMail(ctx, m)
}

func (c *commitStore) BeginCardWrite(ctx context.Context, w domain.CardWriteIntent) error {
	c.commit()
	return c.Store.BeginCardWrite(ctx, w)
}

// newPGFixture is newFixture on a throwaway PostgreSQL database (skipped
// without a server, as the store tests are): the folded steps run their
// store calls inside one transaction, where PostgreSQL, unlike SQLite,
// gives up the whole transaction at a statement's error.
func newPGFixture(t *testing.T) *fixture {
	t.Helper()
	keys, err := secret.NewKeys(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	st, err := postgres.Open(t.Context(), pgtest.NewDatabase(t), postgres.WithAuditChain(keys))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: st, keys: keys, ca: sstest.NewCA(t), clock: sstest.NewClock(time.Now().UTC())}
	f.svc = selfservice.New(selfservice.Config{Store: st, Keys: keys, CA: f.ca, Clock: f.clock, Argon2: cheap, Terminal: "test"})
	return f
}

// onBothStores runs test on a fixture over each store.
func onBothStores(t *testing.T, test func(t *testing.T, f *fixture)) {
	for _, s := range []struct {
		name string
		new  func(*testing.T) *fixture
	}{{"sqlite", newFixture}, {"postgres", newPGFixture}} {
		t.Run(s.name, func(t *testing.T) { test(t, s.new(t)) })
	}
}

func (c *commitStore) withCommits(f *fixture) *commitStore {
	f.svc = selfservice.New(selfservice.Config{Store: c, Keys: f.keys, CA: f.ca, Clock: f.clock, Argon2: cheap, Terminal: "test"})
	return c
}

// Each step of an unlock writes its state change and its audit rows in
// one commit (the unlock itself in two: its intent before the card is
// touched, its outcome after), right or wrong, and the rows keep the
// order of what happened.
func TestEachStepCommitsOnce(t *testing.T) { onBothStores(t, testEachStepCommitsOnce) }

func testEachStepCommitsOnce(t *testing.T, f *fixture) {
	cs := (&commitStore{Store: f.store}).withCommits(f)
	ctx := t.Context()
	card := f.enrol(t, sstest.Holder{Blocked: true, Answers: answers})
	step := func(name string, want int, err error) {
		t.Helper()
		noErr(t, err)
		if got := cs.take(); got != want {
			t.Errorf("%s: %d commits, want %d", name, got, want)
		}
	}
	sess, err := f.svc.Identify(ctx, card)
	step("identify (its audit row)", 1, err)
	_, err = f.svc.StartUnlock(ctx, sess)
	step("questions (the draw)", 1, err)

	_, err = f.svc.AnswerQuestions(ctx, sess, answerAll(sess, false))
	var ae *selfservice.AnswerError
	if !errors.As(err, &ae) || ae.AttemptsLeft != selfservice.MaxFailedAttempts-1 {
		t.Fatalf("wrong answers: %v", err)
	}
	step("wrong answers", 1, nil)
	before := len(f.auditLog(t))
	_, err = f.svc.AnswerQuestions(ctx, sess, answerAll(sess, true))
	step("right answers (count reset, code, mail, two audit rows)", 1, err)
	if reg := f.registration(t, "555001799894"); reg.FailedAttempts != 0 || reg.LockedOut() {
		t.Fatalf("after right answers: %d failed attempts, locked out %v", reg.FailedAttempts, reg.LockedOut())
	}
	ev := f.auditLog(t) // newest first
	if len(ev) != before+2 || ev[1].Action != domain.AuditQuestionsAnswered || ev[1].Outcome != domain.OutcomeSuccess ||
		ev[0].Action != domain.AuditCodeIssued || ev[0].Outcome != domain.OutcomeSuccess {
		t.Fatalf("audit rows of the right answers %+v, want the answers then the code", ev[:min(2, len(ev))])
	}

	code := f.lastCode(t, "Smartcard Unlock Code")
	wrong := "000000"
	if wrong == code {
		wrong = "111111"
	}
	var ce *selfservice.CodeError
	if err := f.svc.EnterUnlockCode(ctx, sess, wrong); !errors.As(err, &ce) {
		t.Fatalf("wrong code: %v", err)
	}
	step("wrong code", 1, nil)
	step("right code", 1, f.svc.EnterUnlockCode(ctx, sess, code))
	step("unlock (intent, then outcome)", 2, f.svc.CompleteUnlock(ctx, sess, card, "Kx9!a7", "Kx9!a7"))
	if err := domainVerify(t, f); err != nil {
		t.Fatal(err)
	}
}

// A wrong set of answers is counted even when its audit row cannot be
// written (the audit trail refuses appends once tampered with): the
// step's transaction fails, and the count is then written on its own.
func TestWrongAnswersCountWhenTheAuditRefuses(t *testing.T) {
	onBothStores(t, testWrongAnswersCountWhenTheAuditRefuses)
}

func testWrongAnswersCountWhenTheAuditRefuses(t *testing.T, f *fixture) {
	cs := (&commitStore{Store: f.store}).withCommits(f)
	sess := f.identify(t, f.enrol(t, sstest.Holder{Blocked: true, Answers: answers}))
	_, err := f.svc.StartUnlock(t.Context(), sess)
	noErr(t, err)
	cs.mu.Lock()
	cs.failAudit = true
	cs.mu.Unlock()
	for left := selfservice.MaxFailedAttempts - 1; left > 0; left-- {
		_, err := f.svc.AnswerQuestions(t.Context(), sess, answerAll(sess, false))
		var ae *selfservice.AnswerError
		if !errors.As(err, &ae) || ae.AttemptsLeft != left {
			t.Fatalf("wrong answers with the audit refusing: %v, want %d attempts left", err, left)
		}
	}
	if _, err := f.svc.AnswerQuestions(t.Context(), sess, answerAll(sess, false)); !errors.Is(err, domain.ErrLockedOut) {
		t.Fatalf("last wrong answers with the audit refusing: %v", err)
	}
	if reg := f.registration(t, "555001799894"); reg.FailedAttempts != selfservice.MaxFailedAttempts || !reg.LockedOut() {
		t.Fatalf("%d failed attempts, locked out %v: wrong answers went uncounted", reg.FailedAttempts, reg.LockedOut())
	}
}

// A wrong code is counted even when its audit row cannot be written, so
// its tries still run out.
func TestWrongCodesCountWhenTheAuditRefuses(t *testing.T) {
	onBothStores(t, testWrongCodesCountWhenTheAuditRefuses)
}

func testWrongCodesCountWhenTheAuditRefuses(t *testing.T, f *fixture) {
	cs := (&commitStore{Store: f.store}).withCommits(f)
	sess := f.identify(t, f.enrol(t, sstest.Holder{Blocked: true, Answers: answers}))
	f.answerRight(t, sess)
	code := f.lastCode(t, "Smartcard Unlock Code")
	wrong := "000000"
	if wrong == code {
		wrong = "111111"
	}
	cs.mu.Lock()
	cs.failAudit = true
	cs.mu.Unlock()
	for range domain.DefaultCodePolicy.MaxTries - 1 {
		if err := f.svc.EnterUnlockCode(t.Context(), sess, wrong); !errors.Is(err, domain.ErrCodeInvalid) {
			t.Fatalf("wrong code with the audit refusing: %v", err)
		}
	}
	if err := f.svc.EnterUnlockCode(t.Context(), sess, wrong); !errors.Is(err, domain.ErrCodeTriesExhausted) {
		t.Fatalf("last wrong code with the audit refusing: %v, want its tries used up", err)
	}
	if err := f.svc.EnterUnlockCode(t.Context(), sess, code); !errors.Is(err, domain.ErrCodeTriesExhausted) {
		t.Fatalf("right code after its tries ran out: %v", err)
	}
}

// domainVerify checks the fixture's audit chain.
func domainVerify(t *testing.T, f *fixture) error {
	t.Helper()
	rep, err := domain.VerifyAudit(t.Context(), f.store, f.keys)
	if err == nil && rep.Rows == 0 {
		err = errors.New("no audit rows")
	}
	return err
}

// A step whose COMMIT got no answer may have been recorded: it is not
// written again, one by one, as a transaction known to be undone is. So a
// wrong set of answers is counted once, right answers send one code, and
// the holder is told the store is unavailable.
func TestCommitWithoutAnswerIsNotWrittenTwice(t *testing.T) {
	onBothStores(t, testCommitWithoutAnswerIsNotWrittenTwice)
}

func testCommitWithoutAnswerIsNotWrittenTwice(t *testing.T, f *fixture) {
	cs := (&commitStore{Store: f.store}).withCommits(f)
	ctx := t.Context()
	sess := f.identify(t, f.enrol(t, sstest.Holder{Blocked: true, Answers: answers}))
	_, err := f.svc.StartUnlock(ctx, sess)
	noErr(t, err)
	lose := func() {
		cs.mu.Lock()
		cs.loseAnswer = true
		cs.mu.Unlock()
	}
	lose()
	if _, err := f.svc.AnswerQuestions(ctx, sess, answerAll(sess, false)); !errors.Is(err, domain.ErrStoreUnavailable) {
		t.Fatalf("wrong answers, commit without answer: %v, want the store unavailable", err)
	}
	if reg := f.registration(t, "555001799894"); reg.FailedAttempts != 1 {
		t.Fatalf("%d failed attempts recorded for one wrong try", reg.FailedAttempts)
	}
	mails := func() int {
		n := 0
		for _, e := range f.auditLog(t) {
			if e.Action == domain.AuditCodeIssued {
				n++
			}
		}
		return n
	}
	lose()
	if _, err := f.svc.AnswerQuestions(ctx, sess, answerAll(sess, true)); !errors.Is(err, domain.ErrStoreUnavailable) {
		t.Fatalf("right answers, commit without answer: %v, want the store unavailable", err)
	}
	if n := mails(); n != 1 {
		t.Fatalf("%d codes issued for one set of right answers", n)
	}
}

package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
)

// LossyLink is a store's way to its server that can lose the server's
// answer to a write after the write committed: the case where a store
// cannot know whether its write took.
type LossyLink interface {
	// LoseNextCommit cuts the connection once the next write has
	// committed, before the store hears so.
	LoseNextCommit()
	// Lost counts the answers lost so far.
	Lost() int
}

// WithLossyLink gives the suite a store reached through a LossyLink (on
// the same database as open's), for the tests of what a store does when
// a commit's answer is lost. Stores with no connection to lose (SQLite)
// leave it out and those tests are skipped.
func WithLossyLink(open func(t *testing.T) (domain.Store, LossyLink)) Option {
	return func(st *suite) { st.lossyOpen = open }
}

// testTwinWrites: a store tells writes apart by something other than
// their content (keys it makes up per write, if any): two identical
// audit events are two links of the chain, two identical mails two
// mails, and a second identical code retires the first.
func testTwinWrites(t *testing.T, s domain.Store) {
	ctx := t.Context()
	subject := newUserID()
	e := domain.AuditEvent{At: base, Action: domain.AuditCodeIssued, Outcome: domain.OutcomeSuccess, SubjectID: subject, Terminal: "kiosk-twin"}
	a1, a2 := appendAudit(t, s, e), appendAudit(t, s, e)
	if a1.ID == a2.ID || string(a1.MAC) == string(a2.MAC) {
		t.Fatalf("two identical audit events stored as one: %d and %d", a1.ID, a2.ID)
	}
	got, err := s.ListAudit(ctx, domain.AuditFilter{SubjectID: subject})
	noErr(t, "list audit", err)
	equal(t, "identical events", got, []domain.AuditEvent{a2, a1})
	_, err = domain.VerifyAudit(ctx, s, Chain)
	noErr(t, "verify audit", err)

	m := newMail(base.AddDate(40, 0, 0), time.Time{})
	m1, m2 := enqueue(t, s, m), enqueue(t, s, m)
	if m1.ID == m2.ID {
		t.Fatalf("two identical mails stored as one (%d)", m1.ID)
	}

	u := putUser(t, s, "Test", "Twin")
	c := newCode(u.ID, domain.PurposeUnlock, "", base)
	c1, c2 := createCode(t, s, c), createCode(t, s, c)
	if c1.ID == c2.ID {
		t.Fatalf("two identical codes stored as one (%d)", c1.ID)
	}
	equal(t, "latest code", latest(t, s, u.ID, domain.PurposeUnlock), c2)
}

// lossy opens the suite's store behind a lossy link, or skips.
func (st *suite) lossy(t *testing.T) (domain.Store, LossyLink) {
	t.Helper()
	if st.lossyOpen == nil {
		t.Skip("this store has no connection whose answers can be lost")
	}
	return st.lossyOpen(t)
}

// lost arms link, runs write and checks the answer was indeed lost (else
// the test would prove nothing).
func lost(t *testing.T, link LossyLink, write func()) {
	t.Helper()
	before := link.Lost()
	link.LoseNextCommit()
	write()
	if link.Lost() != before+1 {
		t.Fatalf("the link lost %d answers, want 1: the test did not test", link.Lost()-before)
	}
}

// testLostAnswerKeyedWrites: the writes that record what already
// happened (audit rows, mail, codes) are written once and reported
// written when the answer to their commit is lost: the store tries again
// and finds what its first attempt committed. The audit chain gains one
// link, not two, and stays valid.
func (st *suite) testLostAnswerKeyedWrites(t *testing.T, _ domain.Store) {
	s, link := st.lossy(t)
	ctx := t.Context()
	subject := newUserID()
	var e domain.AuditEvent
	lost(t, link, func() {
		e = appendAudit(t, s, domain.AuditEvent{At: base, Action: domain.AuditCodeIssued, Outcome: domain.OutcomeSuccess,
			SubjectID: subject, Terminal: "kiosk-lossy", Detail: "answer lost"})
	})
	got, err := s.ListAudit(ctx, domain.AuditFilter{SubjectID: subject})
	noErr(t, "list audit", err)
	equal(t, "audit rows after a lost answer", got, []domain.AuditEvent{e})
	_, err = domain.VerifyAudit(ctx, s, Chain)
	noErr(t, "verify audit after a lost answer", err)

	m := newMail(base.AddDate(45, 0, 0), time.Time{})
	var sent domain.Mail
	lost(t, link, func() { sent = enqueue(t, s, m) })
	got2, err := s.GetMail(ctx, sent.ID)
	noErr(t, "get mail", err)
	equal(t, "mail after a lost answer", got2, sent)
	equal(t, "copies of the mail", mailCopies(t, s, m.Subject), 1)

	u := putUser(t, s, "Test", "Lossy")
	first := createCode(t, s, newCode(u.ID, domain.PurposeUnlock, "", base))
	var c domain.OneTimeCode
	lost(t, link, func() { c = createCode(t, s, newCode(u.ID, domain.PurposeUnlock, "", base.Add(time.Minute))) })
	equal(t, "latest code after a lost answer", latest(t, s, u.ID, domain.PurposeUnlock), c)
	if c.Used() {
		t.Fatal("the code written through a lost answer was retired by its own retry")
	}
	times, err := s.CodesCreatedAfter(ctx, u.ID, domain.PurposeUnlock, first.CreatedAt)
	noErr(t, "codes created after", err)
	equal(t, "codes after the first", times, []time.Time{c.CreatedAt})
}

// testLostAnswerOtherWrites: any other write whose commit's answer is
// lost is reported unavailable and never tried again blindly (a failed
// attempt counted twice would lock a card holder out early), and neither
// is a caller's transaction.
func (st *suite) testLostAnswerOtherWrites(t *testing.T, _ domain.Store) {
	s, link := st.lossy(t)
	ctx := t.Context()
	u := putUser(t, s, "Test", "Unlucky")
	noErr(t, "put registration", s.PutRegistration(ctx, domain.Registration{UserID: u.ID, Email: "test.unlucky@nhs.net",
		Answers: answers(1, 2, 3, 4), RegisteredAt: stored(base)}))
	lost(t, link, func() {
		_, err := s.RecordFailedAttempt(ctx, u.ID, 3, base.Add(time.Minute))
		if !errors.Is(err, domain.ErrStoreUnavailable) {
			t.Fatalf("failed attempt with its answer lost: %v, want ErrStoreUnavailable", err)
		}
	})
	r, err := s.GetRegistration(ctx, u.ID)
	noErr(t, "get registration", err)
	equal(t, "failed attempts counted", r.FailedAttempts, 1)

	// One statement outside a transaction, as much as a transaction.
	queued := enqueue(t, s, newMail(base.AddDate(46, 0, 0), time.Time{}))
	lost(t, link, func() {
		err := s.MarkMailFailed(ctx, queued.ID, "relay refused", base.AddDate(46, 0, 1))
		if !errors.Is(err, domain.ErrStoreUnavailable) {
			t.Fatalf("failed delivery with its answer lost: %v, want ErrStoreUnavailable", err)
		}
	})
	failed, err := s.GetMail(ctx, queued.ID)
	noErr(t, "get mail", err)
	equal(t, "failed deliveries counted", failed.Attempts, 1)

	m := newMail(base.AddDate(46, 0, 0), time.Time{})
	calls := 0
	lost(t, link, func() {
		err := s.InTx(ctx, func(q domain.Queries) error {
			calls++
			_, err := q.EnqueueMail(ctx, m)
			return err
		})
		if !errors.Is(err, domain.ErrStoreUnavailable) {
			t.Fatalf("transaction with its answer lost: %v, want ErrStoreUnavailable", err)
		}
	})
	equal(t, "transaction function calls", calls, 1)
	equal(t, "copies of the transaction's mail", mailCopies(t, s, m.Subject), 1)
}

// mailCopies counts the newest 20 mails with subject (each test's
// subject is its own).
func mailCopies(t *testing.T, s domain.Queries, subject string) int {
	t.Helper()
	recent, err := s.ListMail(t.Context(), 20)
	noErr(t, "list mail", err)
	n := 0
	for _, r := range recent {
		if r.Subject == subject {
			n++
		}
	}
	return n
}

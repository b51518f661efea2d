// Package storetest is the conformance suite every domain.Store must pass.
// Each store's tests call Run with a function that opens a store on an
// empty or shared database; the suite makes its own unique IDs, so stores
// opened on one database by several subtests do not disturb each other.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/secret"
)

// Chain is the audit chain key stores under test are opened with
// (storage's WithAuditChain): the real keys, from a fixed test KEK.
var Chain = func() *secret.Keys {
	k, err := secret.NewKeys([]byte("storetest key-encryption key 32B"))
	if err != nil {
		panic(err) // a constant of the right size
	}
	return k
}()

// Option configures Run.
type Option func(*suite)

// WithExec gives the suite raw SQL on a store that open returned, for what
// the port cannot express (that UPDATE and DELETE on audit_events fail).
func WithExec(exec func(ctx context.Context, s domain.Store, query string) error) Option {
	return func(st *suite) { st.exec = exec }
}

// WithReopen gives the suite a second store on the database s uses, with
// its own connections: two kiosks sharing one database.
func WithReopen(reopen func(t *testing.T, s domain.Store) domain.Store) Option {
	return func(st *suite) { st.reopen = reopen }
}

type suite struct {
	open      func(t *testing.T) domain.Store
	exec      func(ctx context.Context, s domain.Store, query string) error
	reopen    func(t *testing.T, s domain.Store) domain.Store
	lossyOpen func(t *testing.T) (domain.Store, LossyLink)
}

// pair is two stores on one database: s and, when the suite can reopen
// it, a second one with its own connections (else s again).
func (st *suite) pair(t *testing.T, s domain.Store) [2]domain.Store {
	if st.reopen == nil {
		t.Log("no second connection pool: racing on one")
		return [2]domain.Store{s, s}
	}
	return [2]domain.Store{s, st.reopen(t, s)}
}

// Run runs the suite; open must return a migrated store and close it at
// the test's cleanup.
func Run(t *testing.T, open func(t *testing.T) domain.Store, opts ...Option) {
	st := &suite{open: open}
	for _, o := range opts {
		o(st)
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, s domain.Store)
	}{
		{"Ping", testPing},
		{"Users/RoundTrip", testUserRoundTrip},
		{"Users/NotFound", testUserNotFound},
		{"Users/RejectsMalformedID", testUserMalformed},
		{"Positions", testPositions},
		{"Smartcards", testSmartcards},
		{"CardSecrets", testCardSecrets},
		{"Registrations", testRegistrations},
		{"Registrations/AnswerSets", testAnswerSets},
		{"Registrations/FailedAttempts", testFailedAttempts},
		{"PendingRegistrations", testPending},
		{"Registrations/Challenge", testChallenge},
		{"Smartcards/RecordRenewal", testRecordRenewal},
		{"Smartcards/NeedsRepair", testNeedsRepair},
		{"Smartcards/Cancel", testCancelSmartcard},
		{"Codes", testCodes},
		{"Codes/UsableOnlyOnce", testCodeUsable},
		{"Codes/CreatedAfter", testCodesCreatedAfter},
		{"Mail/EnqueueList", testMailEnqueueList},
		{"Mail/ClaimOrder", testMailClaimOrder},
		{"Mail/Lease", testMailLease},
		{"Mail/Expired", testMailExpired},
		{"Mail/Sent", testMailSent},
		{"Mail/Failed", testMailFailed},
		{"Mail/InTx", testMailInTx},
		{"Mail/Get", testGetMail},
		{"Mail/ExpireReports", testMailExpireReports},
		{"Audit", testAudit},
		{"Audit/Pages", testAuditPages},
		{"Audit/AppendOnly", st.testAuditAppendOnly},
		{"Audit/Chain", testAuditChain},
		{"CardWrites", testCardWrites},
		{"CardWrites/Open", testOpenCardWrites},
		{"CardWrites/SettleInTx", testCardWriteSettleInTx},
		{"CardWrites/SettledOnce", st.testCardWriteSettledOnce},
		{"CardWrites/PendingSecrets", testPendingSecrets},
		{"InTx/Commit", testTxCommit},
		{"InTx/Rollback", testTxRollback},
		{"InTx/Panic", testTxPanic},
		{"InTx/Nested", testTxNested},
		{"Concurrency/RecordFailedAttempt", st.testConcurrentFailedAttempts},
		{"Concurrency/RecordCodeFailure", st.testConcurrentCodeFailures},
		{"Concurrency/UseCode", testConcurrentUseCode},
		{"Concurrency/ClaimMail", testConcurrentClaimMail},
		{"Concurrency/ExpireMail", st.testConcurrentExpireMail},
		{"Concurrency/AuditChain", st.testConcurrentAuditChain},
		{"Concurrency/SettleCardWrite", st.testConcurrentSettle},
		{"Concurrency/CancelSmartcard", st.testConcurrentCancel},
		{"Import", testImport},
		{"Retries/TwinWrites", testTwinWrites},
		{"Retries/LostAnswerKeyedWrites", st.testLostAnswerKeyedWrites},
		{"Retries/LostAnswerOtherWrites", st.testLostAnswerOtherWrites},
	}
	tests = append(tests, searchTests...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := st.open(t)
			tc.fn(t, s)
		})
	}
}

// stored is what a store gives back for a timestamp: UTC, to the
// microsecond (PostgreSQL's precision, which SQLite matches).
func stored(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Microsecond)
}

// base has nanoseconds and a non-UTC zone, to prove both are normalised.
var base = time.Date(2026, 3, 14, 9, 26, 53, 589793238, time.FixedZone("CET", 3600))

func newUserID() domain.UserID { return domain.UserID(fmt.Sprintf("%012d", rand.Int64N(1e12))) }

func newSerial() domain.CardSerial { return domain.CardSerial(fmt.Sprintf("%016X", rand.Uint64())) }

// newTag makes names unique to one test run.
func newTag() string {
	const letters = "bcdfghjkmnpqrstvwxz"
	b := make([]byte, 8)
	for i := range b {
		b[i] = letters[rand.IntN(len(letters))]
	}
	return string(b)
}

func equal[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

func noErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// isErr checks err matches target and carries the operation's context.
func isErr(t *testing.T, what string, err, target error, context string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
	if context != "" && !strings.HasPrefix(err.Error(), context+": ") {
		t.Fatalf("%s: error %q lacks context %q", what, err, context)
	}
}

// failsPlainly checks err is an error but not one of the store sentinels.
func failsPlainly(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: succeeded, want an error", what)
	}
	if errors.Is(err, domain.ErrNotFound) || errors.Is(err, domain.ErrConflict) {
		t.Fatalf("%s: got %v, want a constraint error that is not a store sentinel", what, err)
	}
}

func putUser(t *testing.T, s domain.Queries, given, family string) domain.User {
	t.Helper()
	u := domain.User{ID: newUserID(), GivenName: given, FamilyName: family, Email: "test.user@nhs.net", CreatedAt: stored(base)}
	noErr(t, "put user", s.PutUser(t.Context(), u))
	return u
}

func putCard(t *testing.T, s domain.Queries, user domain.UserID, issued time.Time) domain.Smartcard {
	t.Helper()
	c := domain.Smartcard{Serial: newSerial(), UserID: user, Type: "PIV", IssuedAt: stored(issued),
		CertExpiry: stored(issued.AddDate(2, 0, 0))}
	noErr(t, "put smartcard", s.PutSmartcard(t.Context(), c))
	return c
}

func answers(qs ...int) []domain.Answer {
	var out []domain.Answer
	for _, q := range qs {
		out = append(out, domain.Answer{Question: domain.QuestionID(q), Hash: fmt.Sprintf("$argon2id$v=19$m=65536,t=1,p=4$salt%d$hash%d", q, q)})
	}
	return out
}

func testPing(t *testing.T, s domain.Store) {
	noErr(t, "ping", s.Ping(t.Context()))
}

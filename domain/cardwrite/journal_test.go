package cardwrite_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/cardwrite"
	"github.com/smartcard-service-centre/kiosk/domain/secret"
	"github.com/smartcard-service-centre/kiosk/storage/spool"
	"github.com/smartcard-service-centre/kiosk/storage/sqlite"
)

var now = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

type fixedClock struct{}

func (fixedClock) Now() time.Time { return now }

// failingSpool is the real spool (storage/spool) whose Put fails while
// fail is set, as on a full disk.
type failingSpool struct {
	*spool.Dir
	fail error
}

func (s *failingSpool) Put(o domain.CardWriteOutcome) error {
	if s.fail != nil {
		return s.fail
	}
	return s.Dir.Put(o)
}

func (s *failingSpool) len() int {
	kept, err := s.List()
	if err != nil {
		panic(err) // the test's own spool directory
	}
	return len(kept)
}

// outage is a store whose transactions fail while it is down.
type outage struct {
	domain.Store
	down   atomic.Bool
	refuse atomic.Pointer[error] // the store answers every transaction with this
}

var errUnreachable = fmt.Errorf("%w: connect: connection refused", domain.ErrStoreUnavailable)

func (o *outage) InTx(ctx context.Context, fn func(q domain.Queries) error) error {
	if o.down.Load() {
		return errUnreachable
	}
	if err := o.refuse.Load(); err != nil {
		return *err
	}
	return o.Store.InTx(ctx, fn)
}

type fixture struct {
	store   *outage
	spool   *failingSpool
	journal *cardwrite.Journal
	card    domain.Smartcard
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	keys, err := secret.NewKeys(make([]byte, secret.KEKSize))
	if err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "kiosk.db"), sqlite.WithAuditChain(keys))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	card := domain.Smartcard{Serial: "4082A001132F2817", UserID: "555001799894", Type: "PIV", IssuedAt: now.AddDate(-2, 0, 0),
		CertExpiry: now.AddDate(0, 0, 40)}
	if err := s.PutUser(t.Context(), domain.User{ID: card.UserID, GivenName: "Test", FamilyName: "Person"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSmartcard(t.Context(), card); err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: &outage{Store: s}, spool: newSpool(t), card: card}
	f.journal = cardwrite.New(cardwrite.Config{Store: f.store, Spool: f.spool, Clock: fixedClock{}, Terminal: "booth-1"})
	return f
}

func newSpool(t *testing.T) *failingSpool {
	t.Helper()
	d, err := spool.Open(filepath.Join(t.TempDir(), "spool"))
	if err != nil {
		t.Fatal(err)
	}
	return &failingSpool{Dir: d}
}

func (f *fixture) begin(t *testing.T, op domain.CardWriteOp) domain.CardWriteIntent {
	t.Helper()
	w, err := f.journal.Begin(t.Context(), domain.CardWriteIntent{Op: op, Serial: f.card.Serial, SubjectID: f.card.UserID,
		ActorID: f.card.UserID, Visit: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// outcome is a successful outcome of w with its audit row and a
// notification.
func outcome(w domain.CardWriteIntent) domain.CardWriteOutcome {
	e := domain.AuditEvent{At: now, Action: w.Op.Action(), Outcome: domain.OutcomeSuccess, ActorID: w.ActorID,
		SubjectID: w.SubjectID, CardSerial: w.Serial, Terminal: w.Terminal}
	return domain.CardWriteOutcome{Intent: w, At: now, Outcome: domain.OutcomeSuccess, Audit: e,
		Mails: []domain.Mail{{To: "test.person@nhs.net", Subject: "Your Smartcard has been unlocked", Body: "Hello", CreatedAt: now}}}
}

// counts is what the store holds: audit rows of the card, mails, and its
// open intents.
func (f *fixture) counts(t *testing.T) (audit, mails, open int) {
	t.Helper()
	ctx := t.Context()
	ev, err := f.store.ListAudit(ctx, domain.AuditFilter{CardSerial: f.card.Serial})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := f.store.ListMail(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := f.store.OpenCardWrites(ctx, f.card.Serial)
	if err != nil {
		t.Fatal(err)
	}
	return len(ev), len(ms), len(ws)
}

func (f *fixture) want(t *testing.T, when string, audit, mails, open, spooled int) {
	t.Helper()
	a, m, o := f.counts(t)
	if a != audit || m != mails || o != open || f.spool.len() != spooled {
		t.Fatalf("%s: %d audit rows, %d mails, %d open intents, %d spooled; want %d, %d, %d, %d",
			when, a, m, o, f.spool.len(), audit, mails, open, spooled)
	}
}

// An outcome is written once: finishing it again, or replaying a copy,
// writes nothing more.
func TestFinishWritesOnce(t *testing.T) {
	f := newFixture(t)
	w := f.begin(t, domain.CardWriteSelfUnlock)
	f.want(t, "after Begin", 0, 0, 1, 0)
	for i := range 2 {
		if err := f.journal.Finish(t.Context(), outcome(w)); err != nil {
			t.Fatalf("finish %d: %v", i+1, err)
		}
		f.want(t, "after Finish", 1, 1, 0, 0)
	}
	if err := f.spool.Put(outcome(w)); err != nil {
		t.Fatal(err)
	}
	if n, err := f.journal.Replay(t.Context()); n != 1 || err != nil {
		t.Fatalf("replay of a recorded outcome: %d, %v", n, err)
	}
	f.want(t, "after a replay", 1, 1, 0, 0)
}

// With the store away the outcome is spooled (ErrRecordDelayed); a replay
// while it is still away keeps it, in order; once it is back, one replay
// writes each outcome once and empties the spool.
func TestSpooledWhileTheStoreIsAway(t *testing.T) {
	f := newFixture(t)
	first, second := f.begin(t, domain.CardWriteSelfUnlock), f.begin(t, domain.CardWriteSelfUnlock)
	f.store.down.Store(true)
	for _, w := range []domain.CardWriteIntent{first, second} {
		if err := f.journal.Finish(t.Context(), outcome(w)); !errors.Is(err, domain.ErrRecordDelayed) || !errors.Is(err, errUnreachable) {
			t.Fatalf("finish with the store away: %v, want ErrRecordDelayed wrapping the cause", err)
		}
	}
	if n, err := f.journal.Replay(t.Context()); n != 0 || !errors.Is(err, errUnreachable) {
		t.Fatalf("replay with the store away: %d, %v", n, err)
	}
	f.store.down.Store(false)
	f.want(t, "before the replay", 0, 0, 2, 2)
	if n, err := f.journal.Replay(t.Context()); n != 2 || err != nil {
		t.Fatalf("replay: %d, %v", n, err)
	}
	f.want(t, "after the replay", 2, 2, 0, 0)
	if n, err := f.journal.Replay(t.Context()); n != 0 || err != nil {
		t.Fatalf("second replay: %d, %v", n, err)
	}
}

// Outcomes that cannot be kept are said to be lost, never silently.
func TestNotRecorded(t *testing.T) {
	tests := []struct {
		name  string
		setup func(f *fixture, o *domain.CardWriteOutcome)
	}{
		{"store away and no spool", func(f *fixture, o *domain.CardWriteOutcome) {
			f.journal = cardwrite.New(cardwrite.Config{Store: f.store, Clock: fixedClock{}})
			f.store.down.Store(true)
		}},
		{"store away and the spool failing", func(f *fixture, o *domain.CardWriteOutcome) {
			f.spool.fail = errors.New("no space left on device")
			f.store.down.Store(true)
		}},
		{"a mail that carries a code", func(f *fixture, o *domain.CardWriteOutcome) {
			o.Mails[0].NotAfter = now.Add(15 * time.Minute)
		}},
		{"no audit row", func(f *fixture, o *domain.CardWriteOutcome) { o.Audit = domain.AuditEvent{} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			w := f.begin(t, domain.CardWriteSelfUnlock)
			o := outcome(w)
			tt.setup(f, &o)
			if err := f.journal.Finish(t.Context(), o); !errors.Is(err, domain.ErrNotRecorded) {
				t.Fatalf("finish: %v, want ErrNotRecorded", err)
			}
			f.store.down.Store(false)
			f.want(t, "after the failure", 0, 0, 1, 0)
		})
	}
}

// A renewal the store refuses to record (the card was cancelled
// meanwhile) is still recorded, as a failure saying why, not spooled for
// ever.
func TestRefusedRenewalIsRecordedAsAFailure(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	w := f.begin(t, domain.CardWriteSelfRenew)
	cancelled := f.card
	cancelled.CancelledAt, cancelled.CancelReason = now, "Lost"
	if err := f.store.PutSmartcard(ctx, cancelled); err != nil {
		t.Fatal(err)
	}
	o := outcome(w)
	o.Mails = nil
	o.Renewal = &domain.RenewalRecord{CertExpiry: now.AddDate(2, 0, 0), CardAuthCert: []byte{1, 2, 3}}
	err := f.journal.Finish(ctx, o)
	if !errors.Is(err, domain.ErrCardCancelled) || errors.Is(err, domain.ErrRecordDelayed) {
		t.Fatalf("finish: %v, want the refusal", err)
	}
	f.want(t, "after the refusal", 1, 0, 0, 0)
	ev, err := f.store.ListAudit(ctx, domain.AuditFilter{CardSerial: f.card.Serial})
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.store.GetCardWrite(ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ev[0].Outcome != domain.OutcomeFailure || got.Outcome != domain.OutcomeFailure {
		t.Fatalf("recorded %+v and %+v, want failures", ev[0], got)
	}
	if rec, _ := f.store.GetSmartcard(ctx, f.card.Serial); rec.RenewalsSinceOperator != 0 {
		t.Fatalf("renewal recorded on a cancelled card: %+v", rec)
	}
}

// A spooled outcome whose intent the store does not hold (restored from a
// backup) writes the intent too.
func TestReplayWritesAMissingIntent(t *testing.T) {
	f := newFixture(t)
	w := domain.CardWriteIntent{ID: "00112233445566778899aabbccddeeff", Op: domain.CardWriteSelfUnlock, Serial: f.card.Serial,
		SubjectID: f.card.UserID, ActorID: f.card.UserID, Visit: "v0", Terminal: "booth-2", StartedAt: now.Add(-time.Minute)}
	if err := f.spool.Put(outcome(w)); err != nil {
		t.Fatal(err)
	}
	if n, err := f.journal.Replay(t.Context()); n != 1 || err != nil {
		t.Fatalf("replay: %d, %v", n, err)
	}
	f.want(t, "after the replay", 1, 1, 0, 0)
	got, err := f.store.GetCardWrite(t.Context(), w.ID)
	if err != nil || got.Terminal != "booth-2" || got.Outcome != domain.OutcomeSuccess {
		t.Fatalf("intent after the replay: %+v, %v", got, err)
	}
}

// Open leaves out the writes this journal is still finishing (their
// outcome is on its way), but not those it left or another kiosk's.
func TestOpenLeavesOutWritesInFlight(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	w := f.begin(t, domain.CardWriteSelfUnlock)
	other := cardwrite.New(cardwrite.Config{Store: f.store})
	ids := func(j *cardwrite.Journal) []string {
		t.Helper()
		ws, err := j.Open(ctx, f.card.Serial)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, w := range ws {
			out = append(out, w.ID)
		}
		return out
	}
	if got := ids(f.journal); len(got) != 0 {
		t.Fatalf("own write in flight listed: %v", got)
	}
	if got := ids(other); !slices.Equal(got, []string{w.ID}) {
		t.Fatalf("another kiosk's view: %v", got)
	}
	f.journal.Leave(w)
	if got := ids(f.journal); !slices.Equal(got, []string{w.ID}) {
		t.Fatalf("after Leave: %v", got)
	}
}

// A repair's new secrets are committed with its intent, before the card
// is touched; its outcome adopts them, even when replayed from the spool
// (which never holds them), and starts the count of self-renewals again.
func TestRekeyedWrite(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	recorded := domain.CardSecrets{Serial: f.card.Serial, SealedPUK: []byte{1}, MgmtKeyAlg: "AES256", SealedMgmtKey: []byte{2}, KEKFingerprint: "kek"}
	if err := f.store.PutCardSecrets(ctx, recorded); err != nil {
		t.Fatal(err)
	}
	next := domain.CardSecrets{Serial: f.card.Serial, SealedPUK: []byte{3}, MgmtKeyAlg: "AES256", SealedMgmtKey: []byte{4}, KEKFingerprint: "kek"}
	intent := domain.CardWriteIntent{Op: domain.CardWriteOperatorRepair, Serial: f.card.Serial, SubjectID: f.card.UserID, ActorID: "555000000109"}

	f.store.down.Store(true)
	if _, err := f.journal.BeginRekey(ctx, intent, next); !errors.Is(err, errUnreachable) {
		t.Fatalf("begin while the store is away: %v", err)
	}
	f.store.down.Store(false)
	other := next
	other.Serial = "4082A00100000011"
	if _, err := f.journal.BeginRekey(ctx, intent, other); err == nil {
		t.Fatal("began with another card's secrets")
	}
	w, err := f.journal.BeginRekey(ctx, intent, next)
	if err != nil {
		t.Fatal(err)
	}
	if pending, err := f.store.PendingSecrets(ctx, f.card.Serial); err != nil || len(pending) != 1 {
		t.Fatalf("pending secrets %d, %v", len(pending), err)
	}
	o := outcome(w)
	o.Mails = nil
	o.Renewal = &domain.RenewalRecord{CertExpiry: now.AddDate(2, 0, 0), CardAuthCert: []byte{9, 0xe}, PIVAuthCert: []byte{9, 0xa},
		Operator: true, Rekeyed: true}
	f.store.down.Store(true)
	wantErr(t, "finish while the store is away", f.journal.Finish(ctx, o), domain.ErrRecordDelayed)
	f.store.down.Store(false)
	if n, err := f.journal.Replay(ctx); n != 1 || err != nil {
		t.Fatalf("replay: %d, %v", n, err)
	}
	got, err := f.store.GetCardSecrets(ctx, f.card.Serial)
	if err != nil || got.SealedPUK[0] != 3 || got.SealedMgmtKey[0] != 4 {
		t.Fatalf("card secrets after the repair %+v, %v", got, err)
	}
	rec, err := f.store.GetSmartcard(ctx, f.card.Serial)
	if err != nil || rec.RenewalsSinceOperator != 0 || string(rec.PIVAuthCert) != "\x09\x0a" || !rec.CertExpiry.Equal(now.AddDate(2, 0, 0)) {
		t.Fatalf("record after the repair %+v, %v", rec, err)
	}
	if pending, _ := f.store.PendingSecrets(ctx, f.card.Serial); len(pending) != 0 {
		t.Fatalf("%d pending secrets left", len(pending))
	}
}

// A write that stopped part-way marks the card for repair with its
// outcome; a renewal recorded later clears the mark.
func TestNeedsRepairOutcome(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	w := f.begin(t, domain.CardWriteSelfRenew)
	o := outcome(w)
	o.Mails, o.Outcome, o.Audit.Outcome, o.NeedsRepair = nil, domain.OutcomeFailure, domain.OutcomeFailure, true
	if err := f.journal.Finish(ctx, o); err != nil {
		t.Fatal(err)
	}
	if rec, _ := f.store.GetSmartcard(ctx, f.card.Serial); !rec.NeedsRepair {
		t.Fatal("card not marked for repair")
	}
	w = f.begin(t, domain.CardWriteAssistedRenewal)
	o = outcome(w)
	o.Mails = nil
	o.Renewal = &domain.RenewalRecord{CertExpiry: now.AddDate(2, 0, 0), CardAuthCert: []byte{1}, Operator: true}
	if err := f.journal.Finish(ctx, o); err != nil {
		t.Fatal(err)
	}
	if rec, _ := f.store.GetSmartcard(ctx, f.card.Serial); rec.NeedsRepair {
		t.Fatal("a recorded renewal left the card marked for repair")
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got %v, want %v", what, err, target)
	}
}

// TestRefusedOutcomesAreSetAside: an outcome the store refuses (not one it
// cannot take now) is neither retried for ever nor lost: Finish reports
// it not recorded and keeps it aside; Replay sets a refused or damaged
// spooled one aside and goes on with the rest, so no visit is blocked.
func TestRefusedOutcomesAreSetAside(t *testing.T) {
	f := newFixture(t)
	refusal := errors.New("ERROR: new row violates check constraint (SQLSTATE 23514)")

	w := f.begin(t, domain.CardWriteSelfUnlock)
	f.store.refuse.Store(&refusal)
	if err := f.journal.Finish(t.Context(), outcome(w)); !errors.Is(err, domain.ErrNotRecorded) || errors.Is(err, domain.ErrRecordDelayed) {
		t.Fatalf("Finish against a refusing store: %v, want ErrNotRecorded", err)
	}
	f.store.refuse.Store(nil)
	rejected, err := filepath.Glob(filepath.Join(f.spool.Path(), w.ID+".rejected*"))
	if err != nil || len(rejected) != 2 {
		t.Fatalf("set aside: %v %v, want the outcome and why", rejected, err)
	}

	// Spooled while the store was away: one it will refuse, one it takes,
	// and a file nobody can read.
	w1, w2 := f.begin(t, domain.CardWriteSelfUnlock), f.begin(t, domain.CardWriteSelfUnlock)
	f.store.down.Store(true)
	for _, w := range []domain.CardWriteIntent{w1, w2} {
		if err := f.journal.Finish(t.Context(), outcome(w)); !errors.Is(err, domain.ErrRecordDelayed) {
			t.Fatalf("Finish while away: %v", err)
		}
	}
	f.store.down.Store(false)
	if err := os.WriteFile(filepath.Join(f.spool.Path(), "abcdef.json"), []byte(`{"version":1,"int`), 0o600); err != nil {
		t.Fatal(err)
	}
	// First the store refuses what it is given: both are set aside, and
	// Replay does not stand in the way of the next visit.
	f.store.refuse.Store(&refusal)
	if n, err := f.journal.Replay(t.Context()); n != 0 || err != nil {
		t.Fatalf("Replay against a refusing store = %d, %v; want 0 written, no error", n, err)
	}
	f.store.refuse.Store(nil)
	for _, w := range []domain.CardWriteIntent{w1, w2} {
		if _, err := os.Stat(filepath.Join(f.spool.Path(), w.ID+".rejected")); err != nil {
			t.Errorf("refused outcome %s not set aside: %v", w.ID, err)
		}
	}
	if f.spool.len() != 0 {
		t.Fatalf("%d outcomes still listed after Replay", f.spool.len())
	}
	if _, err := os.Stat(filepath.Join(f.spool.Path(), "abcdef.json.damaged")); err != nil {
		t.Fatalf("damaged file not set aside: %v", err)
	}
}

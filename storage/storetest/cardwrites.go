package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
)

func newIntentID() string { return fmt.Sprintf("%016x%016x", rand.Uint64(), rand.Uint64()) }

// newIntent is an open intent to unlock a fresh card, begun at started.
func newIntent(started time.Time) domain.CardWriteIntent {
	holder := newUserID()
	return domain.CardWriteIntent{ID: newIntentID(), Op: domain.CardWriteSelfUnlock, Serial: newSerial(),
		SubjectID: holder, ActorID: holder, Role: "", Visit: "visit-" + newTag(), Terminal: "kiosk-" + newTag(),
		StartedAt: started}
}

func begin(t *testing.T, s domain.Queries, w domain.CardWriteIntent) domain.CardWriteIntent {
	t.Helper()
	noErr(t, "begin card write", s.BeginCardWrite(t.Context(), w))
	w.StartedAt = stored(w.StartedAt)
	return w
}

func getIntent(t *testing.T, s domain.Queries, id string) domain.CardWriteIntent {
	t.Helper()
	got, err := s.GetCardWrite(t.Context(), id)
	noErr(t, "get card write", err)
	return got
}

// openIDs lists the IDs of the open intents of serial ("" for all).
func openIDs(t *testing.T, s domain.Queries, serial domain.CardSerial) []string {
	t.Helper()
	ws, err := s.OpenCardWrites(t.Context(), serial)
	noErr(t, "list open card writes", err)
	var ids []string
	for _, w := range ws {
		if w.Settled() {
			t.Fatalf("open list holds settled intent %+v", w)
		}
		ids = append(ids, w.ID)
	}
	return ids
}

func contains(ids []string, id string) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// testCardWrites: an intent reads back as begun and is open; settling it
// once records the outcome and closes it; a second settlement, an unknown
// intent and a taken ID are the store's sentinels.
func testCardWrites(t *testing.T, s domain.Store) {
	ctx := t.Context()
	w := begin(t, s, newIntent(base))
	equal(t, "open intent", getIntent(t, s, w.ID), w)
	if !contains(openIDs(t, s, w.Serial), w.ID) || !contains(openIDs(t, s, ""), w.ID) {
		t.Fatalf("intent %s not listed as open", w.ID)
	}

	err := s.BeginCardWrite(ctx, w)
	isErr(t, "begin with a taken ID", err, domain.ErrConflict, "begin card write")

	at := base.Add(3 * time.Second)
	noErr(t, "settle", s.SettleCardWrite(ctx, w.ID, domain.OutcomeSuccess, "unlocked", at))
	want := w
	want.SettledAt, want.Outcome, want.Detail = stored(at), domain.OutcomeSuccess, "unlocked"
	equal(t, "settled intent", getIntent(t, s, w.ID), want)
	if contains(openIDs(t, s, w.Serial), w.ID) || contains(openIDs(t, s, ""), w.ID) {
		t.Fatalf("settled intent %s still listed as open", w.ID)
	}

	tests := []struct {
		name    string
		id      string
		outcome domain.AuditOutcome
		want    error
	}{
		{"settled already, same outcome", w.ID, domain.OutcomeSuccess, domain.ErrConflict},
		{"settled already, other outcome", w.ID, domain.OutcomeFailure, domain.ErrConflict},
		{"no such intent", newIntentID(), domain.OutcomeFailure, domain.ErrNotFound},
	}
	for _, tt := range tests {
		err := s.SettleCardWrite(ctx, tt.id, tt.outcome, "again", at.Add(time.Minute))
		isErr(t, tt.name, err, tt.want, "settle card write")
	}
	// The first outcome stands.
	equal(t, "intent after refused settlements", getIntent(t, s, w.ID), want)

	_, err = s.GetCardWrite(ctx, newIntentID())
	isErr(t, "get an unknown intent", err, domain.ErrNotFound, "get card write")
	failsPlainly(t, "settle with no outcome", s.SettleCardWrite(ctx, begin(t, s, newIntent(base)).ID, "", "", at))
	failsPlainly(t, "begin without a card", s.BeginCardWrite(ctx, domain.CardWriteIntent{ID: newIntentID(), Op: domain.CardWriteSelfRenew, StartedAt: base}))
}

// testOpenCardWrites: a card's open intents come oldest first, without
// other cards' or settled ones.
func testOpenCardWrites(t *testing.T, s domain.Store) {
	ctx := t.Context()
	first := newIntent(base.Add(2 * time.Second))
	serial := first.Serial
	second, third := newIntent(base.Add(5*time.Second)), newIntent(base.Add(9*time.Second))
	second.Serial, third.Serial, second.Op = serial, serial, domain.CardWriteSelfRenew
	other := newIntent(base)
	// Begun out of order: the list is ordered by start, not insertion.
	for _, w := range []domain.CardWriteIntent{third, other, first, second} {
		begin(t, s, w)
	}
	noErr(t, "settle", s.SettleCardWrite(ctx, second.ID, domain.OutcomeFailure, "not done", base.Add(time.Minute)))
	equal(t, "open intents of the card", openIDs(t, s, serial), []string{first.ID, third.ID})
	all := openIDs(t, s, "")
	for _, id := range []string{first.ID, third.ID, other.ID} {
		if !contains(all, id) {
			t.Fatalf("intent %s missing from all open intents", id)
		}
	}
	if contains(all, second.ID) {
		t.Fatal("a settled intent is listed among all open intents")
	}
	equal(t, "open intents of a card with none", openIDs(t, s, newSerial()), []string(nil))
}

// testCardWriteSettleInTx: a settlement rolled back with its transaction
// (its audit row or email failed) leaves the intent open to settle again.
func testCardWriteSettleInTx(t *testing.T, s domain.Store) {
	ctx := t.Context()
	w := begin(t, s, newIntent(base))
	sentinel := errors.New("the outcome's email could not be queued")
	err := s.InTx(ctx, func(q domain.Queries) error {
		if err := q.SettleCardWrite(ctx, w.ID, domain.OutcomeSuccess, "", base.Add(time.Second)); err != nil {
			return err
		}
		// The transaction sees its own settlement.
		if got := getIntent(t, q, w.ID); !got.Settled() {
			t.Errorf("inside the transaction the intent is still open: %+v", got)
		}
		return sentinel
	})
	if !errors.Is(err, sentinel) {
		t.Fatalf("InTx = %v, want the callback's error", err)
	}
	equal(t, "intent after the rollback", getIntent(t, s, w.ID), w)
	noErr(t, "settle after the rollback", s.SettleCardWrite(ctx, w.ID, domain.OutcomeFailure, "not done", base.Add(2*time.Second)))
}

// testConcurrentSettle: kiosks settling one intent at once (a spool replay
// and the card's own state, on two connection pools) settle it once.
func (st *suite) testConcurrentSettle(t *testing.T, s domain.Store) {
	ctx := t.Context()
	kiosks := st.pair(t, s)
	w := begin(t, s, newIntent(base))
	var errs [racers]error
	race(func(i int) {
		errs[i] = kiosks[i%2].SettleCardWrite(ctx, w.ID, domain.OutcomeSuccess, fmt.Sprint("racer ", i), base.Add(time.Duration(i)*time.Second))
	})
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("racers %d and %d both settled the intent", winner, i)
		case err == nil:
			winner = i
		default:
			isErr(t, fmt.Sprint("racer ", i), err, domain.ErrConflict, "settle card write")
		}
	}
	if winner < 0 {
		t.Fatal("no racer settled the intent")
	}
	got := getIntent(t, s, w.ID)
	if got.Detail != fmt.Sprint("racer ", winner) || !got.SettledAt.Equal(stored(base.Add(time.Duration(winner)*time.Second))) {
		t.Fatalf("settled as %+v, want racer %d's outcome", got, winner)
	}
}

// testCardWriteSettledOnce: even raw SQL cannot change a settled intent.
func (st *suite) testCardWriteSettledOnce(t *testing.T, s domain.Store) {
	if st.exec == nil {
		t.Skip("the store's test gave no raw SQL hook (storetest.WithExec)")
	}
	ctx := t.Context()
	w := begin(t, s, newIntent(base))
	noErr(t, "settle", s.SettleCardWrite(ctx, w.ID, domain.OutcomeFailure, "not done", base.Add(time.Second)))
	err := st.exec(ctx, s, fmt.Sprintf("UPDATE card_writes SET outcome = 'success' WHERE id = '%s'", w.ID))
	if err == nil {
		t.Fatal("a settled intent was changed")
	}
	if got := getIntent(t, s, w.ID); got.Outcome != domain.OutcomeFailure {
		t.Fatalf("intent after the refused change: %+v", got)
	}
}

// testPendingSecrets: a repair's new secrets wait under its intent, newest
// first, and adopting one set makes it the card's and forgets the others.
func testPendingSecrets(t *testing.T, s domain.Store) {
	ctx := t.Context()
	u := putUser(t, s, "Test", "Repairee")
	c := putCard(t, s, u.ID, base)
	recorded := domain.CardSecrets{Serial: c.Serial, SealedPUK: []byte{1}, MgmtKeyAlg: "AES256", SealedMgmtKey: []byte{2},
		KEKFingerprint: "sha256:recorded", UpdatedAt: stored(base)}
	noErr(t, "put card secrets", s.PutCardSecrets(ctx, recorded))

	repair := func(i int) (domain.CardWriteIntent, domain.CardSecrets) {
		w := newIntent(base.Add(time.Duration(i) * time.Minute))
		w.Op, w.Serial, w.SubjectID = domain.CardWriteOperatorRepair, c.Serial, u.ID
		w = begin(t, s, w)
		next := domain.CardSecrets{Serial: c.Serial, SealedPUK: []byte{byte(10 + i)}, MgmtKeyAlg: "AES128",
			SealedMgmtKey: []byte{byte(20 + i)}, KEKFingerprint: fmt.Sprint("sha256:pending", i), UpdatedAt: stored(w.StartedAt)}
		noErr(t, "put pending secrets", s.PutPendingSecrets(ctx, w.ID, next))
		return w, next
	}
	_, first := repair(1)
	second, next := repair(2)
	pending, err := s.PendingSecrets(ctx, c.Serial)
	noErr(t, "list pending secrets", err)
	equal(t, "pending secrets, newest first", pending, []domain.CardSecrets{next, first})
	fps, err := s.KEKFingerprints(ctx)
	noErr(t, "key fingerprints", err)
	for _, fp := range []string{"sha256:recorded", "sha256:pending1", "sha256:pending2"} {
		if !slices.Contains(fps, fp) {
			t.Fatalf("key fingerprints %v lack %s", fps, fp)
		}
	}
	got, err := s.GetCardSecrets(ctx, c.Serial)
	noErr(t, "get card secrets", err)
	equal(t, "card secrets before adoption", got, recorded)

	noErr(t, "adopt pending secrets", s.AdoptPendingSecrets(ctx, second.ID))
	got, err = s.GetCardSecrets(ctx, c.Serial)
	noErr(t, "get card secrets", err)
	equal(t, "card secrets after adoption", got, next)
	pending, err = s.PendingSecrets(ctx, c.Serial)
	noErr(t, "list pending secrets", err)
	equal(t, "pending secrets after adoption", len(pending), 0)

	isErr(t, "adopt twice", s.AdoptPendingSecrets(ctx, second.ID), domain.ErrNotFound, "adopt pending secrets")
	isErr(t, "adopt for an unknown write", s.AdoptPendingSecrets(ctx, newIntentID()), domain.ErrNotFound, "adopt pending secrets")
	err = s.PutPendingSecrets(ctx, newIntentID(), next)
	isErr(t, "pending secrets without their intent", err, domain.ErrNotFound, "put pending secrets")
	w, _ := repair(3)
	err = s.PutPendingSecrets(ctx, w.ID, next)
	isErr(t, "a second set for one write", err, domain.ErrConflict, "put pending secrets")

	// A rolled-back adoption changes nothing.
	sentinel := errors.New("the outcome's audit row failed")
	err = s.InTx(ctx, func(q domain.Queries) error {
		if err := q.AdoptPendingSecrets(ctx, w.ID); err != nil {
			return err
		}
		return sentinel
	})
	if !errors.Is(err, sentinel) {
		t.Fatalf("InTx = %v, want the callback's error", err)
	}
	got, err = s.GetCardSecrets(ctx, c.Serial)
	noErr(t, "get card secrets", err)
	equal(t, "card secrets after a rolled-back adoption", got, next)
}

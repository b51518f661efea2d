package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/secret"
)

func appendAudit(t *testing.T, s domain.Queries, e domain.AuditEvent) domain.AuditEvent {
	t.Helper()
	got, err := s.AppendAudit(t.Context(), e)
	noErr(t, "append audit", err)
	if got.ID <= 0 {
		t.Fatalf("audit id %d", got.ID)
	}
	if len(got.MAC) != 32 {
		t.Fatalf("appended event has a MAC of %d bytes, want 32", len(got.MAC))
	}
	want := e
	want.ID, want.At, want.MAC = got.ID, stored(e.At), got.MAC
	equal(t, "appended event", got, want)
	return got
}

func testAudit(t *testing.T, s domain.Store) {
	ctx := t.Context()
	subject, operator, serial := newUserID(), newUserID(), newSerial()
	e1 := appendAudit(t, s, domain.AuditEvent{At: base, Action: domain.AuditOperatorLogin, Outcome: domain.OutcomeSuccess,
		ActorID: operator, SubjectID: subject, Role: "Sponsor", Terminal: "RA-desk-1", Detail: "role chosen"})
	e2 := appendAudit(t, s, domain.AuditEvent{At: base.Add(time.Second), Action: domain.AuditOperatorUnlock,
		Outcome: domain.OutcomeFailure, ActorID: operator, SubjectID: subject, CardSerial: serial,
		Role: "Sponsor", Terminal: "RA-desk-1", Detail: "card removed\nmid-flow \x1b[31m"})
	e3 := appendAudit(t, s, domain.AuditEvent{At: base.Add(2 * time.Second), Action: domain.AuditSelfUnlock,
		Outcome: domain.OutcomeSuccess, ActorID: subject, SubjectID: subject, CardSerial: serial, Terminal: "kiosk-2"})
	if !(e1.ID < e2.ID && e2.ID < e3.ID) {
		t.Fatalf("audit ids not increasing: %d %d %d", e1.ID, e2.ID, e3.ID)
	}

	list := func(f domain.AuditFilter) []domain.AuditEvent {
		t.Helper()
		got, err := s.ListAudit(ctx, f)
		noErr(t, fmt.Sprintf("list audit %+v", f), err)
		return got
	}
	equal(t, "by subject, newest first", list(domain.AuditFilter{SubjectID: subject}), []domain.AuditEvent{e3, e2, e1})
	equal(t, "by card", list(domain.AuditFilter{CardSerial: serial}), []domain.AuditEvent{e3, e2})
	equal(t, "by action", list(domain.AuditFilter{SubjectID: subject, Action: domain.AuditOperatorUnlock}), []domain.AuditEvent{e2})
	equal(t, "limit", list(domain.AuditFilter{SubjectID: subject, Limit: 2}), []domain.AuditEvent{e3, e2})
	equal(t, "no filter, newest", list(domain.AuditFilter{Limit: 1}), []domain.AuditEvent{e3})
	equal(t, "no match", len(list(domain.AuditFilter{SubjectID: newUserID()})), 0)

	// A zero time is stamped by the store.
	before := time.Now().Add(-time.Second)
	e, err := s.AppendAudit(ctx, domain.AuditEvent{Action: domain.AuditCodeIssued, Outcome: domain.OutcomeSuccess, SubjectID: subject})
	noErr(t, "append without time", err)
	if e.At.Before(before) || e.At.After(time.Now().Add(time.Second)) || e.At != stored(e.At) {
		t.Fatalf("stamped time %v", e.At)
	}
	equal(t, "stamped event", list(domain.AuditFilter{SubjectID: subject, Limit: 1}), []domain.AuditEvent{e})

	_, err = s.AppendAudit(ctx, domain.AuditEvent{At: base, Action: domain.AuditSelfUnlock, Outcome: "maybe"})
	failsPlainly(t, "bad outcome", err)
	_, err = s.AppendAudit(ctx, domain.AuditEvent{At: base, Outcome: domain.OutcomeFailure})
	failsPlainly(t, "no action", err)
}

func (st *suite) testAuditAppendOnly(t *testing.T, s domain.Store) {
	if st.exec == nil {
		t.Skip("the store's test gave no raw SQL hook (storetest.WithExec)")
	}
	ctx := t.Context()
	e := appendAudit(t, s, domain.AuditEvent{At: base, Action: domain.AuditSelfUnlock, Outcome: domain.OutcomeFailure,
		SubjectID: newUserID(), Detail: "original"})
	for _, q := range []string{
		fmt.Sprintf("UPDATE audit_events SET detail = 'tampered' WHERE id = %d", e.ID),
		fmt.Sprintf("UPDATE audit_events SET outcome = 'success' WHERE id = %d", e.ID),
		fmt.Sprintf("DELETE FROM audit_events WHERE id = %d", e.ID),
		"DELETE FROM audit_events",
	} {
		if err := st.exec(ctx, s, q); err == nil {
			t.Fatalf("%s: succeeded on an append-only table", q)
		}
	}
	got, err := s.ListAudit(ctx, domain.AuditFilter{SubjectID: e.SubjectID})
	noErr(t, "list audit", err)
	equal(t, "event after tampering attempts", got, []domain.AuditEvent{e})
	// The hook itself works, so the failures above are the triggers'.
	noErr(t, "raw exec", st.exec(ctx, s, "SELECT 1"))
}

// testAuditChain: every appended event carries a MAC linking it to the
// one before, and the whole trail verifies (other subtests on a shared
// database add to the same chain).
func testAuditChain(t *testing.T, s domain.Store) {
	ctx := t.Context()
	var last domain.AuditEvent
	for i := range 3 {
		last = appendAudit(t, s, domain.AuditEvent{At: base.Add(time.Duration(i) * time.Second), Action: domain.AuditCodeIssued,
			Outcome: domain.OutcomeSuccess, SubjectID: newUserID(), Detail: fmt.Sprint("chained ", i)})
	}
	got, err := s.ListAudit(ctx, domain.AuditFilter{SubjectID: last.SubjectID})
	noErr(t, "list audit", err)
	equal(t, "listed event with its MAC", got, []domain.AuditEvent{last})
	rep, err := domain.VerifyAudit(ctx, s, Chain)
	noErr(t, "verify audit", err)
	if rep.Last.ID != last.ID || rep.Rows < 3 {
		t.Fatalf("verified %d rows up to %d, want the last one %d", rep.Rows, rep.Last.ID, last.ID)
	}
	// Another key cannot extend the chain: the trail no longer verifies.
	if _, err := domain.VerifyAudit(ctx, s, otherChain); !errors.Is(err, domain.ErrAuditChainBroken) {
		t.Fatalf("verify under another key: %v, want ErrAuditChainBroken", err)
	}
}

var otherChain = func() *secret.Keys {
	k, err := secret.NewKeys([]byte("another key-encryption key, 32B."))
	if err != nil {
		panic(err)
	}
	return k
}()

// testConcurrentAuditChain: kiosks on two connection pools appending at
// once still make one chain.
func (st *suite) testConcurrentAuditChain(t *testing.T, s domain.Store) {
	ctx := t.Context()
	kiosks := st.pair(t, s)
	subject := newUserID()
	var errs [racers]error
	race(func(i int) {
		_, errs[i] = kiosks[i%2].AppendAudit(ctx, domain.AuditEvent{At: base, Action: domain.AuditCodeEntered,
			Outcome: domain.OutcomeFailure, SubjectID: subject, Terminal: fmt.Sprint("kiosk-", i%2), Detail: fmt.Sprint(i)})
	})
	for _, err := range errs {
		noErr(t, "append audit", err)
	}
	got, err := s.ListAudit(ctx, domain.AuditFilter{SubjectID: subject})
	noErr(t, "list audit", err)
	if len(got) != racers {
		t.Fatalf("%d events stored, want %d", len(got), racers)
	}
	rep, err := domain.VerifyAudit(ctx, s, Chain)
	if err != nil {
		t.Fatalf("chain after concurrent appends: %v (breaks %+v)", err, rep.Breaks)
	}
}

// TamperAudit is for a store's own tests, on a database of its own: it
// appends five events, then as someone who can lift the append-only guard
// (exec runs unguard, then the changes, then guard) changes the second
// and deletes the fourth, and checks that VerifyAudit names exactly the
// changed row and the row after the deleted one.
func TamperAudit(t *testing.T, s domain.Store, exec func(ctx context.Context, s domain.Store, query string) error, unguard, guard []string) {
	t.Helper()
	ctx := t.Context()
	var ids []int64
	for i := range 5 {
		e, err := s.AppendAudit(ctx, domain.AuditEvent{Action: domain.AuditSelfUnlock, Outcome: domain.OutcomeFailure,
			SubjectID: "555000000011", Detail: fmt.Sprint("attempt ", i+1)})
		noErr(t, "append audit", err)
		ids = append(ids, e.ID)
	}
	queries := slices.Concat(unguard, []string{
		fmt.Sprintf("UPDATE audit_events SET outcome = 'success' WHERE id = %d", ids[1]),
		fmt.Sprintf("DELETE FROM audit_events WHERE id = %d", ids[3]),
	}, guard)
	for _, q := range queries {
		noErr(t, q, exec(ctx, s, q))
	}
	rep, err := domain.VerifyAudit(ctx, s, Chain)
	if !errors.Is(err, domain.ErrAuditChainBroken) {
		t.Fatalf("verify after tampering: %v, want ErrAuditChainBroken", err)
	}
	var broken []int64
	for _, b := range rep.Breaks {
		broken = append(broken, b.Event.ID)
	}
	if want := []int64{ids[1], ids[4]}; !slices.Equal(broken, want) {
		t.Fatalf("breaks at rows %v, want %v (the changed row, and the row after the deleted one)", broken, want)
	}
}

// testAuditPages: a card holder's trail (their events and their card's),
// newest first, in pages that appends made meanwhile do not shift.
func testAuditPages(t *testing.T, s domain.Store) {
	ctx := t.Context()
	holder, other, serial, otherSerial := newUserID(), newUserID(), newSerial(), newSerial()
	ev := func(i int, subject domain.UserID, card domain.CardSerial) domain.AuditEvent {
		return appendAudit(t, s, domain.AuditEvent{At: base.Add(time.Duration(i) * time.Second), Action: domain.AuditCardChecked,
			Outcome: domain.OutcomeSuccess, SubjectID: subject, CardSerial: card, Terminal: "RA-desk-1", Detail: fmt.Sprint("event ", i)})
	}
	e1 := ev(1, holder, serial)
	e2 := ev(2, holder, "")          // the holder's, about no card
	e3 := ev(3, "", serial)          // the card's, before its holder was known
	ev(4, other, otherSerial)        // someone else's
	e5 := ev(5, other, serial)       // the card's, under another subject
	e6 := ev(6, holder, otherSerial) // the holder's other card
	ev(7, "", "")                    // nobody's: empty fields match nothing

	list := func(f domain.AuditFilter) []domain.AuditEvent {
		t.Helper()
		got, err := s.ListAudit(ctx, f)
		noErr(t, fmt.Sprintf("list audit %+v", f), err)
		return got
	}
	trail := domain.AuditFilter{SubjectID: holder, CardSerial: serial, SubjectOrCard: true}
	equal(t, "holder's and card's events", list(trail), []domain.AuditEvent{e6, e5, e3, e2, e1})
	page := trail
	page.Limit = 2
	equal(t, "first page", list(page), []domain.AuditEvent{e6, e5})
	ev(8, holder, serial) // appended while the first page is on screen
	page.BeforeID = e5.ID
	equal(t, "second page", list(page), []domain.AuditEvent{e3, e2})
	page.BeforeID = e2.ID
	equal(t, "last page", list(page), []domain.AuditEvent{e1})
	page.BeforeID = e1.ID
	equal(t, "past the last page", len(list(page)), 0)

	equal(t, "holder only", list(domain.AuditFilter{SubjectID: holder, SubjectOrCard: true, BeforeID: e6.ID}), []domain.AuditEvent{e2, e1})
	equal(t, "card only", list(domain.AuditFilter{CardSerial: serial, SubjectOrCard: true, BeforeID: e6.ID}), []domain.AuditEvent{e5, e3, e1})
	equal(t, "holder and card, both", list(domain.AuditFilter{SubjectID: holder, CardSerial: serial, BeforeID: e6.ID}), []domain.AuditEvent{e1})
}

// ClearedMAC is for a store's own tests, on a database of its own: once
// the newest row's MAC is cleared (by someone who can lift the guard),
// verify reports it and the store refuses to chain on from it, rather
// than start a new chain that would hide the break.
func ClearedMAC(t *testing.T, s domain.Store, exec func(ctx context.Context, s domain.Store, query string) error, unguard []string) {
	t.Helper()
	ctx := t.Context()
	e := appendAudit(t, s, domain.AuditEvent{At: base, Action: domain.AuditSelfUnlock, Outcome: domain.OutcomeSuccess, Detail: "to be hidden"})
	for _, q := range append(slices.Clone(unguard), fmt.Sprintf("UPDATE audit_events SET mac = NULL WHERE id = %d", e.ID)) {
		noErr(t, q, exec(ctx, s, q))
	}
	rep, err := domain.VerifyAudit(ctx, s, Chain)
	if !errors.Is(err, domain.ErrAuditChainBroken) || len(rep.Breaks) != 1 || rep.Breaks[0].Event.ID != e.ID {
		t.Fatalf("verify after clearing a MAC: %v %+v, want a break at row %d", err, rep.Breaks, e.ID)
	}
	_, err = s.AppendAudit(ctx, domain.AuditEvent{Action: domain.AuditSelfUnlock, Outcome: domain.OutcomeSuccess})
	if !errors.Is(err, domain.ErrAuditChainBroken) {
		t.Fatalf("append after a cleared MAC: %v, want ErrAuditChainBroken", err)
	}
}

package operator_test

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/operator"
	"github.com/smartcard-service-centre/kiosk/domain/selfservice"
	"github.com/smartcard-service-centre/kiosk/internal/sstest"
)

// testUnlock: Helen Carter (Sponsor) unlocks Mr Test Person's blocked
// card; he types the new passcode twice (seed 000). Run against each card
// implementation.
func testUnlock(t *testing.T, issue issuer) {
	f := newFixture(t, issue)
	ctx := t.Context()
	sess := f.operator(t, helen, "")
	card := f.enrol(t, testP)
	f.identify(t, sess, card)

	for _, tt := range []struct{ pin, confirm string }{{"1234", "1234"}, {"2468", "2469"}, {"12", "12"}} {
		wantErr(t, "passcode "+tt.pin, f.svc.UnlockCard(ctx, sess, tt.pin, tt.confirm), domain.ErrPasscodePolicy)
	}
	if st, _ := card.Status(ctx); !st.Blocked {
		t.Fatal("a refused passcode changed the card")
	}
	noErr(t, f.svc.UnlockCard(ctx, sess, "2468", "2468"))
	d, _ := f.svc.Holder(sess)
	if d.Blocked || d.TriesLeft != domain.PasscodeTries {
		t.Fatalf("holder after unlock %+v", d)
	}
	noErr(t, card.VerifyPasscode(ctx, "2468"))
	f.wantAudit(t, domain.AuditOperatorUnlock, domain.OutcomeSuccess, helen.id, testP.id, testP.serial, sponsorRole)
	if open := f.openWrites(t, testP.serial); len(open) != 0 {
		t.Fatalf("unsettled writes %+v", open)
	}
}

func TestUnlock(t *testing.T) { testUnlock(t, issueDouble) }

// testRepair: Nia Roberts (RAA ID Checker) repairs Mr Daniel Reid's
// expired card (seed 001): he sets his passcode, the card gets new keys
// with 2-year certificates naming its serial, and new secrets.
func testRepair(t *testing.T, issue issuer) {
	f := newFixture(t, issue)
	ctx := t.Context()
	sess := f.operator(t, nia, "")
	p := f.expired(daniel)
	p.renewals = 1
	card := f.enrol(t, p)
	old := f.secrets(t, p.serial)
	f.identify(t, sess, card)

	wantErr(t, "weak passcode", f.svc.RepairCard(ctx, sess, "1111", "1111"), domain.ErrPasscodePolicy)
	noErr(t, f.svc.RepairCard(ctx, sess, "7351", "7351"))

	rec := f.card(t, p.serial)
	now := f.clock.Now()
	if !rec.CertExpiry.Equal(now.AddDate(2, 0, 0)) || rec.RenewalsSinceOperator != 0 || rec.NeedsRepair || rec.Expired(now) {
		t.Fatalf("record after repair %+v", rec)
	}
	for slot, der := range map[domain.KeySlot][]byte{domain.KeyPIVAuth: rec.PIVAuthCert, domain.KeyCardAuth: rec.CardAuthCert} {
		cert, err := f.ca.Verify(der, p.id, p.serial, slot)
		if err != nil || !strings.Contains(cert.Subject.String(), string(p.serial)) || !cert.NotAfter.Equal(rec.CertExpiry) {
			t.Fatalf("%s certificate: %v (%v)", slot, err, cert)
		}
	}
	noErr(t, domain.ProveGenuine(ctx, card, rec, f.ca, nil))
	noErr(t, card.VerifyPasscode(ctx, "7351"))
	next := f.secrets(t, p.serial)
	if bytes.Equal(next.PUK, old.PUK) || bytes.Equal(next.MgmtKey, old.MgmtKey) {
		t.Fatal("the PUK or management key was not replaced")
	}
	if pending, err := f.store.PendingSecrets(ctx, p.serial); err != nil || len(pending) != 0 {
		t.Fatalf("pending secrets left: %d, %v", len(pending), err)
	}
	// The card holds what the store now says: its PUK unlocks it, and the
	// old one no longer does.
	wantErr(t, "unlock with the old PUK", card.Unlock(ctx, old.PUK, "8642"), domain.ErrCardSecretRejected)
	noErr(t, card.Unlock(ctx, next.PUK, "8642"))
	f.wantAudit(t, domain.AuditOperatorRepair, domain.OutcomeSuccess, nia.id, p.id, p.serial, "Systems Support Access Role for A82647")
	if d, _ := f.svc.Holder(sess); !d.Genuine || d.Cards[0].Expired || d.Cards[0].Renewals != 0 {
		t.Fatalf("holder after repair %+v", d)
	}
	// The new 9A certificate is recorded: the log-in challenge passes
	// (and Mr Reid, no operator, is then turned away for his roles).
	opSess, err := f.svc.Begin(ctx, card)
	noErr(t, err)
	wantErr(t, "log in with the repaired card", f.svc.LogIn(ctx, opSess, "8642"), domain.ErrNotOperator)
}

func TestRepair(t *testing.T) { testRepair(t, issueDouble) }

// Repair is for expired certificates, a card at capacity or one a write
// left part-way; an in-date card that can still renew is refused.
func TestRepairWhen(t *testing.T) {
	tests := []struct {
		name string
		p    func(f *fixture) person
		want error
	}{
		{"expired", func(f *fixture) person { return f.expired(daniel) }, nil},
		{"at capacity, in window", func(f *fixture) person { return f.inWindow(daniel, 2) }, nil},
		{"at capacity, not yet in window", func(f *fixture) person { p := daniel; p.renewals = 2; return p }, nil},
		{"in window", func(f *fixture) person { return f.inWindow(daniel, 1) }, domain.ErrRepairNotNeeded},
		{"in date", func(*fixture) person { return daniel }, domain.ErrRepairNotNeeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, issueDouble)
			sess := f.operator(t, nia, "")
			f.identify(t, sess, f.enrol(t, tt.p(f)))
			err := f.svc.RepairCard(t.Context(), sess, "7351", "7351")
			if tt.want == nil {
				noErr(t, err)
				return
			}
			wantErr(t, "repair", err, tt.want)
			wantErr(t, "check", f.svc.Check(sess, domain.ServiceRepair), tt.want)
			f.wantAudit(t, domain.AuditOperatorRepair, domain.OutcomeFailure, nia.id, daniel.id, daniel.serial, "Systems Support Access Role for A82647")
		})
	}
}

// A repair that stops once the card has new keys leaves the card marked
// for repair; the card, no longer proving itself with the recorded key,
// is admitted for Repair only, and the next repair completes it.
func TestRepairPartWay(t *testing.T) {
	f := newFixture(t, issueDouble)
	ctx := t.Context()
	sess := f.operator(t, nia, "")
	p := f.expired(daniel)
	card := f.enrol(t, p).(*sstest.Card)
	f.identify(t, sess, card)
	card.BreakPersonalise = domain.ErrCardRemoved // pulled once the new keys are made
	err := f.svc.RepairCard(ctx, sess, "7351", "7351")
	wantErr(t, "repair, card pulled part-way", err, domain.ErrCardNeedsRepair)
	wantErr(t, "repair, card pulled part-way", err, domain.ErrCardRemoved)
	if rec := f.card(t, p.serial); !rec.NeedsRepair || !rec.Expired(f.clock.Now()) {
		t.Fatalf("record after a part-way repair %+v", rec)
	}
	if pending, _ := f.store.PendingSecrets(ctx, p.serial); len(pending) != 1 {
		t.Fatalf("%d pending secrets kept, want the repair's", len(pending))
	}
	e := f.wantAudit(t, domain.AuditOperatorRepair, domain.OutcomeFailure, nia.id, p.id, p.serial, "Systems Support Access Role for A82647")
	if !strings.Contains(e.Detail, "part-way") {
		t.Fatalf("audited as %q", e.Detail)
	}

	card.BreakPersonalise = nil
	card.SetRemoved(false)
	d := f.identify(t, sess, card)
	if !d.CardIn || d.Genuine || !d.Cards[0].NeedsRepair {
		t.Fatalf("a card needing repair: %+v", d)
	}
	// Only Repair: its keys and secrets are not the recorded ones.
	noErr(t, f.svc.Check(sess, domain.ServiceRepair))
	noErr(t, f.svc.RepairCard(ctx, sess, "7351", "7351"))
	rec := f.card(t, p.serial)
	if rec.NeedsRepair || rec.Expired(f.clock.Now()) {
		t.Fatalf("record after the second repair %+v", rec)
	}
	noErr(t, domain.ProveGenuine(ctx, card, rec, f.ca, nil))
	noErr(t, card.Unlock(ctx, f.secrets(t, p.serial).PUK, "8642"))
}

// failingStore fails every transaction while fail is set: the store away
// when an outcome is to be recorded.
type failingStore struct {
	domain.Store
	fail atomic.Bool
}

var errStoreAway = errors.New("the database is away")

func (s *failingStore) InTx(ctx context.Context, fn func(domain.Queries) error) error {
	if s.fail.Load() {
		return errStoreAway
	}
	return s.Store.InTx(ctx, fn)
}

// A repair the card completed but whose outcome was lost (the store went
// away and there was no spool) leaves a card with the new secrets and a
// record with the old ones. The new secrets were committed with the
// intent, so the next repair finds them: it tries the recorded PUK, then
// the pending one, and completes.
func TestRepairAfterLostOutcome(t *testing.T) {
	f := newFixture(t, issueDouble)
	ctx := t.Context()
	store := &failingStore{Store: f.store}
	svc := operator.New(operator.Config{Store: store, Keys: f.keys, CA: f.ca, Clock: f.clock, Terminal: "RA-desk-1"})
	f.svc = svc
	sess := f.operator(t, nia, "")
	p := f.expired(daniel)
	card := f.enrol(t, p).(*sstest.Card)
	old := f.secrets(t, p.serial)
	f.identify(t, sess, card)
	card.Hook = func(op string) {
		if op == "Personalise" {
			store.fail.Store(true)
		}
	}
	err := f.svc.RepairCard(ctx, sess, "7351", "7351")
	wantErr(t, "repair whose record is lost", err, domain.ErrNotRecorded)
	wantErr(t, "repair whose record is lost", err, domain.ErrCardNeedsRepair)
	card.Hook = nil
	store.fail.Store(false)
	if got := f.secrets(t, p.serial); !bytes.Equal(got.PUK, old.PUK) {
		t.Fatal("the record changed though the outcome was lost")
	}
	wantErr(t, "the card took the new PUK", card.Unlock(ctx, old.PUK, "8642"), domain.ErrCardSecretRejected)

	// Inserted again: not genuine against the record, and the repair's
	// intent, still open, says why: it needs repair.
	d := f.identify(t, sess, card)
	if d.Genuine || !d.Cards[0].NeedsRepair {
		t.Fatalf("card after a lost repair %+v", d)
	}
	if open := f.openWrites(t, p.serial); len(open) != 0 {
		t.Fatalf("the lost repair's intent is still open: %+v", open)
	}
	noErr(t, f.svc.RepairCard(ctx, sess, "7351", "7351"))
	if card.PUKTries != domain.PUKTries {
		t.Fatalf("PUK tries left %d: the right PUK resets the counter", card.PUKTries)
	}
	rec := f.card(t, p.serial)
	noErr(t, domain.ProveGenuine(ctx, card, rec, f.ca, nil))
	noErr(t, card.Unlock(ctx, f.secrets(t, p.serial).PUK, "8642"))
	if pending, _ := f.store.PendingSecrets(ctx, p.serial); len(pending) != 0 {
		t.Fatalf("%d pending secrets left", len(pending))
	}
}

// Assisted renewal (B1300, B0263): inside the window, for a card that
// cannot self-renew (third renewal) as for one that could; not for an
// expired card (Repair) nor before the window opens.
func TestAssistedRenewal(t *testing.T) {
	t.Run("third renewal", func(t *testing.T) {
		f := newFixture(t, issueDouble)
		ctx := t.Context()
		sess := f.operator(t, helen, "")
		p := f.inWindow(testP, 2)
		p.blocked = false
		card := f.enrol(t, p)
		old := f.secrets(t, p.serial)
		f.identify(t, sess, card)
		noErr(t, f.svc.Check(sess, domain.ServiceAssistedRenewal))
		noErr(t, f.svc.RenewCard(ctx, sess))
		rec := f.card(t, p.serial)
		if !rec.CertExpiry.Equal(f.clock.Now().AddDate(2, 0, 0)) || rec.RenewalsSinceOperator != 0 {
			t.Fatalf("record after assisted renewal %+v", rec)
		}
		noErr(t, domain.ProveGenuine(ctx, card, rec, f.ca, nil))
		if _, err := f.ca.Verify(rec.PIVAuthCert, p.id, p.serial, domain.KeyPIVAuth); err != nil {
			t.Fatalf("9A certificate: %v", err)
		}
		// The secrets are kept.
		if got := f.secrets(t, p.serial); !bytes.Equal(got.PUK, old.PUK) || !bytes.Equal(got.MgmtKey, old.MgmtKey) {
			t.Fatal("a renewal replaced the secrets")
		}
		noErr(t, card.VerifyPasscode(ctx, p.pin))
		f.wantAudit(t, domain.AuditAssistedRenewal, domain.OutcomeSuccess, helen.id, p.id, p.serial, sponsorRole)
	})
	for _, tt := range []struct {
		name string
		p    func(f *fixture) person
		want error
	}{
		{"expired", func(f *fixture) person { return f.expired(testP) }, domain.ErrCertificateExpired},
		{"too early", func(*fixture) person { return testP }, domain.ErrRenewalTooEarly},
		{"needs repair", func(f *fixture) person { p := f.inWindow(testP, 0); p.needsRepair = true; return p }, domain.ErrCardNeedsRepair},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, issueDouble)
			sess := f.operator(t, raj, "")
			p := tt.p(f)
			f.identify(t, sess, f.enrol(t, p))
			before := f.card(t, p.serial)
			wantErr(t, "renew", f.svc.RenewCard(t.Context(), sess), tt.want)
			if rec := f.card(t, p.serial); !rec.CertExpiry.Equal(before.CertExpiry) || !bytes.Equal(rec.CardAuthCert, before.CardAuthCert) {
				t.Fatalf("a refused renewal changed the record: %+v", rec)
			}
			f.wantAudit(t, domain.AuditAssistedRenewal, domain.OutcomeFailure, raj.id, p.id, p.serial, "Local Smartcard Administrator for A82647")
		})
	}
}

// Cancel Smartcard: a reason (and words for "Other"); the card need not
// be in the reader, and once cancelled it is refused everywhere, the
// kiosk included.
func TestCancel(t *testing.T) {
	f := newFixture(t, issueDouble)
	ctx := t.Context()
	sess := f.operator(t, nia, "")
	p := testP
	p.blocked = false
	card := f.enrol(t, p)
	_, err := f.svc.OpenUser(ctx, sess, p.id) // lost: found by a search
	noErr(t, err)
	wantErr(t, "other without words", f.svc.CancelSmartcard(ctx, sess, domain.CancelOther, " "), domain.ErrCancelReason)
	wantErr(t, "unknown reason", f.svc.CancelSmartcard(ctx, sess, "Misplaced", ""), domain.ErrCancelReason)
	if !f.card(t, p.serial).Active() {
		t.Fatal("cancelled without a valid reason")
	}
	noErr(t, f.svc.CancelSmartcard(ctx, sess, domain.CancelOther, "left the\x1b[2J trust"))
	rec := f.card(t, p.serial)
	if rec.Active() || rec.CancelReason != "Other: left the trust" || !rec.CancelledAt.Equal(f.clock.Now()) {
		t.Fatalf("record after cancel %+v", rec)
	}
	e := f.wantAudit(t, domain.AuditCardCancelled, domain.OutcomeSuccess, nia.id, p.id, p.serial, "Systems Support Access Role for A82647")
	if e.Detail != "Other: left the trust" {
		t.Fatalf("audited as %q", e.Detail)
	}
	if d, _ := f.svc.Holder(sess); d.Cards[0].Active() || d.Cards[0].CancelReason != "Other: left the trust" {
		t.Fatalf("Smartcard Details after cancel %+v", d.Cards)
	}
	wantErr(t, "cancel again", f.svc.CancelSmartcard(ctx, sess, domain.CancelLost, ""), domain.ErrCardCancelled)
	wantErr(t, "check", f.svc.Check(sess, domain.ServiceCancel), domain.ErrCardCancelled)

	// Refused everywhere: here, at log-in, and at the kiosk.
	_, err = f.svc.IdentifyHolder(ctx, sess, card)
	wantErr(t, "the cancelled card in the holder's reader", err, domain.ErrCardCancelled)
	_, err = f.svc.Begin(ctx, card)
	wantErr(t, "the cancelled card in the operator's reader", err, domain.ErrCardCancelled)
	kiosk := selfservice.New(selfservice.Config{Store: f.store, Keys: f.keys, CA: f.ca, Clock: f.clock})
	_, err = kiosk.Identify(ctx, card)
	wantErr(t, "the cancelled card at the kiosk", err, domain.ErrCardCancelled)
}

// A card cancelled while it sits in the holder's reader (by another
// operator) is refused by the next service, without touching it.
func TestCancelledMeanwhile(t *testing.T) {
	f := newFixture(t, issueDouble)
	ctx := t.Context()
	sess := f.operator(t, helen, "")
	card := f.enrol(t, testP)
	f.identify(t, sess, card)
	noErr(t, f.store.CancelSmartcard(ctx, testP.serial, f.clock.Now(), "Stolen"))
	wantErr(t, "unlock a card cancelled meanwhile", f.svc.UnlockCard(ctx, sess, "2468", "2468"), domain.ErrCardCancelled)
	if st, _ := card.Status(ctx); !st.Blocked {
		t.Fatal("a cancelled card was unlocked")
	}
	f.wantAudit(t, domain.AuditOperatorUnlock, domain.OutcomeFailure, helen.id, testP.id, testP.serial, sponsorRole)
}

// Clear self-service lock-out: the holder may use the kiosk again.
func TestClearLockOut(t *testing.T) {
	f := newFixture(t, issueDouble)
	ctx := t.Context()
	sess := f.operator(t, raj, "")
	p := testP
	p.registered, p.failed, p.lockedOut = true, 3, true
	f.enrol(t, p)
	d, err := f.svc.OpenUser(ctx, sess, p.id)
	noErr(t, err)
	if !d.Registered || !d.LockedOut || d.FailedAttempts != 3 {
		t.Fatalf("profile %+v", d)
	}
	noErr(t, f.svc.ClearLockOut(ctx, sess))
	reg, err := f.store.GetRegistration(ctx, p.id)
	noErr(t, err)
	if reg.LockedOut() || reg.FailedAttempts != 0 {
		t.Fatalf("registration after clearing %+v", reg)
	}
	e := f.wantAudit(t, domain.AuditLockOutCleared, domain.OutcomeSuccess, raj.id, p.id, p.serial, "Local Smartcard Administrator for A82647")
	if !strings.HasPrefix(e.Detail, "3 failed attempts, locked out since ") {
		t.Fatalf("audited as %q", e.Detail)
	}
	if d, _ := f.svc.Holder(sess); d.LockedOut || d.FailedAttempts != 0 {
		t.Fatalf("holder after clearing %+v", d)
	}
	wantErr(t, "clear again", f.svc.ClearLockOut(ctx, sess), domain.ErrNotLockedOut)

	f.enrol(t, amara) // not registered
	_, err = f.svc.OpenUser(ctx, sess, amara.id)
	noErr(t, err)
	wantErr(t, "not registered", f.svc.ClearLockOut(ctx, sess), domain.ErrNotRegistered)
}

// View audit trail: the holder's events and their card's, newest first,
// a page at a time, cleaned for the terminal.
func TestAuditTrail(t *testing.T) {
	f := newFixture(t, issueDouble)
	ctx := t.Context()
	sess := f.operator(t, nia, "")
	p := testP
	f.enrol(t, p)
	at := f.clock.Now().Add(-time.Hour)
	var want []int64
	for i, e := range []domain.AuditEvent{
		{Action: domain.AuditSelfUnlock, SubjectID: p.id, CardSerial: p.serial, Detail: "at the kiosk \x1b[31m"},
		{Action: domain.AuditCardChecked, CardSerial: p.serial},           // the card's, no subject
		{Action: domain.AuditCodeIssued, SubjectID: p.id},                 // the holder's, no card
		{Action: domain.AuditSelfUnlock, SubjectID: amara.id},             // someone else's
		{Action: domain.AuditCardChecked, CardSerial: "4082A00100000999"}, // another card
	} {
		e.At, e.Outcome, e.Terminal = at.Add(time.Duration(i)*time.Second), domain.OutcomeSuccess, "kiosk-1"
		got, err := f.store.AppendAudit(ctx, e)
		noErr(t, err)
		if i < 3 {
			want = append([]int64{got.ID}, want...)
		}
	}
	_, err := f.svc.OpenUser(ctx, sess, p.id)
	noErr(t, err)
	// The user_viewed row is the holder's too, newest.
	viewed := f.lastAudit(t, domain.AuditUserViewed)
	want = append([]int64{viewed.ID}, want...)

	var got []domain.AuditEvent
	before := int64(0)
	for pages := 0; ; pages++ {
		page, err := f.svc.AuditTrail(ctx, sess, before)
		noErr(t, err)
		if len(page.Events) > 3 || pages > 3 {
			t.Fatalf("page of %d events, page %d", len(page.Events), pages)
		}
		got = append(got, page.Events...)
		if before = page.Next; before == 0 {
			break
		}
	}
	var ids []int64
	for _, e := range got {
		ids = append(ids, e.ID)
		if strings.ContainsRune(e.Detail, 0x1b) {
			t.Fatalf("detail not cleaned: %q", e.Detail)
		}
	}
	if len(ids) != len(want) {
		t.Fatalf("trail %v, want %v", ids, want)
	}
	for i := range ids {
		if ids[i] != want[i] {
			t.Fatalf("trail %v, want %v", ids, want)
		}
	}
	// Opening the trail is audited once, not per page.
	if n := f.auditCount(t, domain.AuditTrailViewed); n != 1 {
		t.Fatalf("%d audit_viewed rows", n)
	}
}

// A holder with no card in date has none selected after a search: the
// operator picks one from the Smartcard Details table first.
func TestNoCardSelected(t *testing.T) {
	f := newFixture(t, issueDouble)
	ctx := t.Context()
	sess := f.operator(t, helen, "")
	wantErr(t, "check with nobody in hand", f.svc.Check(sess, domain.ServiceCancel), operator.ErrNoHolder)
	p := f.expired(testP)
	f.enrol(t, p)
	d, err := f.svc.OpenUser(ctx, sess, p.id)
	noErr(t, err)
	if d.Selected != "" || len(d.Cards) != 1 {
		t.Fatalf("profile %+v", d)
	}
	wantErr(t, "cancel with no card selected", f.svc.CancelSmartcard(ctx, sess, domain.CancelLost, ""), operator.ErrNoCardSelected)
	_, err = f.svc.SelectCard(ctx, sess, p.serial)
	noErr(t, err)
	noErr(t, f.svc.CancelSmartcard(ctx, sess, domain.CancelLost, ""))
	if rec := f.card(t, p.serial); rec.Active() || rec.CancelReason != "Lost" {
		t.Fatalf("record %+v", rec)
	}
}

// issueFails is the service CA failing to issue the slot's certificate,
// after the card has made the key (a CA outage mid-repair).
type issueFails struct {
	domain.CertificateAuthority
	slot domain.KeySlot
}

func (c issueFails) Issue(pub crypto.PublicKey, user domain.UserID, serial domain.CardSerial, slot domain.KeySlot, from, to time.Time) ([]byte, error) {
	if slot == c.slot {
		return nil, errors.New("certificate authority unavailable")
	}
	return c.CertificateAuthority.Issue(pub, user, serial, slot, from, to)
}

// TestRepairCAFailsAfterTheKeyIsMade: the card has replaced its key when
// the certificate cannot be issued, so the record no longer matches it:
// the card is marked for repair, never recorded as unchanged.
func TestRepairCAFailsAfterTheKeyIsMade(t *testing.T) {
	f := newFixture(t, issueDouble)
	f.svc = operator.New(operator.Config{Store: f.store, Keys: f.keys, CA: issueFails{f.ca, domain.KeyPIVAuth}, Clock: f.clock,
		Terminal: "RA-desk-1", AuditPageSize: 3})
	sess := f.operator(t, nia, "")
	p := f.expired(daniel)
	card := f.enrol(t, p).(*sstest.Card)
	f.identify(t, sess, card)
	err := f.svc.RepairCard(t.Context(), sess, "7351", "7351")
	wantErr(t, "repair with the CA failing", err, domain.ErrCardNeedsRepair)
	if rec := f.card(t, p.serial); !rec.NeedsRepair {
		t.Fatalf("record after a key made but not certified %+v, want NeedsRepair", rec)
	}
}

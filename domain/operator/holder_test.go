package operator_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/operator"
	"github.com/smartcard-service-centre/kiosk/internal/sstest"
)

// Manage Smartcard: the holder's card in the second reader brings up the
// User Details page and the Smartcard Details table (seed 000 Figs 6, 7).
func TestIdentifyHolder(t *testing.T) {
	f := newFixture(t, issueDouble)
	ctx := t.Context()
	sess := f.operator(t, helen, "")
	// Mr Test Person has an old cancelled card and his current one.
	old := testP
	old.serial, old.cancelled, old.blocked = "4082A00100000020", true, false
	old.issued, old.expiry = f.clock.Now().AddDate(-3, 0, 0), f.clock.Now().AddDate(-1, 0, 0)
	f.enrol(t, old)
	card := f.enrol(t, testP)

	d := f.identify(t, sess, card)
	if d.UserID != testP.id || d.Name != "Mx Test Person" || !bytes.HasPrefix(d.Photo, []byte("\x89PNG")) ||
		len(d.Positions) != 1 || d.Positions[0].String() != "Clerical Access Role for A82647" {
		t.Fatalf("user details %+v", d)
	}
	if d.Selected != testP.serial || !d.CardIn || !d.Genuine || !d.Blocked || d.TriesLeft != 0 {
		t.Fatalf("card in hand %+v", d)
	}
	if len(d.Cards) != 2 || d.Cards[0].Serial != testP.serial || !d.Cards[0].Active() || d.Cards[0].Type != "PIV" ||
		d.Cards[1].Serial != old.serial || d.Cards[1].Active() || d.Cards[1].CancelReason != "Lost" || !d.Cards[1].Expired {
		t.Fatalf("Smartcard Details, newest first: %+v", d.Cards)
	}
	if got := d.Cards[0].IssuedAt.Format(operator.DateLayout); got != f.clock.Now().AddDate(-1, 0, 0).Format("2-Jan-2006") {
		t.Fatalf("issuance date %s", got)
	}
	f.wantAudit(t, domain.AuditCardChecked, domain.OutcomeSuccess, helen.id, testP.id, testP.serial, sponsorRole)
	if got, ok := f.svc.Holder(sess); !ok || got.Selected != testP.serial {
		t.Fatalf("Holder = %+v, %v", got, ok)
	}

	// The card pulled: details stay, services that need it wait for it.
	f.svc.HolderCardRemoved(sess)
	wantErr(t, "unlock without the card", f.svc.UnlockCard(ctx, sess, "2468", "2468"), operator.ErrNoHolderCard)
	if d, _ := f.svc.Holder(sess); d.CardIn || d.UserID != testP.id {
		t.Fatalf("after removal %+v", d)
	}
	f.identify(t, sess, card)
	noErr(t, f.svc.UnlockCard(ctx, sess, "2468", "2468"))

	// Manage Smartcard again with someone else's card: they are in hand.
	d = f.identify(t, sess, f.enrol(t, amara))
	if d.UserID != amara.id {
		t.Fatalf("second card's holder %s", d.UserID)
	}
	f.svc.CloseHolder(sess)
	if _, ok := f.svc.Holder(sess); ok {
		t.Fatal("holder kept after CloseHolder")
	}
	wantErr(t, "unlock with nobody in hand", f.svc.UnlockCard(ctx, sess, "2468", "2468"), operator.ErrNoHolder)
}

// Cards refused in the holder's reader, each with its reason and an
// audit row.
func TestIdentifyHolderRefused(t *testing.T) {
	f := newFixture(t, issueDouble)
	ctx := t.Context()
	opCard := f.enrol(t, helen)
	sess := f.login(t, opCard, helen, "")
	spare := helen
	spare.serial = "4082A00100000150" // a second card of the operator's own
	cancelled := amara
	cancelled.cancelled = true
	f.enrol(t, daniel)
	tests := []struct {
		name    string
		card    domain.Card
		want    error
		subject domain.UserID
	}{
		{"operator's own card", opCard, domain.ErrOwnCard, helen.id},
		{"another card of the operator's", f.enrol(t, spare), domain.ErrOwnCard, helen.id},
		{"cancelled", f.enrol(t, cancelled), domain.ErrCardCancelled, amara.id},
		{"unknown", sstest.NewCard("4082A00100000999", "1357", "12345678"), domain.ErrCardNotFound, ""},
		{"copied serial", sstest.NewCard(daniel.serial, daniel.pin, "12345678"), domain.ErrCardNotGenuine, daniel.id},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.IdentifyHolder(ctx, sess, tt.card)
			wantErr(t, "identify", err, tt.want)
			st, _ := tt.card.Status(ctx)
			f.wantAudit(t, domain.AuditCardChecked, domain.OutcomeFailure, helen.id, tt.subject, st.Serial, sponsorRole)
			if _, ok := f.svc.Holder(sess); ok {
				t.Fatal("a refused card left a holder in hand")
			}
		})
	}
	_, err := f.svc.OpenUser(ctx, sess, helen.id)
	wantErr(t, "open the operator's own record", err, domain.ErrOwnCard)
	f.wantAudit(t, domain.AuditUserViewed, domain.OutcomeFailure, helen.id, helen.id, "", sponsorRole)
}

// Seed 002's way in: search by user ID (with or without spaces) or name,
// open the profile, the latest in-date card is selected, then the card
// inserted must be that one.
func TestSearchThenInsert(t *testing.T) {
	f := newFixture(t, issueDouble)
	ctx := t.Context()
	sess := f.operator(t, raj, "")
	now := f.clock.Now()
	// Mr Test Person's cards: an older in-date one, the latest in-date
	// one, and a newer one whose certificates expired.
	older := testP
	older.serial, older.issued = "4082A00100000201", now.AddDate(-1, -6, 0)
	latest := testP
	latest.issued = now.AddDate(0, -6, 0)
	expired := testP
	expired.serial, expired.issued, expired.expiry = "4082A00100000203", now.AddDate(0, -1, 0), now.AddDate(0, 0, -1)
	olderCard, latestCard := f.enrol(t, older), f.enrol(t, latest)
	f.enrol(t, expired)
	otherCard := f.enrol(t, amara)

	for _, q := range []string{"5550 0179 9894", "555001799894", "person", "Test Per"} {
		us, err := f.svc.FindUsers(ctx, sess, q)
		noErr(t, err)
		if len(us) != 1 || us[0].UserID != testP.id || us[0].Name != "Mx Test Person" {
			t.Fatalf("search %q: %+v", q, us)
		}
		// The result tells this Test Person from another before opening:
		// cards newest issue first, as the details page lists them.
		var serials []domain.CardSerial
		for _, c := range us[0].Cards {
			serials = append(serials, c.Serial)
		}
		if !slices.Equal(serials, []domain.CardSerial{expired.serial, latest.serial, older.serial}) || !us[0].Cards[0].Expired ||
			us[0].Cards[1].Expired || us[0].Registered != testP.registered || us[0].LockedOut {
			t.Fatalf("search %q: cards %v, summary %+v", q, serials, us[0])
		}
	}
	e := f.lastAudit(t, domain.AuditUserSearch)
	if e.ActorID != raj.id || e.Detail != `"Test Per": 1 found` || e.Role != "Local Smartcard Administrator for A82647" {
		t.Fatalf("search audited as %+v", e)
	}

	d, err := f.svc.OpenUser(ctx, sess, testP.id)
	noErr(t, err)
	if d.Selected != latest.serial || d.CardIn || len(d.Cards) != 3 {
		t.Fatalf("profile %+v", d)
	}
	f.wantAudit(t, domain.AuditUserViewed, domain.OutcomeSuccess, raj.id, testP.id, latest.serial, "Local Smartcard Administrator for A82647")
	wantErr(t, "unlock before the card is inserted", f.svc.UnlockCard(ctx, sess, "2468", "2468"), operator.ErrNoHolderCard)

	for _, tt := range []struct {
		what string
		card domain.Card
		p    person
	}{{"another of the holder's cards", olderCard, older}, {"someone else's card", otherCard, amara}} {
		_, err := f.svc.IdentifyHolder(ctx, sess, tt.card)
		wantErr(t, tt.what, err, domain.ErrWrongCard)
		if d, ok := f.svc.Holder(sess); !ok || d.UserID != testP.id || d.Selected != latest.serial || d.CardIn {
			t.Fatalf("after %s: %+v", tt.what, d)
		}
		f.wantAudit(t, domain.AuditCardChecked, domain.OutcomeFailure, raj.id, tt.p.id, tt.p.serial, "Local Smartcard Administrator for A82647")
	}
	d = f.identify(t, sess, latestCard)
	if !d.CardIn || d.Selected != latest.serial {
		t.Fatalf("after inserting the selected card: %+v", d)
	}
	noErr(t, f.svc.UnlockCard(ctx, sess, "2468", "2468"))

	// Selecting another row: the card in the reader no longer counts.
	d, err = f.svc.SelectCard(ctx, sess, older.serial)
	noErr(t, err)
	if d.Selected != older.serial || d.CardIn {
		t.Fatalf("after selecting another card: %+v", d)
	}
	_, err = f.svc.SelectCard(ctx, sess, amara.serial)
	wantErr(t, "select someone else's card", err, domain.ErrWrongCard)
	f.identify(t, sess, olderCard)
	_, err = f.svc.OpenUser(ctx, sess, "555000000999")
	wantErr(t, "open an unknown user", err, domain.ErrUserNotFound)
}

// What a write left unfinished on a card (the terminal stopped, or the
// card was pulled mid-write) is settled from the card's state when it is
// next identified here.
func TestSettleLeftOverWrites(t *testing.T) {
	f := newFixture(t, issueDouble)
	ctx := t.Context()
	sess := f.operator(t, helen, "")
	card := f.enrol(t, testP).(*sstest.Card)
	f.identify(t, sess, card)
	// The holder's card leaves the reader as the unlock reaches it.
	card.Hook = func(op string) {
		if op == "Unlock" {
			card.SetRemoved(true)
		}
	}
	wantErr(t, "unlock, card pulled", f.svc.UnlockCard(ctx, sess, "2468", "2468"), domain.ErrCardRemoved)
	card.Hook = nil
	open := f.openWrites(t, testP.serial)
	if len(open) != 1 || open[0].Op != domain.CardWriteOperatorUnlock || open[0].ActorID != helen.id || open[0].Role != sponsorRole {
		t.Fatalf("open writes %+v", open)
	}
	e := f.wantAudit(t, domain.AuditOperatorUnlock, domain.OutcomeFailure, helen.id, testP.id, testP.serial, sponsorRole)
	if !strings.Contains(e.Detail, "outcome unknown") {
		t.Fatalf("audited as %q", e.Detail)
	}
	wantErr(t, "unlock with the card gone", f.svc.UnlockCard(ctx, sess, "2468", "2468"), operator.ErrNoHolderCard)

	card.SetRemoved(false)
	f.identify(t, sess, card)
	if left := f.openWrites(t, testP.serial); len(left) != 0 {
		t.Fatalf("still open after the card came back: %+v", left)
	}
	settled, err := f.store.GetCardWrite(ctx, open[0].ID)
	noErr(t, err)
	if settled.Outcome != domain.OutcomeFailure || !strings.Contains(settled.Detail, "still blocked") {
		t.Fatalf("settled as %+v", settled)
	}
	noErr(t, f.svc.UnlockCard(ctx, sess, "2468", "2468"))
	if !card.PINIs("2468") {
		t.Fatal("the passcode was not set")
	}
}

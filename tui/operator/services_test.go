package operator_test

import (
	"strings"
	"testing"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/tui/operator"
)

// chooseService opens the Service menu and chooses the service named.
func (k *terminal) chooseService(name string) {
	k.t.Helper()
	k.press("enter")
	s := flat(k.waitFor("Service", name))
	// The menu numbers its items: choose by number.
	i := strings.Index(s, name)
	num := strings.Fields(s[:i])
	k.typeText(num[len(num)-1])
}

// A Sponsor renews a card inside its window that cannot self-renew.
func TestAssistedRenewal(t *testing.T) {
	fx := newFixture(t)
	p := testPerson()
	p.h.Blocked, p.h.CertExpiry, p.h.Renewals = false, start.Add(30*day), 2
	own, held := fx.add(helen()), fx.add(p)
	k := fx.start()
	k.logIn(fx, own, "5093")
	k.manage(fx, held, "Mr Test Person")
	k.chooseService("Assisted renewal")
	k.waitFor("Renew the certificates on Smartcard 4082A001132F2817")
	k.press("enter")
	k.waitFor("Success: Smartcard 4082A001132F2817 renewed")
	if held.Personals != 1 {
		t.Errorf("card personalised %d times, want 1", held.Personals)
	}
}

// Cancel Smartcard: Other needs words; the card is then cancelled.
func TestCancelSmartcard(t *testing.T) {
	fx := newFixture(t)
	own, held := fx.add(helen()), fx.add(testPerson())
	k := fx.start()
	k.logIn(fx, own, "5093")
	k.manage(fx, held, "Mr Test Person")
	k.chooseService("Cancel Smartcard")
	k.waitFor("Reason", "Lost", "Stolen", "Damaged", "Other")
	k.typeText("4") // Other
	k.waitFor("Details (needed for Other)")
	k.press("enter")
	k.waitFor("Describe why the Smartcard is cancelled.")
	k.typeText("Name changed")
	k.press("enter")
	k.waitFor("Smartcard 4082A001132F2817 cancelled (Other).")
	rec, err := fx.store.GetSmartcard(t.Context(), "4082A001132F2817")
	if err != nil || rec.Active() || rec.CancelReason != "Other: Name changed" {
		t.Fatalf("card after cancel: %+v %v", rec, err)
	}
	k.waitFor(start.Format(opsvcDate))
}

const opsvcDate = "2-Jan-2006"

// Clear self-service lock-out for a holder locked out at the kiosk.
func TestClearLockOut(t *testing.T) {
	fx := newFixture(t)
	p := testPerson()
	p.h.Answers = map[domain.QuestionID]string{1: "a1", 2: "a2", 3: "a3", 4: "a4"}
	p.h.FailedAttempts, p.h.LockedOut = 3, true
	own, held := fx.add(helen()), fx.add(p)
	k := fx.start()
	k.logIn(fx, own, "5093")
	k.manage(fx, held, "Mr Test Person")
	k.waitFor("Self-service: registered, locked out")
	k.chooseService("Clear self-service lock-out")
	k.waitFor("(3 failed attempts)")
	k.press("enter")
	k.waitFor("Success: self-service lock-out cleared for Mr Test Person.")
	reg, err := fx.store.GetRegistration(t.Context(), p.h.ID)
	if err != nil || reg.LockedOut() || reg.FailedAttempts != 0 {
		t.Fatalf("registration after clearing: %+v %v", reg, err)
	}
}

// View audit trail, a page at a time, newest first.
func TestAuditTrailPaged(t *testing.T) {
	fx := newFixture(t)
	own, held := fx.add(helen()), fx.add(testPerson())
	k := fx.start()
	k.logIn(fx, own, "5093")
	k.manage(fx, held, "Mr Test Person")
	// Each look at the trail is itself an event of the holder's.
	for i := range 4 {
		k.chooseService("View audit trail")
		k.waitFor("View audit trail", "newest first", "Page 1")
		if i%2 == 1 {
			k.waitFor("success card 4082A001132F2817") // read; on the others Esc comes while it is read
		}
		k.press("esc", "esc")
		k.waitFor(operator.CheckPersonText)
	}
	k.chooseService("View audit trail")
	k.waitFor("View audit trail", "audit_viewed success card 4082A001132F2817", "Page 1")
	k.press("pgdown")
	k.waitFor("Page 2", "card_checked success card 4082A001132F2817")
	k.press("pgup")
	k.waitFor("Page 1")
	k.press("esc")
	k.waitFor("Service")
}

// Seed 002's way in: search by user ID (with spaces), select the card,
// and the card inserted must be the one selected.
func TestSearchThenInsertSelectedCard(t *testing.T) {
	fx := newFixture(t)
	own, held, other := fx.add(raj()), fx.add(testPerson()), fx.add(daniel())
	k := fx.start()
	k.logIn(fx, own, "6417")
	k.waitFor("Dashboard")
	k.typeText("2")
	k.waitFor("Search for a user", "User ID or name")
	k.typeText("5550 0179 9894")
	k.press("enter")
	k.waitFor("1 found", "Mr Test Person")
	k.press("enter")
	k.waitFor("Mr Test Person: 5550 0179 9894", "It is not in the second reader")
	k.chooseService("Unlock Smartcard")
	k.waitFor(operator.InsertHolderText)
	fx.readers.Insert(other)
	k.waitFor("not the one selected")
	fx.readers.Insert(nil)
	fx.readers.Insert(held)
	k.waitFor("Service", "Unlock Smartcard")
	k.typeText("1")
	k.waitFor(operator.HandOverText)
}

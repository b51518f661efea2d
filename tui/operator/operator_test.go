package operator_test

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/smartcard-service-centre/kiosk/domain"
	opsvc "github.com/smartcard-service-centre/kiosk/domain/operator"
	"github.com/smartcard-service-centre/kiosk/tui/operator"
)

// Seed 000 end to end: a Sponsor logs in (a wrong passcode first), sees
// the header of Fig 10, manages Mr Test Person's blocked card, hands the
// keyboard over, and the card takes the new passcode; Logout returns to
// "Insert your Smartcard".
func TestSponsorUnlocksTestPerson(t *testing.T) {
	fx := newFixture(t)
	own, held := fx.add(helen()), fx.add(testPerson())
	k := fx.start()
	k.waitFor(operator.InsertText)
	k.logIn(fx, own, "0000")
	k.waitFor("The passcode is not correct", "2 tries left")
	k.typeText("5093")
	k.press("enter")
	k.waitFor("Dashboard", operator.HeaderText("Mrs Helen Carter", "Sponsor Access Role for RTH", false))
	k.manage(fx, held, "Mr Test Person")
	s := k.waitFor("User ID: 5550 0179 9894", "Clerical Access Role for A82647", "Serial Number Type Issuance date Certificate expiry Cancellation date",
		"4082A001132F2817 PIV", "Active", "(locked)")
	if !strings.Contains(s, "No photo") && !strings.Contains(flat(s), "photo") {
		t.Errorf("no photo (or its placeholder) on the User Details page:\n%s", s)
	}
	k.press("enter")
	k.waitFor("Service", "Unlock Smartcard", "Cancel Smartcard", "View audit trail")
	if strings.Contains(flat(k.screen()), "Repair Smartcard") {
		t.Errorf("a Sponsor is offered Repair Smartcard:\n%s", k.screen())
	}
	k.press("enter")
	k.waitFor(operator.HandOverText, operator.OnlyHolderText)
	k.press("enter")
	k.waitFor("please enter your new passcode")
	k.typeText("8642")
	k.press("tab")
	k.typeText("8642")
	k.press("enter")
	k.waitFor(operator.UnlockedBanner("4082A001132F2817"), "Mr Test Person: 5550 0179 9894")
	if !held.PINIs("8642") || held.PINTries != domain.PasscodeTries {
		t.Errorf("the card did not take the new passcode")
	}
	if !fx.audited(domain.AuditOperatorUnlock, domain.OutcomeSuccess) {
		t.Error("no successful operator_unlock audit row")
	}
	k.press("ctrl+x")
	k.waitFor(operator.LoggedOutText, operator.InsertText)
	k.waitGone("Hi, Mrs Helen Carter")
}

// Someone with no Registration Authority activity is refused, and the
// refusal is audited.
func TestNonOperatorRefused(t *testing.T) {
	fx := newFixture(t)
	card := fx.add(testPerson())
	card.PINTries = domain.PasscodeTries
	k := fx.start()
	k.logIn(fx, card, "1357")
	k.waitFor("No Registration Authority role", "you cannot use the operator terminal")
	if !fx.audited(domain.AuditOperatorLogin, domain.OutcomeFailure) {
		t.Error("the refusal is not audited")
	}
	fx.readers.InsertOperator(nil)
	k.waitFor(operator.InsertText + " into your reader")
}

// The third wrong passcode blocks the operator's card and ends the log-in.
func TestOperatorPasscodeBlocks(t *testing.T) {
	fx := newFixture(t)
	own := fx.add(helen())
	k := fx.start()
	k.logIn(fx, own, "0000")
	k.waitFor("2 tries left")
	k.typeText("0001")
	k.press("enter")
	k.waitFor("1 try left")
	k.typeText("0002")
	k.press("enter")
	k.waitFor("Smartcard locked", "ask another Sponsor")
}

// Pulling the operator's own card logs out at once and wipes the screen,
// whatever was on it.
func TestOperatorCardRemovedLogsOut(t *testing.T) {
	fx := newFixture(t)
	own, held := fx.add(helen()), fx.add(testPerson())
	k := fx.start()
	k.logIn(fx, own, "5093")
	k.manage(fx, held, "Mr Test Person")
	fx.readers.InsertOperator(nil)
	k.waitFor(operator.LoggedOutCardRemoved, operator.InsertText)
	k.waitGone("Mr Test Person")
	if !fx.audited(domain.AuditOperatorLogout, domain.OutcomeSuccess) {
		t.Error("the log-out is not audited")
	}
}

// Pulling the card holder's card while they type the new passcode wipes
// what was typed and changes nothing.
func TestHolderCardRemovedAbortsUnlock(t *testing.T) {
	fx := newFixture(t)
	own, held := fx.add(helen()), fx.add(testPerson())
	k := fx.start()
	k.logIn(fx, own, "5093")
	k.manage(fx, held, "Mr Test Person")
	k.press("enter")
	k.waitFor("Unlock Smartcard")
	k.press("enter")
	k.waitFor(operator.HandOverText)
	k.press("enter")
	k.waitFor("please enter your new passcode")
	k.typeText("8642")
	fx.readers.Insert(nil)
	k.waitFor(operator.HolderRemovedText)
	k.press("enter")
	k.waitFor("Mr Test Person: 5550 0179 9894", "It is not in the second reader")
	if held.PINIs("8642") || held.PINTries != 0 {
		t.Error("the card changed although it was pulled before Confirm")
	}
}

// Ctrl+C, Ctrl+Z and Esc never leave the program.
func TestNoWayOut(t *testing.T) {
	fx := newFixture(t)
	own := fx.add(helen())
	k := fx.start()
	k.logIn(fx, own, "5093")
	k.waitFor("Dashboard")
	k.press("ctrl+c", "ctrl+z", "esc", "esc")
	time.Sleep(200 * time.Millisecond)
	k.waitFor("Dashboard", "Hi, Mrs Helen Carter")
}

// Peter Walsh has two roles: he chooses one at log-in (seed 000 Fig 2)
// and changes it from the header; the services follow the role.
func TestRoleChoiceAndChange(t *testing.T) {
	fx := newFixture(t)
	own, held := fx.add(peter()), fx.add(daniel())
	k := fx.start()
	k.logIn(fx, own, "8315")
	k.waitFor("Select session role", "Sponsor Access Role for RTH", "Systems Support Access Role for RTH")
	k.press("down", "enter")
	k.waitFor("Dashboard", operator.HeaderText("Dr Peter Walsh", "Systems Support Access Role for RTH", true))
	k.manage(fx, held, "Mr Daniel Reid")
	k.press("enter")
	k.waitFor("Service", "Repair Smartcard")
	k.press("ctrl+o")
	k.waitFor("Select session role")
	k.press("up", "enter")
	k.waitFor("Dashboard", operator.HeaderText("Dr Peter Walsh", "Sponsor Access Role for RTH", true))
	if !fx.audited(domain.AuditOperatorRole, domain.OutcomeSuccess) {
		t.Error("the role change is not audited")
	}
}

// Idle for the service's IdleLock, the session locks, wipes the screen
// and asks for the passcode again.
func TestIdleLock(t *testing.T) {
	fx := newFixture(t)
	own, held := fx.add(helen()), fx.add(testPerson())
	k := fx.start()
	k.logIn(fx, own, "5093")
	k.manage(fx, held, "Mr Test Person")
	fx.clock.Advance(opsvc.DefaultIdleLock)
	k.waitFor("Session locked", operator.LockedText)
	k.waitGone("Mr Test Person")
	k.typeText("1111")
	k.press("enter")
	k.waitFor("2 tries left")
	k.typeText("5093")
	k.press("enter")
	k.waitFor("Dashboard")
}

// Nia Roberts (RAA ID Checker) repairs Daniel Reid's expired card: the
// holder sets the passcode, the card gets new certificates.
func TestRAARepairsExpiredCard(t *testing.T) {
	fx := newFixture(t)
	own, held := fx.add(nia()), fx.add(daniel())
	k := fx.start()
	k.logIn(fx, own, "2947")
	k.manage(fx, held, "Mr Daniel Reid")
	k.waitFor("(expired)")
	k.press("enter")
	k.waitFor("Service", "Repair Smartcard")
	k.press("enter")
	k.waitFor(operator.HandOverText)
	k.press("enter")
	k.typeText("7531")
	k.press("tab")
	k.typeText("7531")
	k.press("enter")
	k.waitFor("Success: Smartcard 4082A00100000061 repaired")
	rec, err := fx.store.GetSmartcard(t.Context(), "4082A00100000061")
	if err != nil {
		t.Fatal(err)
	}
	if !rec.CertExpiry.After(start.AddDate(1, 11, 0)) || !held.PINIs("7531") {
		t.Errorf("after repair: expiry %v, passcode taken %v", rec.CertExpiry, held.PINIs("7531"))
	}
}

// Raj Mehta (Local Smartcard Administrator) is not offered Repair, and
// the domain refuses it anyway (the seed's explanation).
func TestLSANotOfferedRepair(t *testing.T) {
	fx := newFixture(t)
	own, held := fx.add(raj()), fx.add(daniel())
	k := fx.start()
	k.logIn(fx, own, "6417")
	k.manage(fx, held, "Mr Daniel Reid")
	k.press("enter")
	s := k.waitFor("Service", "Unlock Smartcard", "Clear self-service lock-out")
	if strings.Contains(flat(s), "Repair Smartcard") {
		t.Errorf("an LSA is offered Repair Smartcard:\n%s", s)
	}
}

// An operator cannot service their own card.
func TestOwnCardRefused(t *testing.T) {
	fx := newFixture(t)
	own := fx.add(helen())
	k := fx.start()
	k.logIn(fx, own, "5093")
	k.waitFor("Dashboard")
	k.press("enter")
	k.waitFor(operator.InsertHolderText)
	fx.readers.Insert(own)
	k.waitFor("Operators cannot service their own Smartcard")
}

// TestNarrowHeaderKeepsChangeAndLogout: beside the demo's tray, or on a
// narrow terminal, the header drops the product's name and shortens the
// role, but never loses Change or Logout.
func TestNarrowHeaderKeepsChangeAndLogout(t *testing.T) {
	fx := newFixture(t)
	own := fx.add(peter())
	k := fx.start()
	k.logIn(fx, own, "8315")
	k.waitFor("Select session role")
	k.press("down", "enter")
	k.waitFor("Dashboard")
	k.tm.Send(tea.WindowSizeMsg{Width: 64, Height: 50})
	k.waitUntil("a narrow header with Change and Logout", func(string) bool {
		first, _, _ := strings.Cut(k.last, "\n")
		return strings.Contains(first, "Hi, Dr Peter Walsh") && strings.Contains(first, "| Change | Logout") &&
			!strings.Contains(first, "Smartcard Service Centre") && strings.Contains(first, "…")
	})
}

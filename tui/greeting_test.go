package tui_test

import (
	"strings"
	"testing"

	"github.com/smartcard-service-centre/kiosk/tui/common"
)

// The greeting tells each holder their real situation at once: what is
// true of their card and what to do.

const unlockHere = "Choose Smartcard Unlock to set a new passcode."

// Grace Hughes: a locked card, not registered for Smartcard Unlock.
func TestGreetingLockedNotRegistered(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := testPerson()
	p.Email, p.Answers = "", nil
	card := fx.add(p)
	k := fx.start(100, 32)
	fx.readers.Insert(card)
	s := k.waitFor("What would you like to do?",
		"Your Smartcard is locked, and this kiosk cannot unlock it because you have not registered for Smartcard Unlock.",
		"Please remove your Smartcard and visit the IT booth to reset your passcode.",
		"Once your Smartcard is unlocked, you can register for Smartcard Unlock here under My Profile.")
	if strings.Contains(flat(s), unlockHere) {
		t.Fatalf("the greeting offers Smartcard Unlock to a holder who is not registered:\n%s", s)
	}
	// My Profile cannot open a locked card: the IT booth is all that works.
	k.press("2")
	s = k.waitFor("Smartcard locked", "This kiosk cannot unlock it", "visit the IT booth", "remove card finish")
	if strings.Contains(flat(s), "go to Smartcard Unlock") {
		t.Fatalf("offers Smartcard Unlock to a holder who is not registered:\n%s", s)
	}
}

// Owen Price: a locked card, locked out of Smartcard Unlock.
func TestGreetingLockedOut(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := testPerson()
	p.FailedAttempts, p.LockedOut = 3, true
	card := fx.add(p)
	k := fx.start(100, 32)
	fx.readers.Insert(card)
	s := k.waitFor("What would you like to do?",
		"Your Smartcard is locked, and you are locked out of Smartcard Unlock. "+common.LockedOutText)
	if strings.Contains(flat(s), unlockHere) {
		t.Fatalf("the greeting offers Smartcard Unlock to a holder locked out of it:\n%s", s)
	}
}

// Helen Carter, not registered, locks her card on My Profile: only the
// IT booth can help, so nothing else is offered.
func TestSignInLocksCardOfHolderNotRegistered(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := unblocked()
	p.Email, p.Answers = "", nil
	card := fx.add(p)
	k := fx.start(100, 32)
	k.lockOnMyProfile(fx, card)
	s := k.waitFor("Smartcard locked", "Your Smartcard is locked because a wrong passcode was entered 3 times.",
		"This kiosk cannot unlock it because you have not registered for Smartcard Unlock.",
		"Please remove your Smartcard and visit the IT booth to reset your passcode.", "remove card finish")
	if f := flat(s); strings.Contains(f, "go to Smartcard Unlock") || strings.Contains(f, "Use Smartcard Unlock") {
		t.Fatalf("offers Smartcard Unlock to a holder who is not registered:\n%s", s)
	}
	k.press("enter")
	s = k.settle()
	if !strings.Contains(flat(s), "visit the IT booth") {
		t.Fatalf("Enter left the notice for a screen that cannot help:\n%s", s)
	}
}

// Fatima Khan: certificates inside the renewal window.
func TestGreetingRenewalDue(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := unblocked()
	p.CertExpiry, p.Renewals = start.Add(40*day), 1
	card := fx.add(p)
	k := fx.start(100, 40)
	fx.readers.Insert(card)
	expiry := start.Add(40 * day).Format("2 January 2006")
	k.waitFor("What would you like to do?",
		"Your certificates expire on "+expiry+" and are due for renewal. To renew them, choose My Profile, then Renew certificates.")
	k.press("2")
	k.waitFor("Enter your current Smartcard passcode")
	k.typeText(p.PIN)
	k.press("enter")
	k.waitFor("Smartcard serial", "Renewal Due now")
	k.press("enter") // the cursor is on Renew certificates
	k.waitFor("Renew certificates", "expire on "+expiry, "Renew now")
}

// Daniel Reid: expired certificates.
func TestGreetingCertsExpired(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := unblocked()
	p.CertExpiry = start.Add(-20 * day)
	card := fx.add(p)
	k := fx.start(100, 40)
	fx.readers.Insert(card)
	expiry := start.Add(-20 * day).Format("2 January 2006")
	k.waitFor("What would you like to do?",
		"Your certificates expired on "+expiry+", so they cannot be renewed here.",
		"Please take your Smartcard to your Registration Authority, where an RAA ID Checker can repair it.")
	k.press("2")
	k.waitFor("Enter your current Smartcard passcode")
	k.typeText(p.PIN)
	k.press("enter")
	s := k.waitFor("Certificates expired on "+expiry,
		"Renewal "+common.CertsExpiredRenewal)
	if strings.Contains(flat(s), "Certificates expire "+expiry) {
		t.Fatalf("a past expiry reads as if it were to come:\n%s", s)
	}
}

// Certificates not yet due: the greeting says nothing about them.
func TestGreetingCertsNotDue(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	card := fx.add(unblocked())
	k := fx.start(100, 32)
	fx.readers.Insert(card)
	s := k.waitFor("What would you like to do?")
	if strings.Contains(flat(s), "Your certificates") {
		t.Fatalf("the greeting mentions certificates not yet due:\n%s", s)
	}
}

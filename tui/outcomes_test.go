package tui_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/tui"
	"github.com/smartcard-service-centre/kiosk/tui/screens"
)

// When the domain ends the session, the screen says to remove the card
// and offers no way back into the session, whose every step would now be
// refused ("please start again" for ever).
func TestEndedSessionOffersNoWayBack(t *testing.T) {
	t.Parallel()
	noWayBack := func(t *testing.T, k *kiosk) {
		t.Helper()
		k.press("enter", "esc")
		s := flat(k.settle())
		for _, bad := range []string{"What would you like to do?", "Please start again", "back to the menu", "try again"} {
			if strings.Contains(s, bad) {
				t.Fatalf("the ended visit offers %q:\n%s", bad, s)
			}
		}
	}
	t.Run("card refuses the stored PUK", func(t *testing.T) {
		t.Parallel()
		fx := newFixture(t)
		p := testPerson()
		card := fx.add(p)
		card.PUK = "11111111" // changed behind the service's back
		k := fx.start(100, 40)
		fx.readers.Insert(card)
		k.toNewPasscode(p.Answers)
		k.typeText("2468")
		k.press("enter")
		k.typeText("2468")
		k.press("enter")
		k.waitFor("did not accept the security key the service holds for it",
			"Please remove your card and visit the IT booth.", "remove card finish")
		noWayBack(t, k)
	})
	t.Run("registration gone", func(t *testing.T) {
		t.Parallel()
		fx := newFixture(t)
		p := testPerson()
		card := fx.add(p)
		k := fx.start(100, 40)
		fx.readers.Insert(card)
		k.pressStart()
		k.waitFor("To confirm your identity")
		fx.failRegistrationReads(domain.ErrNotFound) // deleted meanwhile
		k.answer(p.Answers, false)
		k.waitFor("You need to have registered for the Smartcard Unlock Service", "Remove your Smartcard to finish.")
		noWayBack(t, k)
	})
}

// A renewal that stopped part-way needs repair: never "try again", and
// not the every-third-renewal words either, even though the card was
// pulled (which alone would read as "we stopped").
func TestRenewalNeedingRepair(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := unblocked()
	p.CertExpiry, p.Renewals = start.Add(40*day), 1
	card := fx.add(p)
	card.BreakPersonalise = domain.ErrCardRemoved
	k := fx.start(100, 40)
	signIn(t, k, card, p.PIN)
	k.press("3")
	k.waitFor("Renew now")
	k.press("enter")
	s := flat(k.waitFor("Smartcard needs repair", "needs to be repaired",
		"take it to the IT booth or your Registration Authority", "remove card finish"))
	for _, bad := range []string{"try again", "Try again", "Every third renewal", "we stopped", "back to My Profile"} {
		if strings.Contains(s, bad) {
			t.Fatalf("the repair notice says %q:\n%s", bad, s)
		}
	}
	// Its words stay once the card is out.
	fx.readers.Insert(nil)
	k.waitFor("Insert your Smartcard into the reader", "needs to be repaired")
}

// A card pulled while the kiosk was changing it may have been changed:
// the holder is told to check, not that nothing happened.
func TestCardPulledDuringACardChange(t *testing.T) {
	t.Parallel()
	t.Run("removal reported first", func(t *testing.T) {
		t.Parallel()
		fx := newFixture(t)
		p := testPerson()
		card := fx.add(p)
		entered, release := make(chan struct{}), make(chan struct{})
		card.Hook = func(op string) {
			if op == "Unlock" {
				close(entered)
				<-release
			}
		}
		defer close(release)
		k := fx.start(100, 40)
		fx.readers.Insert(card)
		k.toNewPasscode(p.Answers)
		k.typeText("2468")
		k.press("enter")
		k.typeText("2468")
		k.press("enter")
		await(t, "the unlock to reach the card", entered)
		fx.readers.Insert(nil)
		s := k.waitFor("Your Smartcard was removed while we were working on it, so what you asked for may or may not have been done.",
			"Insert your Smartcard again to check.")
		if strings.Contains(s, "we stopped") {
			t.Fatalf("told nothing happened:\n%s", s)
		}
	})
	t.Run("failure reported first", func(t *testing.T) {
		t.Parallel()
		fx := newFixture(t)
		p := unblocked()
		card := fx.add(p)
		k := fx.start(100, 40)
		signIn(t, k, card, p.PIN)
		k.press("2")
		k.waitFor("Current Passcode")
		k.typeText(p.PIN)
		k.press("tab")
		k.typeText("2468")
		k.press("tab")
		k.typeText("2468")
		k.waitFor("The passcodes match")
		card.SetRemoved(true) // out, and the reader has not said so yet
		k.press("enter")
		k.waitFor("removed while we were working on it", "Insert your Smartcard again to check.")
		fx.readers.Insert(nil)
		k.waitFor("Insert your Smartcard into the reader to begin.", "removed while we were working on it")
	})
}

// Answers right but no more codes can be sent, while the latest one
// still works: the screen says no code was sent, why, until when that
// code works, and offers no button that cannot work; that code unlocks.
func TestTooManyCodesOnTheCodeScreen(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := testPerson()
	card := fx.add(p)
	k := fx.start(100, 40, func(o *tui.Options) { o.IdleTimeout = time.Hour })
	fx.readers.Insert(card)
	k.toCode(p.Answers)
	k.press("ctrl+r")
	k.waitFor("You asked for a new code")
	k.typeText("1")
	k.waitGone("You asked for a new code")
	k.press("ctrl+r") // the third code
	k.waitFor("You asked for a new code")
	live := fx.clock.Now().Add(domain.DefaultCodePolicy.Validity).Local().Format("15:04")
	k.press("esc")
	k.pressStart()
	k.answer(p.Answers, false)
	s := k.waitFor("no new Smartcard Unlock Code was sent just now",
		"We have already sent you 3 codes in the last 24 hours, the most we can send",
		"The latest code we sent you still works until "+live+": enter it below")
	for _, bad := range []string{"We have sent a Smartcard Unlock Code", "We could not send the email", screens.ResendLabel, "ctrl+r"} {
		if strings.Contains(flat(s), bad) {
			t.Fatalf("the code screen says %q:\n%s", bad, s)
		}
	}
	k.typeText(fx.latestCode("Smartcard Unlock Code"))
	k.press("enter")
	k.waitFor("Reset Smartcard Passcode")
}

// A stored registration short of questions is the registration's fault,
// not the holder's, who has typed nothing.
func TestIncompleteRegistration(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := testPerson()
	delete(p.Answers, 4)
	card := fx.add(p)
	k := fx.start(100, 32)
	fx.readers.Insert(card)
	k.pressStart()
	s := k.waitFor("Registration incomplete", "Your registration for the Smartcard Unlock Service is incomplete",
		"Please register again under My Profile.")
	if strings.Contains(flat(s), "Choose 4 different questions") {
		t.Fatalf("the holder is told to fix answers they never typed:\n%s", s)
	}
	k.press("enter")
	k.waitFor("What would you like to do?")
}

// A registration stored, but not read back afterwards, is a success.
func TestRegistrationSavedButNotReadBack(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := unblocked()
	p.Email, p.Answers = "", nil
	card := fx.add(p)
	k := fx.start(100, 44)
	signIn(t, k, card, p.PIN)
	k.press("enter")
	k.waitFor("Register for Smartcard Unlock", "Continue")
	k.toRegistrationCode("test.person@nhs.net")
	code := fx.latestCode("Smartcard Unlock Service Registration Code")
	fx.failRegistrationReads(errors.New("database connection lost"))
	k.typeText(code)
	k.press("enter")
	// The domain reports success and shows what it stored.
	s := k.waitFor("Registration complete", "Smartcard Unlock Registered (t•••@nhs.net)")
	if strings.Contains(s, "Service not available") {
		t.Fatalf("a stored registration reported as a failure:\n%s", s)
	}
	if reg, err := fx.store.GetRegistration(t.Context(), p.ID); err != nil || reg.Email != "test.person@nhs.net" {
		t.Fatalf("registration = %+v, %v", reg, err)
	}
}

package tui_test

import (
	"strings"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/tui"
)

func TestWelcomeSaysWhatTheKioskOffers(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	k := fx.start(100, 32)
	k.waitFor("Welcome to the Smartcard Service Centre",
		"Unlock your Smartcard and set a new passcode",
		"Register for the Smartcard Unlock Service",
		"Insert your Smartcard into the reader to begin.",
		"No Smartcard in the reader")
}

func TestFullUnlock(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := testPerson()
	card := fx.add(p)
	k := fx.start(100, 40)
	k.waitFor("Insert your Smartcard")

	fx.readers.insert(card)
	k.waitFor("Hello, Mr Test Person", "Your Smartcard is locked", "Smartcard Unlock", "My Profile")
	k.press("enter")
	k.waitFor("Complete these 3 simple steps to unlock your Smartcard.",
		"1. Answer security questions you set during registration.",
		"2. Enter the Unlock Code that we will send you via registered email.",
		"3. Reset your Smartcard passcode.", "Start")
	k.press("enter")
	s := k.waitFor(
		"You should not attempt to unlock another staff member's card; this could result in disciplinary action.",
		"after 3 failed attempts at answering your security questions")
	k.answer(p.answers, false)

	s = k.waitFor("We have sent a Smartcard Unlock Code to your registered email address (t•••@nhs.net).")
	code := fx.latestCode("Smartcard Unlock Code")
	if strings.Contains(s, code) {
		t.Fatalf("the kiosk shows the unlock code:\n%s", s)
	}
	if strings.Contains(s, p.email) {
		t.Fatalf("the kiosk shows the full email address:\n%s", s)
	}
	k.typeText(code)
	k.press("enter")

	k.waitFor("Reset Smartcard Passcode", "The passcode must be between 4 and 8 characters long.")
	k.typeText("2468")
	k.press("enter")
	k.typeText("2468")
	s = k.waitFor("The passcodes match")
	if strings.Contains(s, "2468") {
		t.Fatalf("a passcode is drawn in clear:\n%s", s)
	}
	k.press("enter")
	k.waitFor("Smartcard Unlocked", "Your Smartcard has been successfully unlocked.",
		"Please remove and then reinsert your Smartcard to log in as normal using your new passcode.")
	if pin, tries := card.passcode(); pin != "2468" || tries != 3 {
		t.Fatalf("card passcode = %q with %d tries, want 2468 with 3", pin, tries)
	}

	fx.readers.remove()
	s = k.waitFor("Insert your Smartcard")
	if strings.Contains(s, "Your Smartcard was removed") {
		t.Fatalf("removing the card as asked is treated as an interruption:\n%s", s)
	}
}

func TestUnlockNotRegistered(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := testPerson()
	p.email, p.answers = "", nil
	card := fx.add(p)
	k := fx.start(100, 32)
	fx.readers.insert(card)
	k.waitFor("Hello, Mr Test Person")
	k.press("enter")
	k.waitFor("Start")
	k.press("enter")
	k.waitFor("Not registered for Smartcard Unlock",
		"You need to have registered for the Smartcard Unlock Service",
		"please visit the IT booth")
	k.press("enter")
	k.waitFor("What would you like to do?")
}

func TestWrongAnswersThenLockedOut(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := testPerson()
	card := fx.add(p)
	k := fx.start(100, 40)
	fx.readers.insert(card)
	k.waitFor("Hello, Mr Test Person")
	k.press("enter")
	k.waitFor("Start")
	k.press("enter")

	k.answer(p.answers, true)
	k.waitFor("The answers did not match the ones you gave when you registered.", "You have 2 attempts left")
	k.answer(p.answers, true)
	k.waitFor("You have 1 attempt left")
	k.answer(p.answers, true)
	k.waitFor("After 3 failed attempts you cannot continue here. Please visit the IT booth to reset your Smartcard passcode.",
		"Remove your Smartcard to finish.")

	reg, err := fx.store.GetRegistration(t.Context(), p.id)
	if err != nil || !reg.LockedOut() {
		t.Fatalf("registration after 3 failures: %+v, %v; want locked out", reg, err)
	}
	// A new visit is refused at Start, before any question.
	fx.readers.remove()
	k.waitFor("Insert your Smartcard")
	fx.readers.insert(card)
	k.waitFor("Hello, Mr Test Person")
	k.press("enter")
	k.waitFor("Start")
	k.press("enter")
	k.waitFor("After 3 failed attempts you cannot continue here.")
}

// toCode takes p through the questions to the code screen.
func toCode(t *testing.T, k *kiosk, card *fakeCard, p persona) {
	t.Helper()
	k.fx.readers.insert(card)
	k.waitFor("Hello, " + p.title)
	k.press("enter")
	k.waitFor("Start")
	k.press("enter")
	k.answer(p.answers, false)
	k.waitFor("We have sent a Smartcard Unlock Code")
}

func TestWrongAndExpiredCode(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := testPerson()
	card := fx.add(p)
	k := fx.start(100, 40, func(o *tui.Options) { o.IdleTimeout = 24 * time.Hour })
	toCode(t, k, card, p)

	code := fx.latestCode("Smartcard Unlock Code")
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	k.typeText(wrong)
	k.press("enter")
	k.waitFor("That code is not correct.", "You have 2 tries left")

	fx.clock.Advance(16 * time.Minute)
	k.typeText(code)
	k.press("enter")
	k.waitFor("The code has expired", "Press ctrl+r to send a new code.")

	k.press("ctrl+r")
	k.waitFor("We have sent a new code to t•••@nhs.net")
	fresh := fx.latestCode("Smartcard Unlock Code")
	k.typeText(fresh)
	k.press("enter")
	k.waitFor("Reset Smartcard Passcode")
}

func TestPasscodePolicyFeedbackAndMismatch(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := testPerson()
	card := fx.add(p)
	k := fx.start(100, 40)
	toCode(t, k, card, p)
	k.typeText(fx.latestCode("Smartcard Unlock Code"))
	k.press("enter")
	k.waitFor("Reset Smartcard Passcode", fx.svc.PasscodePolicy().Describe())

	k.typeText("12")
	k.waitFor("The passcode must be between 4 and 8 characters long.")
	k.typeText("34")
	k.waitFor("The passcode must not be a sequence")
	k.press("backspace", "backspace", "backspace", "backspace")
	k.typeText("123456789")
	k.waitFor("✗ The passcode must be between 4 and 8 characters long.")
	for range 9 {
		k.press("backspace")
	}
	k.typeText("password")
	k.waitFor("That passcode is too easy to guess.")
	for range 8 {
		k.press("backspace")
	}
	k.typeText("7392")
	k.waitFor("Meets the passcode rules")
	k.press("enter")
	k.typeText("7393")
	k.waitFor("The two passcodes do not match.")
	k.press("enter") // refused while they differ
	k.press("backspace")
	k.typeText("2")
	k.waitFor("The passcodes match")
	k.press("enter")
	k.waitFor("Your Smartcard has been successfully unlocked.")
	if pin, _ := card.passcode(); pin != "7392" {
		t.Fatalf("card passcode = %q, want 7392", pin)
	}
}

func TestCardPulledMidFlowWipes(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := testPerson()
	card := fx.add(p)
	k := fx.start(100, 40)
	fx.readers.insert(card)
	k.waitFor("Hello, Mr Test Person")
	k.press("enter")
	k.waitFor("Start")
	k.press("enter")
	k.waitFor("To confirm your identity")
	k.typeText("Secretanswer")
	k.waitFor("Secretanswer")

	fx.readers.remove()
	s := k.waitFor("Insert your Smartcard", "Your Smartcard was removed, so we stopped and cleared everything you typed.")
	if strings.Contains(s, "Secretanswer") || strings.Contains(s, "Mr Test Person") {
		t.Fatalf("the screen still shows the last visit:\n%s", s)
	}
	// Reinserting starts from the beginning with nothing typed.
	fx.readers.insert(card)
	k.waitFor("Hello, Mr Test Person")
	k.press("enter")
	k.waitFor("Start")
	k.press("enter")
	s = k.waitFor("To confirm your identity")
	if strings.Contains(s, "Secretanswer") {
		t.Fatalf("typed answer survived the card being pulled:\n%s", s)
	}
}

func TestCodeTriesExhaustedAndResendLimit(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := testPerson()
	card := fx.add(p)
	k := fx.start(100, 40)
	toCode(t, k, card, p)
	code := fx.latestCode("Smartcard Unlock Code")
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	for _, left := range []string{"2 tries", "1 try"} {
		k.typeText(wrong)
		k.press("enter")
		k.waitFor("That code is not correct.", "You have "+left+" left")
	}
	k.typeText(wrong)
	k.press("enter")
	k.waitFor("A wrong code was entered too many times, so that code no longer works. Press ctrl+r to send a new code.")

	k.press("ctrl+r")
	k.waitFor("We have sent a new code to t•••@nhs.net")
	k.typeText("1")
	k.waitGone("We have sent a new code")
	k.press("ctrl+r")
	k.waitFor("We have sent a new code to t•••@nhs.net")
	k.press("ctrl+r") // the fourth code of the visit
	k.waitFor("Several codes have already been sent during this visit.")
}

func TestMyProfileWithLockedCard(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	card := fx.add(testPerson())
	k := fx.start(100, 32)
	fx.readers.insert(card)
	k.waitFor("What would you like to do?")
	k.press("down", "enter")
	k.waitFor("Smartcard locked", "Use Smartcard Unlock to set a new passcode.", "enter go to Smartcard Unlock")
	k.press("enter")
	k.waitFor("Complete these 3 simple steps")
	k.press("esc")
	k.waitFor("What would you like to do?")
}

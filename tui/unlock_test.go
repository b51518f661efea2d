package tui_test

import (
	"strings"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/selfservice"
	"github.com/smartcard-service-centre/kiosk/tui"
	"github.com/smartcard-service-centre/kiosk/tui/common"
	"github.com/smartcard-service-centre/kiosk/tui/screens"
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

	fx.readers.Insert(card)
	k.waitFor("Hello, Mr Test Person", "Your Smartcard is locked", "Smartcard Unlock", "My Profile")
	k.press("enter")
	k.waitFor("Complete these 3 simple steps to unlock your Smartcard.",
		"1. Answer security questions you set during registration.",
		"2. Enter the Unlock Code that we will send you via registered email.",
		"3. Reset your Smartcard passcode.", "Start")
	k.press("enter")
	k.waitFor(
		"You should not attempt to unlock another staff member's card; this could result in disciplinary action.",
		"after 3 failed attempts at answering your security questions")
	k.answer(p.Answers, false)

	s := k.waitFor("We are sending a Smartcard Unlock Code to your registered email address (t•••@nhs.net).")
	code := fx.latestCode("Smartcard Unlock Code")
	if strings.Contains(s, code) {
		t.Fatalf("the kiosk shows the unlock code:\n%s", s)
	}
	if strings.Contains(s, p.Email) {
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
	if st, err := card.Status(t.Context()); err != nil || !card.PINIs("2468") || st.PasscodeTriesLeft != 3 {
		t.Fatalf("card after unlock: %+v, %v; want passcode 2468 with 3 tries", st, err)
	}

	fx.readers.Insert(nil)
	s = k.waitFor("Insert your Smartcard")
	if strings.Contains(s, "Your Smartcard was removed") {
		t.Fatalf("removing the card as asked is treated as an interruption:\n%s", s)
	}
}

func TestUnlockNotRegistered(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := testPerson()
	p.Email, p.Answers = "", nil
	card := fx.add(p)
	k := fx.start(100, 32)
	fx.readers.Insert(card)
	k.pressStart()
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
	fx.readers.Insert(card)
	k.pressStart()

	k.answer(p.Answers, true)
	k.waitFor("The answers did not match the ones you gave when you registered.", "You have 2 attempts left")
	k.answer(p.Answers, true)
	k.waitFor("You have 1 attempt left")
	k.answer(p.Answers, true)
	k.waitFor("After 3 failed attempts you cannot continue here. Please visit the IT booth to reset your Smartcard passcode.",
		"Remove your Smartcard to finish.")

	reg, err := fx.store.GetRegistration(t.Context(), p.ID)
	if err != nil || !reg.LockedOut() {
		t.Fatalf("registration after 3 failures: %+v, %v; want locked out", reg, err)
	}
	// A new visit is refused at Start, before any question.
	fx.readers.Insert(nil)
	k.waitFor("Insert your Smartcard")
	fx.readers.Insert(card)
	k.pressStart()
	k.waitFor("After 3 failed attempts you cannot continue here.")
}

// toCode goes from the holder's menu through the questions to the code
// screen.
func (k *kiosk) toCode(answers map[domain.QuestionID]string) {
	k.t.Helper()
	k.pressStart()
	k.answer(answers, false)
	k.waitFor("a Smartcard Unlock Code to your registered email address")
}

// toNewPasscode goes on through the emailed code to the new passcode.
func (k *kiosk) toNewPasscode(answers map[domain.QuestionID]string) {
	k.t.Helper()
	k.toCode(answers)
	k.typeText(k.fx.latestCode("Smartcard Unlock Code"))
	k.press("enter")
	k.waitFor("Reset Smartcard Passcode")
}

func TestWrongAndExpiredCode(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := testPerson()
	card := fx.add(p)
	k := fx.start(100, 40, func(o *tui.Options) { o.IdleTimeout = 24 * time.Hour })
	fx.readers.Insert(card)
	k.toCode(p.Answers)

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
	k.waitFor("The code has expired", "Choose Send a new code below (or press ctrl+r).")

	k.press("ctrl+r")
	k.waitFor("You asked for a new code, so any earlier code no longer works.")
	fresh := fx.latestCode("Smartcard Unlock Code")
	k.typeText(fresh)
	k.press("enter")
	k.waitFor("Reset Smartcard Passcode")
}

// The screens word a code's lifetime as configured: here an hour.
func TestCodeValidityIsTheSetting(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, func(c *selfservice.Config) { c.Codes = domain.CodePolicy{Validity: time.Hour, MaxTries: 3} })
	p := testPerson()
	card := fx.add(p)
	k := fx.start(100, 40, func(o *tui.Options) { o.IdleTimeout = 24 * time.Hour })
	fx.readers.Insert(card)
	k.toCode(p.Answers)
	k.waitFor("The code is valid for 1 hour.")

	fx.clock.Advance(61 * time.Minute)
	k.typeText(fx.latestCode("Smartcard Unlock Code"))
	k.press("enter")
	k.waitFor("The code has expired: codes are valid for 1 hour.", "Choose Send a new code below (or press ctrl+r).")

	k.press("ctrl+r")
	k.waitFor("You asked for a new code")
	k.typeText(fx.latestCode("Smartcard Unlock Code"))
	k.press("enter")
	k.waitFor("Reset Smartcard Passcode")
	fx.clock.Advance(61 * time.Minute)
	k.typeText("2468")
	k.press("tab")
	k.typeText("2468")
	k.press("enter")
	k.waitFor("Time ran out", "The new passcode was not set within 1 hour of entering the code")
}

func TestPasscodePolicyFeedbackAndMismatch(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := testPerson()
	card := fx.add(p)
	k := fx.start(100, 40)
	fx.readers.Insert(card)
	k.toNewPasscode(p.Answers)
	k.waitFor(fx.svc.PasscodePolicy().Describe())

	k.typeText("12")
	k.waitFor("The passcode must be between 4 and 8 characters long.")
	k.typeText("34")
	k.waitFor("This passcode is too easy to guess (a sequence).")
	k.press("backspace", "backspace", "backspace", "backspace")
	k.typeText("password")
	k.waitFor("This passcode is too easy to guess (one of the most common passcodes).")
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
	if !card.PINIs("7392") {
		t.Fatal("the card's passcode is not the new one")
	}
}

func TestCardPulledMidFlowWipes(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := testPerson()
	card := fx.add(p)
	k := fx.start(100, 40)
	k.typeVisibleAnswer(fx, card, "Secretanswer")

	fx.readers.Insert(nil)
	s := k.waitFor("Insert your Smartcard", "Your Smartcard was removed, so we stopped and cleared everything you typed.")
	if strings.Contains(s, "Secretanswer") || strings.Contains(s, "Mr Test Person") {
		t.Fatalf("the screen still shows the last visit:\n%s", s)
	}
	// Reinserting starts from the beginning with nothing typed.
	fx.readers.Insert(card)
	k.pressStart()
	s = k.waitFor("To confirm your identity")
	if strings.Contains(s, "Secretanswer") {
		t.Fatalf("typed answer survived the card being pulled:\n%s", s)
	}
}

// useUp enters a wrong code until the code in the reader's email is
// used up.
func (k *kiosk) useUp(code string) {
	k.t.Helper()
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
}

// A dead code offers a visible Send a new code button, already chosen
// (↑/↓ and Enter, like other buttons; ctrl+r stays a shortcut), never
// "type it again"; once no code can be sent the visit ends with a true
// step, the time from the oldest code of the window, and reinserting the
// card meets the same step, not a loop.
func TestCodeTriesExhaustedAndResendLimit(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := testPerson()
	card := fx.add(p)
	k := fx.start(100, 40, func(o *tui.Options) { o.IdleTimeout = 24 * time.Hour })
	fx.readers.Insert(card)
	k.toCode(p.Answers)
	retry := common.When(fx.clock.Now().Add(domain.DefaultCodePolicy.Window))
	k.waitFor(screens.ResendLabel, "ctrl+r send a new code")

	k.useUp(fx.latestCode("Smartcard Unlock Code"))
	k.waitFor("A wrong code was entered too many times, so that code no longer works. Choose Send a new code below (or press ctrl+r).")
	fx.clock.Advance(time.Hour) // the time shown is from the oldest code
	k.press("enter")            // the button, chosen for the holder
	k.waitFor("You asked for a new code, so any earlier code no longer works.")

	k.useUp(fx.latestCode("Smartcard Unlock Code"))
	k.waitFor("so that code no longer works. Choose Send a new code")
	k.press("up") // back to the code: Enter would check it
	k.press("down")
	k.press("enter")
	k.waitFor("You asked for a new code, so any earlier code no longer works.")

	k.useUp(fx.latestCode("Smartcard Unlock Code"))
	end := []string{"No more codes for now",
		"A wrong code was entered too many times, so that code no longer works. We have already sent you 3 codes in the last 24 hours, the most we can send, so we cannot send another until " + retry + ".",
		"Please remove your Smartcard. You can try again after " + retry + ", or visit the IT booth now."}
	noLoop := func(s string) {
		t.Helper()
		for _, bad := range []string{"Send a new code", "ctrl+r", "enter it", "type it", "latest code"} {
			if strings.Contains(flat(s), bad) {
				t.Fatalf("the end step offers %q:\n%s", bad, s)
			}
		}
	}
	noLoop(k.waitFor(end...))
	k.press("ctrl+r")
	k.press("enter")
	noLoop(k.waitFor(end...))

	// Pulled and reinserted: the same step, before any question.
	fx.readers.Insert(nil)
	k.waitGone("No more codes for now")
	fx.readers.Insert(card)
	k.pressStart()
	noLoop(k.waitFor("We have already sent you 3 codes in the last 24 hours", "Please remove your Smartcard. You can try again after "+retry+", or visit the IT booth now."))
	if n := fx.countMail("Smartcard Unlock Code"); n != 3 {
		t.Fatalf("%d codes emailed, want 3", n)
	}
}

func TestMyProfileWithLockedCard(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	card := fx.add(testPerson())
	k := fx.start(100, 32)
	fx.readers.Insert(card)
	k.waitFor("What would you like to do?")
	k.press("down", "enter")
	k.waitFor("Smartcard locked", "Use Smartcard Unlock to set a new passcode.", "enter go to Smartcard Unlock")
	k.press("enter")
	k.waitFor("Complete these 3 simple steps")
	k.press("esc")
	k.waitFor("What would you like to do?")
}

// Back leaves Smartcard Unlock at each step for the menu, and the session
// is ready to start again: the last time through completes.
func TestBackOutOfUnlock(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := testPerson()
	card := fx.add(p)
	k := fx.start(100, 40)
	fx.readers.Insert(card)
	for _, goTo := range []func(map[domain.QuestionID]string){
		func(map[domain.QuestionID]string) { k.pressStart(); k.waitFor("To confirm your identity") },
		k.toCode,
		k.toNewPasscode,
	} {
		goTo(p.Answers)
		k.waitFor("esc back to the menu")
		k.press("esc")
		k.waitFor("What would you like to do?")
	}
	k.toNewPasscode(p.Answers)
	k.typeText("2468")
	k.press("enter")
	k.typeText("2468")
	k.press("enter")
	k.waitFor("Your Smartcard has been successfully unlocked.")
	if !card.PINIs("2468") {
		t.Fatal("the card's passcode is not the new one")
	}
}

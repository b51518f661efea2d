package tui_test

import (
	"strings"
	"testing"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/selfservice"
)

// A passcode the policy refuses is said to be refused, with the reason,
// and "The passcodes match" is not shown beside it even when the
// confirmation matches; submitting it anyway changes nothing on the card.
func TestRefusedPasscodeIsNotShownAsMatching(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := testPerson()
	card := fx.add(p)
	k := fx.start(100, 40)
	fx.readers.Insert(card)
	k.toNewPasscode(p.Answers)

	for _, tt := range []struct{ pin, why string }{
		{"1212", "(a repeated pattern)"},
		{"2580", "(a pattern on the keypad)"},
		{"1470", "(a pattern on the keypad)"},
		{"9876", "(a sequence)"},
	} {
		k.typeText(tt.pin)
		k.press("tab")
		k.typeText(tt.pin)
		refusal := "✗ This passcode is too easy to guess " + tt.why + ". Choose another."
		k.waitFor(refusal)
		s := flat(k.settle()) // the confirmation typed has been drawn
		if strings.Contains(s, "The passcodes match") || strings.Contains(s, "do not match") {
			t.Fatalf("%s: a match line beside a refused passcode:\n%s", tt.pin, k.last)
		}
		if !strings.Contains(s, refusal) {
			t.Fatalf("%s: the refusal went once the confirmation was typed:\n%s", tt.pin, k.last)
		}
		// Confirming it does nothing: the refusal stays, the card is as it
		// was.
		k.press("enter")
		if s := flat(k.settle()); !strings.Contains(s, refusal) {
			t.Fatalf("%s: after confirming a refused passcode:\n%s", tt.pin, k.last)
		}
		if st, err := card.Status(t.Context()); err != nil || !st.Blocked || card.PINIs(tt.pin) {
			t.Fatalf("%s: card after a refused passcode: %+v, %v", tt.pin, st, err)
		}
		k.press("ctrl+u", "up", "ctrl+u")
		k.waitGone("too easy to guess")
	}

	// An acceptable passcode is shown as meeting the rules, and then the
	// confirmation as matching.
	k.typeText("4739")
	k.waitFor("✓ Meets the passcode rules")
	k.press("tab")
	k.typeText("4739")
	k.waitFor("✓ Meets the passcode rules", "✓ The passcodes match")
	k.press("enter")
	k.waitFor("Your Smartcard has been successfully unlocked.")
	if !card.PINIs("4739") {
		t.Fatal("the card's passcode is not the new one")
	}
}

// The new passcode fields take no more than the policy's maximum (8): a
// ninth character typed is not taken, so the passcode set is the eight
// typed before it.
func TestPasscodeFieldsStopAtTheMaximum(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := testPerson()
	card := fx.add(p)
	k := fx.start(100, 40)
	fx.readers.Insert(card)
	k.toNewPasscode(p.Answers)
	if max := fx.svc.PasscodePolicy().MaxLen; max != 8 {
		t.Fatalf("policy maximum %d, want the default 8", max)
	}

	k.typeText("Tr0ub4d!xyz")
	k.waitFor("✓ Meets the passcode rules")
	s := k.settle()
	if got := maxMaskRun(s); got != 8 {
		t.Fatalf("the new passcode field shows %d characters, want 8:\n%s", got, s)
	}
	k.press("tab")
	k.typeText("Tr0ub4d!")
	k.waitFor("✓ The passcodes match")
	k.press("enter")
	k.waitFor("Your Smartcard has been successfully unlocked.")
	if !card.PINIs("Tr0ub4d!") {
		t.Fatal("the card's passcode is not the eight characters typed before the limit")
	}
}

// maxMaskRun is the longest run of mask characters on one line of s: the
// characters a masked field shows.
func maxMaskRun(s string) int {
	best := 0
	for _, line := range strings.Split(s, "\n") {
		run := 0
		for _, r := range line {
			if r == '•' {
				run++
				best = max(best, run)
			} else {
				run = 0
			}
		}
	}
	return best
}

// Where passcodes are numeric only, a year is refused as a new passcode,
// and the screen says so before anything is typed.
func TestNumericPolicyRefusesYears(t *testing.T) {
	t.Parallel()
	numeric := domain.DefaultPasscodePolicy()
	numeric.Charset = domain.CharsetNumeric
	fx := newFixture(t, func(c *selfservice.Config) { c.Passcodes = numeric })
	p := testPerson()
	card := fx.add(p)
	k := fx.start(100, 40)
	fx.readers.Insert(card)
	k.toNewPasscode(p.Answers)
	k.waitFor("Avoid easy guesses such as 1234, 1212, 2580 or a year.")

	k.typeText("1985")
	k.waitFor("✗ This passcode is too easy to guess (a year). Choose another.")
	k.press("backspace")
	k.typeText("7")
	k.waitFor("✗ This passcode is too easy to guess (a year). Choose another.")
	k.press("backspace", "backspace", "backspace", "backspace")
	k.typeText("3985")
	k.waitFor("✓ Meets the passcode rules")
}

// The policy is for choosing a new passcode only: a holder whose passcode
// the list now refuses signs in with it as before, and can change it.
func TestRefusedPasscodeStillSignsIn(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := unblocked()
	p.PIN = "2580"
	if err := fx.svc.PasscodePolicy().Check(p.PIN); err == nil {
		t.Fatal("2580 is no longer refused: this test shows nothing")
	}
	card := fx.add(p)
	k := fx.start(100, 40)
	signIn(t, k, card, p.PIN)
	k.press("2")
	k.waitFor("Change passcode", "Current Passcode", "New Passcode")
	k.typeText(p.PIN)
	k.press("tab")
	k.typeText("4739")
	k.press("tab")
	k.typeText("4739")
	k.waitFor("✓ The passcodes match")
	k.press("enter")
	k.waitFor("Your passcode has been changed.")
	if !card.PINIs("4739") {
		t.Fatal("the card's passcode is not the new one")
	}
}

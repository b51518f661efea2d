package tui_test

import (
	"strings"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/internal/sstest"
	"github.com/smartcard-service-centre/kiosk/tui"
)

// unblocked is the test person with a working card.
func unblocked() sstest.Holder {
	p := testPerson()
	p.Blocked = false
	return p
}

// signIn opens My Profile with the card's passcode.
func signIn(t *testing.T, k *kiosk, card *sstest.Card, pin string) string {
	t.Helper()
	k.fx.readers.Insert(card)
	k.waitFor("What would you like to do?")
	k.press("down", "enter")
	k.waitFor("Enter your current Smartcard passcode")
	k.typeText(pin)
	k.press("enter")
	return k.waitFor("My Profile", "Smartcard serial")
}

func TestProfileShowsTheHolder(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := unblocked()
	card := fx.add(p)
	k := fx.start(100, 40)
	fx.readers.Insert(card)
	k.waitFor("What would you like to do?")
	k.press("2")
	k.waitFor("Enter your current Smartcard passcode")

	k.typeText("9999")
	k.press("enter")
	s := k.waitFor("The passcode is not correct.", "You have 2 tries left before your Smartcard locks.")
	if strings.Contains(s, "9999") {
		t.Fatalf("passcode drawn in clear:\n%s", s)
	}
	k.typeText(p.PIN)
	k.press("enter")
	s = k.waitFor("Name Mr Test Person", "User ID 5550 0179 9894", "Smartcard serial 4082A001132F2817",
		"Certificates expire "+start.Add(330*day).Format("2 January 2006"),
		"Smartcard Unlock Registered (t•••@nhs.net)", "Renewal Not due yet",
		"Register again for Smartcard Unlock", "Change passcode", "Renew certificates")
	if strings.Contains(s, p.Email) {
		t.Fatalf("the full email address is shown:\n%s", s)
	}
}

func TestSignInBlocksCardAfterThreeWrongPasscodes(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := unblocked()
	card := fx.add(p)
	k := fx.start(100, 32)
	k.lockOnMyProfile(fx, card)
	k.waitFor("Smartcard locked", "Your Smartcard is locked because a wrong passcode was entered 3 times.",
		"Use Smartcard Unlock to set a new passcode.")
	k.press("enter")
	k.waitFor("Complete these 3 simple steps")
}

func TestRegistration(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := unblocked()
	p.Email, p.Answers = "", nil
	card := fx.add(p)
	k := fx.start(100, 44)
	s := signIn(t, k, card, p.PIN)
	if !strings.Contains(flat(s), "Smartcard Unlock Not registered") {
		t.Fatalf("profile should say not registered:\n%s", s)
	}
	k.press("enter")
	k.waitFor("Register for Smartcard Unlock", "approved for use with the Spine, e.g. nhs.net, nhs.uk, gov.uk or mod.uk",
		"It is only valid for 15 minutes.")
	k.press("enter")

	k.waitFor("Choose your security questions", "Chosen: 0 of 4")
	k.press("enter")
	k.waitFor("Choose 4 different questions (you have chosen 0)")
	// Questions 1, 3, 5 and 7; choosing and unchoosing 2 on the way.
	k.press("space", "down", "space", "space", "down", "space", "down", "down", "space", "down", "down", "space")
	k.waitFor("Chosen: 4 of 4")
	k.press("down", "space")
	k.waitFor("You have chosen 4 questions already.")
	k.press("enter")

	k.waitFor("Answer your security questions", "1. What is your mother's maiden name?",
		"4. What is the name of the street you grew up in?")
	k.typeText("x")
	k.press("enter")
	k.typeText("Rex")
	k.press("enter")
	k.typeText("Leeds")
	k.press("enter")
	k.typeText("Elm Road")
	k.press("enter")
	k.waitFor("Please give an answer of at least 3 characters.")
	k.typeText("yz")
	k.press("enter", "enter", "enter", "enter")

	k.waitFor("Confirm your email address")
	k.typeText("test.person@gmail.com")
	k.waitFor("That email provider is not approved. Use an address ending in nhs.net, nhs.uk, gov.uk or mod.uk.")
	for range len("gmail.com") {
		k.press("backspace")
	}
	k.typeText("nhs.net")
	k.waitFor("Approved email provider")
	k.press("enter")
	k.waitFor("Check your details", "test.person@nhs.net")
	k.press("enter")

	s = k.waitFor("Registration Code", "We are sending a Registration Code to t•••@nhs.net.", "only valid for 15 minutes")
	code := fx.latestCode("Smartcard Unlock Service Registration Code")
	if strings.Contains(s, code) || strings.Contains(s, "test.person@nhs.net") {
		t.Fatalf("code or full address on screen:\n%s", s)
	}
	k.typeText(code)
	k.press("enter")
	k.waitFor("Registration complete", "Smartcard Unlock Registered (t•••@nhs.net)", "Register again for Smartcard Unlock")

	reg, err := fx.store.GetRegistration(t.Context(), p.ID)
	if err != nil {
		t.Fatalf("registration not stored: %v", err)
	}
	if ids := reg.Questions(); reg.Email != "test.person@nhs.net" || len(ids) != 4 || len(reg.Sets) != 11 {
		t.Fatalf("registration = %s with questions %v in %d answer sets", reg.Email, ids, len(reg.Sets))
	}
}

// toRegistrationCode goes from the registration instructions through 4
// questions and their answers to the Registration Code sent to email.
func (k *kiosk) toRegistrationCode(email string) {
	k.t.Helper()
	k.press("enter")
	k.waitFor("Chosen: 0 of 4")
	k.press("space", "down", "space", "down", "space", "down", "space", "enter")
	k.waitFor("Answer your security questions")
	for _, a := range []string{"Ann", "Bob", "Cat", "Dog"} {
		k.typeText(a)
		k.press("enter")
	}
	k.waitFor("Confirm your email address")
	k.press("ctrl+u") // the registered address, when registering again
	k.typeText(email)
	k.press("enter")
	k.waitFor("Check your details", email)
	k.press("enter")
	k.waitFor("a Registration Code to")
}

func TestRegistrationCodeExpired(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := unblocked()
	card := fx.add(p)
	k := fx.start(100, 44, func(o *tui.Options) { o.IdleTimeout = 24 * time.Hour })
	signIn(t, k, card, p.PIN)
	k.press("enter")
	k.waitFor("You are already registered.")
	k.toRegistrationCode("t.person@nhs.uk")
	k.waitFor("We are sending a Registration Code to t•••@nhs.uk.")
	fx.clock.Advance(16 * time.Minute)
	k.typeText(fx.latestCode("Smartcard Unlock Service Registration Code"))
	k.press("enter")
	k.waitFor("Code expired", "Please start the registration again from My Profile.")
	k.press("enter")
	// The earlier registration stands.
	k.waitFor("Smartcard Unlock Registered (t•••@nhs.net)")
}

// Back from the Registration Code returns to My Profile with the earlier
// registration standing, and the profile still works.
func TestBackFromRegistrationCode(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := unblocked()
	card := fx.add(p)
	k := fx.start(100, 44)
	signIn(t, k, card, p.PIN)
	k.press("enter")
	k.waitFor("You are already registered.")
	k.toRegistrationCode("t.person@nhs.uk")
	k.waitFor("We are sending a Registration Code to t•••@nhs.uk.", "esc back to My Profile")
	k.press("esc")
	k.waitFor("Smartcard Unlock Registered (t•••@nhs.net)")

	k.press("2")
	k.waitFor("Current Passcode")
	k.typeText(p.PIN)
	k.press("tab")
	k.typeText("2468")
	k.press("tab")
	k.typeText("2468")
	k.press("enter")
	k.waitFor("Your passcode has been changed.")
}

func TestChangePasscode(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := unblocked()
	card := fx.add(p)
	k := fx.start(100, 40)
	signIn(t, k, card, p.PIN)
	k.press("2")
	k.waitFor("Change passcode", "Current Passcode", "New Passcode", "Confirm Passcode",
		"The passcode must be between 4 and 8 characters long.")

	k.typeText("9999")
	k.press("tab")
	k.typeText("1111")
	k.waitFor("This passcode is too easy to guess (one character repeated).")
	for range 4 {
		k.press("backspace")
	}
	k.typeText("2468")
	k.press("tab")
	k.typeText("2468")
	k.waitFor("The passcodes match")
	k.press("enter")
	k.waitFor("The passcode is not correct. Type it again. You have 2 tries left")
	k.typeText(p.PIN)
	k.press("enter", "enter", "enter")
	s := k.waitFor("Your passcode has been changed.")
	for _, secret := range []string{"2468", p.PIN, "9999"} {
		if strings.Contains(s, secret) {
			t.Fatalf("passcode %s drawn in clear:\n%s", secret, s)
		}
	}
	if !card.PINIs("2468") {
		t.Fatal("the card's passcode is not the new one")
	}
}

func TestRenewalAllowed(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := unblocked()
	p.CertExpiry, p.Renewals = start.Add(40*day), 1
	card := fx.add(p)
	k := fx.start(100, 40)
	signIn(t, k, card, p.PIN)
	k.waitFor("Renewal Due now")
	k.press("3")
	k.waitFor("Renew certificates", "expire on "+start.Add(40*day).Format("2 January 2006"), "Renew now")
	k.press("enter")
	newExpiry := start.AddDate(2, 0, 0).Format("2 January 2006")
	k.waitFor("Your certificates have been renewed. They are now valid until "+newExpiry+".",
		"Certificates expire "+newExpiry, "Renewal Not due yet")

	rec, err := fx.store.GetSmartcard(t.Context(), p.Serial)
	if err != nil || rec.RenewalsSinceOperator != 2 || !rec.CertExpiry.Equal(start.AddDate(2, 0, 0)) {
		t.Fatalf("card record after renewal: %+v, %v", rec, err)
	}
	// The renewed card still proves itself genuine.
	fx.readers.Insert(nil)
	k.waitFor("Insert your Smartcard")
	fx.readers.Insert(card)
	k.waitFor("Hello, Mr Test Person")
}

func TestRenewalRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		expiresIn time.Duration
		renewals  int
		want      []string
	}{
		{"too early", 330 * day, 0, []string{"Renewal not due yet",
			"You can renew them here from " + start.Add(240*day).Format("2 January 2006") + "."}},
		{"expired", -20 * day, 0, []string{"Certificates expired", "Please visit your Registration Authority, who can repair your Smartcard."}},
		{"third renewal", 40 * day, 2, []string{"Every third renewal has to be done with a Registration Authority",
			"Please visit your Registration Authority to renew your certificates."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fx := newFixture(t)
			p := unblocked()
			p.CertExpiry, p.Renewals = start.Add(tc.expiresIn), tc.renewals
			card := fx.add(p)
			k := fx.start(100, 40)
			signIn(t, k, card, p.PIN)
			k.press("3")
			k.waitFor(tc.want...)
			k.press("enter")
			k.waitFor("Smartcard serial")
		})
	}
}

func TestBackToTheMenuAfterSigningIn(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := unblocked()
	card := fx.add(p)
	k := fx.start(100, 40)
	signIn(t, k, card, p.PIN)
	k.press("esc")
	k.waitFor("What would you like to do?")
	k.press("enter")
	k.waitFor("Smartcard Unlock not needed", "use Change passcode in My Profile")
	k.press("enter")
	k.waitFor("What would you like to do?")
	k.press("2") // no second passcode prompt
	k.waitFor("Smartcard serial 4082A001132F2817")
}

// lockOnMyProfile inserts card, chooses My Profile and types a wrong
// passcode three times, which blocks the card.
func (k *kiosk) lockOnMyProfile(fx *fixture, card *sstest.Card) {
	k.t.Helper()
	fx.readers.Insert(card)
	k.waitFor("What would you like to do?")
	k.press("2")
	for _, left := range []string{"2 tries", "1 try"} {
		k.waitFor("Enter your current Smartcard passcode")
		k.typeText("0000")
		k.press("enter")
		k.waitFor("You have " + left + " left")
	}
	k.typeText("0000")
	k.press("enter")
}

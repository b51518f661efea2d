package selfservice

import (
	"fmt"
	"strings"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
)

// The emails' texts follow seed 004 word for word where it gives them.

const mailFooter = `If you did not request %s please inform your organisation's Registration Authority so that this can be investigated.

Please do not reply to this email as this email account is not monitored.

Regards,
Smartcard Service Centre
`

// letter is an email from the service: greeting, paragraphs, and the
// footer saying whom to tell if the holder did not ask for it.
func letter(to, subject, notAsked string, paragraphs ...string) domain.Mail {
	var b strings.Builder
	b.WriteString("Hello\n\n")
	for _, p := range paragraphs {
		b.WriteString(p + "\n\n")
	}
	fmt.Fprintf(&b, mailFooter, notAsked)
	return domain.Mail{To: to, Subject: subject, Body: b.String()}
}

// when dates a notification, in UTC as the kiosk records it.
func when(at time.Time) string { return at.UTC().Format("2 January 2006 at 15:04") + " (UTC)" }

func unlockCodeMail(to, code string, valid time.Duration) domain.Mail {
	return letter(to, "Smartcard Unlock Code", "a Smartcard Unlock Code",
		"We have received a request for a Smartcard Unlock Code. Please enter the code below to unlock your Smartcard and set a new passcode.",
		code, "This code is valid for "+domain.Period(valid)+".")
}

func registrationCodeMail(to, code string, valid time.Duration) domain.Mail {
	return letter(to, "Smartcard Unlock Service Registration Code", "this registration",
		"We have received a request to register for the Smartcard Unlock Service. Please enter the code below to complete your registration.",
		code, "This code is valid for "+domain.Period(valid)+".")
}

func unlockedMail(to string, at time.Time) domain.Mail {
	return letter(to, "Your Smartcard has been unlocked", "this",
		"Your Smartcard was unlocked and a new passcode was set at a Smartcard Service Centre kiosk on "+when(at)+".")
}

func registeredMail(to string, at time.Time) domain.Mail {
	return letter(to, "Smartcard Unlock Service registration complete", "this registration",
		"You registered for the Smartcard Unlock Service on "+when(at)+". You can now unlock your own Smartcard at a Smartcard Service Centre kiosk.")
}

func registrationChangedMail(to string, at time.Time) domain.Mail {
	return letter(to, "Smartcard Unlock Service registration changed", "this change",
		"Your registration for the Smartcard Unlock Service was changed on "+when(at)+": Smartcard Unlock Codes will now be sent to another email address.")
}

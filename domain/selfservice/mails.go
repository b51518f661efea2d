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

func minutes(d time.Duration) string {
	return fmt.Sprintf("%d minutes", int(d.Round(time.Minute)/time.Minute))
}

func unlockCodeMail(to, code string, valid time.Duration) domain.Mail {
	var b strings.Builder
	b.WriteString("Hello\n\nWe have received a request for a Smartcard Unlock Code. Please enter the code below to unlock your Smartcard and set a new passcode.\n\n")
	b.WriteString(code + "\n\n")
	fmt.Fprintf(&b, "This code is valid for %s.\n\n", minutes(valid))
	fmt.Fprintf(&b, mailFooter, "a Smartcard Unlock Code")
	return domain.Mail{To: to, Subject: "Smartcard Unlock Code", Body: b.String()}
}

func registrationCodeMail(to, code string, valid time.Duration) domain.Mail {
	var b strings.Builder
	b.WriteString("Hello\n\nWe have received a request to register for the Smartcard Unlock Service. Please enter the code below to complete your registration.\n\n")
	b.WriteString(code + "\n\n")
	fmt.Fprintf(&b, "This code is valid for %s.\n\n", minutes(valid))
	fmt.Fprintf(&b, mailFooter, "this registration")
	return domain.Mail{To: to, Subject: "Smartcard Unlock Service Registration Code", Body: b.String()}
}

func unlockedMail(to string, at time.Time) domain.Mail {
	var b strings.Builder
	fmt.Fprintf(&b, "Hello\n\nYour Smartcard was unlocked and a new passcode was set at a Smartcard Service Centre kiosk on %s (UTC).\n\n",
		at.Format("2 January 2006 at 15:04"))
	fmt.Fprintf(&b, mailFooter, "this")
	return domain.Mail{To: to, Subject: "Your Smartcard has been unlocked", Body: b.String()}
}

func registeredMail(to string, at time.Time) domain.Mail {
	var b strings.Builder
	fmt.Fprintf(&b, "Hello\n\nYou registered for the Smartcard Unlock Service on %s (UTC). You can now unlock your own Smartcard at a Smartcard Service Centre kiosk.\n\n",
		at.Format("2 January 2006 at 15:04"))
	fmt.Fprintf(&b, mailFooter, "this registration")
	return domain.Mail{To: to, Subject: "Smartcard Unlock Service registration complete", Body: b.String()}
}

func registrationChangedMail(to string, at time.Time) domain.Mail {
	var b strings.Builder
	fmt.Fprintf(&b, "Hello\n\nYour registration for the Smartcard Unlock Service was changed on %s (UTC): Smartcard Unlock Codes will now be sent to another email address.\n\n",
		at.Format("2 January 2006 at 15:04"))
	fmt.Fprintf(&b, mailFooter, "this change")
	return domain.Mail{To: to, Subject: "Smartcard Unlock Service registration changed", Body: b.String()}
}

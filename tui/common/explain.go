package common

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/selfservice"
)

// Explanation tells the person at the kiosk what happened and what to do
// next, in their words rather than the system's.
type Explanation struct {
	Title string
	What  string
	Next  string
	// Fatal means nothing more can be done with this card here: the only
	// way on is to remove it.
	Fatal bool
	// Fault means the service failed (database, mail outbox …) rather
	// than a rule saying no; worth logging in full.
	Fault bool
}

// LockedOutText is seed 004's lock-out rule, word for word.
const LockedOutText = "After 3 failed attempts you cannot continue here. Please visit the IT booth to reset your Smartcard passcode."

// notRegisteredNext is where a holder goes whose locked card this kiosk
// cannot unlock because they have not registered: seed 004 lets only
// registered holders unlock their own card, and registering needs the
// card unlocked.
const notRegisteredNext = "Please remove your Smartcard and visit the IT booth to reset your passcode. Once your Smartcard is unlocked, you can register for Smartcard Unlock here under My Profile."

// LockedGreeting is what the greeting says about a locked card, as the
// session knows its holder: Smartcard Unlock when they can use it, and
// otherwise, at once, where to go instead.
func LockedGreeting(h selfservice.Holder) string {
	switch {
	case h.Registered && h.LockedOut:
		return "Your Smartcard is locked, and you are locked out of Smartcard Unlock. " + LockedOutText
	case !h.Registered:
		return "Your Smartcard is locked, and this kiosk cannot unlock it because you have not registered for Smartcard Unlock. " + notRegisteredNext
	}
	return "Your Smartcard is locked. Choose Smartcard Unlock to set a new passcode."
}

// Locked explains a locked card (one found locked, or locked just now by
// a wrong passcode) to its holder as the session knows them. canUnlock
// reports whether Smartcard Unlock can help; when it cannot, the
// explanation sends the holder to the IT booth and is fatal, since
// nothing else here works on a locked card.
func (c *Common) Locked(h selfservice.Holder) (ex Explanation, canUnlock bool) {
	ex = c.Explain(domain.ErrCardBlocked)
	switch {
	case h.Registered && h.LockedOut:
		ex.Next = "You are locked out of Smartcard Unlock. " + LockedOutText
	case !h.Registered:
		ex.Next = "This kiosk cannot unlock it because you have not registered for Smartcard Unlock. " + notRegisteredNext
	default:
		return ex, true
	}
	ex.Fatal = true
	return ex, false
}

// CertsGreeting is what the greeting says about the holder's
// certificates: nothing until they are due for renewal, then (as seed 003
// says, holders are prompted close to expiry) when they expire and where
// to renew them; once expired, when they expired and who can repair the
// card, since they cannot be renewed here.
func CertsGreeting(h selfservice.Holder) string {
	switch {
	case h.CertsExpired:
		return "Your certificates expired on " + longDate(h.CertExpiry) +
			", so they cannot be renewed here. Please take your Smartcard to your Registration Authority, where an RAA ID Checker can repair it."
	case h.RenewalDue:
		return "Your certificates expire on " + longDate(h.CertExpiry) +
			" and are due for renewal. To renew them, choose My Profile, then Renew certificates."
	}
	return ""
}

// CertsExpiredRenewal is My Profile's renewal status once the
// certificates have expired: where to go.
const CertsExpiredRenewal = "Expired: an RAA ID Checker at your Registration Authority can repair your Smartcard"

// longDate writes a date as the screens and seeds do: 2 January 2006.
func longDate(t time.Time) string { return t.Format("2 January 2006") }

// When words a moment on the kiosk's clock: "14:32 on 3 March 2026".
func When(t time.Time) string { return t.Local().Format("15:04 on 2 January 2006") }

// codeLimit explains that no more codes can be sent for now: while the
// latest code works, enter it; else the visit ends, saying when a code
// can be sent again, or the IT booth now.
func codeLimit(e *selfservice.CodeLimitError, codeValidity time.Duration) Explanation {
	what := fmt.Sprintf("We have already sent you %s in the last %s, the most we can send, so we cannot send another until %s.",
		count(e.Max, "code", "codes"), domain.Period(e.Window), When(e.RetryAt))
	if e.Code != nil {
		what = explain(e.Code, codeValidity).What + " " + what
	}
	if !e.LiveUntil.IsZero() {
		return Explanation{
			Title: "No more codes for now",
			What:  what,
			Next:  "The latest code we sent you still works until " + e.LiveUntil.Local().Format("15:04") + ": enter it below (check your Junk folder too).",
		}
	}
	return Explanation{
		Title: "No more codes for now",
		What:  what,
		Next:  "Please remove your Smartcard. You can try again after " + When(e.RetryAt) + ", or visit the IT booth now.",
		Fatal: true,
	}
}

// Explain turns a domain outcome into words, quoting the service's
// settings (how long a code lasts) as configured. The store being
// unavailable (domain.ErrStoreUnavailable) is temporary and ends nothing;
// errors it does not know are treated as the service failing (the
// database or the mail outbox), which is what they are; the caller logs
// the detail.
func (c *Common) Explain(err error) Explanation { return explain(err, c.CodeValidity()) }

// explain is Explain with codes lasting codeValidity.
func explain(err error, codeValidity time.Duration) Explanation {
	var pe *domain.PasscodeError
	var ae *selfservice.AnswerError
	var ce *selfservice.CodeError
	var lim *selfservice.CodeLimitError
	switch {
	// Before the card being pulled and ErrNeedsOperator: a renewal that
	// stopped part-way matches those too, and only repair helps.
	case errors.Is(err, domain.ErrCardNeedsRepair):
		return Explanation{
			Title: "Smartcard needs repair",
			What:  "Your certificates could not be renewed completely, so your Smartcard now needs to be repaired before it can be used again.",
			Next:  "Please remove your Smartcard and take it to the IT booth or your Registration Authority, who can repair it.",
			Fatal: true,
		}
	// Before the card being pulled: the change was made, whatever else
	// went wrong.
	case errors.Is(err, domain.ErrRecordDelayed):
		return Explanation{
			Title: "Done, but not yet recorded",
			What:  "Your Smartcard was changed as you asked, but the Smartcard Service Centre could not record it just now, so the email confirming it has not been sent yet. This kiosk has kept the record and will pass it on, and the email will be sent, as soon as the service is back.",
			Next:  "You do not need to do anything.",
			Fatal: true,
			Fault: true,
		}
	case errors.Is(err, domain.ErrNotRecorded):
		return Explanation{
			Title: "Done, but not recorded",
			What:  "Your Smartcard was changed as you asked, but the Smartcard Service Centre could not record it, so no email confirming it has been sent.",
			Next:  "Please tell the IT booth staff, so that it can be recorded.",
			Fatal: true,
			Fault: true,
		}
	case errors.Is(err, domain.ErrCardSecretRejected):
		return Explanation{
			Title: "Smartcard needs attention",
			What:  "Your Smartcard did not accept the security key the service holds for it, so it cannot be serviced here.",
			Next:  "Please remove your card and visit the IT booth.",
			Fatal: true,
		}
	case errors.Is(err, domain.ErrCardRemoved), errors.Is(err, domain.ErrNoCard):
		return Explanation{
			Title: "Smartcard removed",
			What:  "Your Smartcard was removed from the reader, so we stopped and cleared everything you typed.",
			Next:  "Insert your Smartcard again to start over.",
			Fatal: true,
		}
	case errors.Is(err, domain.ErrReaderUnavailable):
		return ReaderServiceDown
	// After the outcomes above, which may wrap it (a change made but not
	// recorded): the store being away is a wait, not an end.
	case errors.Is(err, domain.ErrStoreUnavailable):
		return unavailable
	case errors.Is(err, domain.ErrCardNotFound):
		return Explanation{
			Title: "Smartcard not recognised",
			What:  "This Smartcard is not known to the Smartcard Service Centre.",
			Next:  "Please remove it and take it to your Registration Authority, who can check it.",
			Fatal: true,
		}
	case errors.Is(err, domain.ErrCardCancelled):
		what := "This Smartcard has been cancelled and can no longer be used."
		var ce *domain.CancelledError
		// The reason comes from the card record as stored: clean it.
		if errors.As(err, &ce) && domain.CleanText(ce.Reason) != "" {
			what = fmt.Sprintf("This Smartcard has been cancelled (reason: %s) and can no longer be used.", domain.CleanText(ce.Reason))
		}
		return Explanation{
			Title: "Smartcard cancelled",
			What:  what,
			Next:  "Please remove it and contact your Registration Authority for a replacement card.",
			Fatal: true,
		}
	case errors.Is(err, domain.ErrCardNotGenuine):
		return Explanation{
			Title: "Smartcard could not be verified",
			What:  "The kiosk could not confirm that this is a genuine Smartcard issued by the service.",
			Next:  "Please remove it and take it to the IT booth or your Registration Authority.",
			Fatal: true,
		}
	case errors.Is(err, domain.ErrUserNotFound):
		return Explanation{
			Title: "Card holder not found",
			What:  "We could not find the record of the person this Smartcard was issued to.",
			Next:  "Please remove your Smartcard and visit your Registration Authority.",
			Fatal: true,
		}
	case errors.Is(err, domain.ErrNotRegistered):
		return Explanation{
			Title: "Not registered for Smartcard Unlock",
			What:  "You need to have registered for the Smartcard Unlock Service to unlock your Smartcard here, and you have not registered yet.",
			Next:  "If your Smartcard is locked, please visit the IT booth to reset your passcode. Once you know your passcode, you can register here under My Profile.",
		}
	case errors.Is(err, domain.ErrLockedOut):
		return Explanation{
			Title: "Smartcard Unlock not available",
			What:  LockedOutText,
			Fatal: true,
		}
	case errors.As(err, &ae):
		return Explanation{
			Title: "Answers not recognised",
			What:  "The answers did not match the ones you gave when you registered.",
			Next:  attemptsLeft(ae.AttemptsLeft),
		}
	case errors.As(err, &lim):
		return codeLimit(lim, codeValidity)
	case errors.As(err, &ce):
		return Explanation{
			Title: "Code not correct",
			What:  "That code is not correct.",
			Next:  fmt.Sprintf("Check the code in the email and type it again. %s", triesLeft(ce.TriesLeft, "try", "tries")),
		}
	case errors.Is(err, domain.ErrCodeExpired):
		valid := domain.Period(codeValidity)
		return Explanation{
			Title: "Code expired",
			What:  "The code has expired: codes are valid for " + valid + ".",
			Next:  "Ask for a new code and use it within " + valid + ".",
		}
	case errors.Is(err, domain.ErrCodeTriesExhausted):
		return Explanation{
			Title: "Too many wrong codes",
			What:  "A wrong code was entered too many times, so that code no longer works.",
			Next:  "Ask for a new code.",
		}
	case errors.Is(err, domain.ErrCodeUsed):
		return Explanation{
			Title: "Code already used",
			What:  "That code has already been used.",
			Next:  "Ask for a new code.",
		}
	case errors.Is(err, selfservice.ErrTooManyCodes):
		return Explanation{
			Title: "Too many codes requested",
			What:  "No more codes can be sent just now.",
			Next:  "Please remove your Smartcard and try again later, or visit the IT booth now.",
		}
	case errors.Is(err, domain.ErrCardBlocked):
		return Explanation{
			Title: "Smartcard locked",
			What:  fmt.Sprintf("Your Smartcard is locked because a wrong passcode was entered %d times.", domain.PasscodeTries),
			Next:  "Use Smartcard Unlock to set a new passcode. If you have not registered for it, please visit the IT booth.",
		}
	case errors.As(err, &pe):
		return Explanation{
			Title: "Passcode not correct",
			What:  "The passcode is not correct.",
			Next:  fmt.Sprintf("Type it again. %s before your Smartcard locks.", triesLeft(pe.TriesLeft, "try", "tries")),
		}
	case errors.Is(err, domain.ErrPasscodePolicy):
		var p *domain.PolicyError
		what := "The new passcode does not meet the rules."
		if errors.As(err, &p) {
			what = p.Reason
		}
		return Explanation{Title: "Choose another passcode", What: what, Next: "Please choose another passcode."}
	case errors.Is(err, selfservice.ErrSamePasscode):
		return Explanation{Title: "Choose another passcode", What: "The new passcode must be different from the current one.", Next: "Please choose another passcode."}
	case errors.Is(err, domain.ErrEmailNotApproved):
		return Explanation{
			Title: "Email address not approved",
			What:  "That email address is not from a provider approved for use with the Spine.",
			// The screen that takes the address names the approved
			// providers from the policy; the error does not carry them.
			Next: "Please use an address from an approved provider.",
		}
	case errors.Is(err, domain.ErrInvalidEmail):
		return Explanation{Title: "Email address not valid", What: "That is not a valid email address.", Next: "Enter an address such as jane.smith@nhs.net."}
	case errors.Is(err, domain.ErrQuestions):
		return Explanation{
			Title: "Security questions not complete",
			What:  fmt.Sprintf("Choose %d different questions and give each a different answer of %d to %d characters.", domain.QuestionsPerUser, domain.MinAnswerLen, domain.MaxAnswerLen),
			Next:  "Please check your questions and answers.",
		}
	case errors.Is(err, domain.ErrRenewalTooEarly):
		next := "Please come back when your certificates are due for renewal."
		var te *domain.TooEarlyError
		if errors.As(err, &te) && !te.Opens.IsZero() {
			next = "You can renew them here from " + te.Opens.Format("2 January 2006") + "."
		}
		return Explanation{Title: "Renewal not due yet", What: "Your certificates are not due for renewal yet: they can be renewed here in the 90 days before they expire.", Next: next}
	case errors.Is(err, domain.ErrCertificateExpired):
		return Explanation{
			Title: "Certificates expired",
			What:  "Your certificates have already expired, so they cannot be renewed here.",
			Next:  "Please visit your Registration Authority, who can repair your Smartcard.",
		}
	case errors.Is(err, domain.ErrNeedsOperator):
		return Explanation{
			Title: "Renewal needs your Registration Authority",
			What:  "Every third renewal has to be done with a Registration Authority, who checks your identity.",
			Next:  "Please visit your Registration Authority to renew your certificates.",
		}
	case errors.Is(err, selfservice.ErrOutOfTurn):
		return Explanation{Title: "Please start again", What: "This step is not available now.", Next: "Please go back to the menu and start again."}
	}
	return Explanation{
		Title: "Service not available",
		What:  "The Smartcard Service Centre cannot complete this at the moment.",
		Next:  "Please try again in a few minutes. If it keeps happening, please visit the IT booth.",
		Fault: true,
	}
}

// CardRemovedWhileChanging explains a card pulled while the kiosk was
// changing it (unlock, change passcode, renew): the change may have been
// made, so "we stopped" would be wrong.
var CardRemovedWhileChanging = Explanation{
	Title: "Smartcard removed",
	What:  "Your Smartcard was removed while we were working on it, so what you asked for may or may not have been done.",
	Next:  "Insert your Smartcard again to check.",
	Fatal: true,
}

// ReaderServiceDown explains the card reader service being unavailable
// (pcscd stopped, the reader gone) rather than a card pulled out. It is a
// fault, which the kiosk logs as an error: that is how staff are told.
var ReaderServiceDown = Explanation{
	Title: "Card reader not available",
	What:  "The card reader service is not available at the moment, so the kiosk cannot use your Smartcard. Staff have been told.",
	Next:  "Please try again in a few minutes, or visit the IT booth if you need help now.",
	Fatal: true,
	Fault: true,
}

// ReaderLostWhileChanging explains the card reader service stopping while
// the kiosk was changing the card: the change may have been made.
var ReaderLostWhileChanging = Explanation{
	Title: "Card reader not available",
	What:  "The card reader service stopped while we were working on your Smartcard, so what you asked for may or may not have been done. Staff have been told.",
	Next:  "When the reader is back, insert your Smartcard again to check.",
	Fatal: true,
	Fault: true,
}

// CodeSentText says what became of the email carrying a code, as the
// outbox records it: what names the code ("a Smartcard Unlock Code"), to
// where ("your registered email address (t•••@nhs.net)"). Only an email
// the mail service took is "sent" (seed 004's words); until then it is
// being sent.
func CodeSentText(d domain.Delivery, what, to string) string {
	switch d {
	case domain.DeliverySent:
		return "We have sent " + what + " to " + to + "."
	case domain.DeliveryFailed:
		return "We could not send " + what + " to " + to + "."
	}
	return "We are sending " + what + " to " + to + "."
}

// CodeDeliveryProblem says what to do about an email whose delivery has
// failed for a while (failed attempts, or given up); "" while nothing is
// wrong. resend names the key that sends a new code.
func CodeDeliveryProblem(d domain.Delivery, resend string) string {
	switch d {
	case domain.DeliveryDelayed:
		return "The email is taking longer than it should: the mail service has not accepted it yet, and we are still trying, so it may arrive late. " +
			"If it has not arrived in a few minutes, press " + resend + " to send a new code. If that does not arrive either, please visit the IT booth."
	case domain.DeliveryFailed:
		return "The email could not be delivered, so this code will not arrive. Press " + resend +
			" to send a new code. If this keeps happening, please visit the IT booth."
	}
	return ""
}

// NewCodeText is the news after the holder asked for a new code; the
// screen says separately how far its email has got.
const NewCodeText = "You asked for a new code, so any earlier code no longer works."

// CodeNotChecked explains a code the service could not check just now
// (the database did not answer): nothing is lost and the same code still
// works. again names the key that tries again.
func CodeNotChecked(again string) string {
	return "We could not check your code just now, because the Smartcard Service Centre did not answer. Nothing is lost and your code still works: press " +
		again + " to try again in a moment. If it keeps happening, please visit the IT booth."
}

// sessionEnded words a visit the domain has ended without a reason the
// holder can act on.
var sessionEnded = Explanation{
	Title: "Please remove your Smartcard",
	What:  "Nothing more can be done with your Smartcard in this visit.",
	Next:  "Please remove your Smartcard. You can then insert it again to start over.",
	Fatal: true,
}

// Ended explains err when the domain has also ended the session: the
// holder can do nothing more in this visit, so the outcome is fatal and
// any advice to go back or start again in place (which would only meet
// "please start again" for ever) gives way to removing the card.
func (c *Common) Ended(err error) Explanation {
	ex := c.Explain(err)
	switch {
	case ex.Fatal:
		return ex
	case err == nil, errors.Is(err, selfservice.ErrOutOfTurn):
		return sessionEnded
	}
	ex.Fatal = true
	if strings.Contains(strings.ToLower(ex.Next), "again") || strings.Contains(ex.Next, "menu") {
		ex.Next = sessionEnded.Next
	}
	return ex
}

// IsServiceFault reports whether Explain treats err as the service
// failing rather than a rule saying no.
func IsServiceFault(err error) bool {
	return err != nil && explain(err, 0).Fault // no settings decide a fault
}

func attemptsLeft(n int) string {
	return fmt.Sprintf("Please try again. %s before you are locked out of Smartcard Unlock.", triesLeft(n, "attempt", "attempts"))
}

func triesLeft(n int, one, many string) string {
	return "You have " + count(n, one, many) + " left"
}

// count words n things: "1 try", "2 tries".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

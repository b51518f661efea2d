package operator

import (
	"errors"
	"fmt"

	"github.com/smartcard-service-centre/kiosk/domain"
	opsvc "github.com/smartcard-service-centre/kiosk/domain/operator"
	"github.com/smartcard-service-centre/kiosk/tui/common"
)

// The operator terminal's words (seeds 000–002). They speak to the
// operator; the card holder is "the card holder".
const (
	InsertText           = "Insert your Smartcard"
	LoggedOutText        = "You have logged out."
	LoggedOutCardRemoved = "Your Smartcard was removed, so you have been logged out and the screen was cleared."
	SessionEndedText     = "Your session has ended. Insert your Smartcard to log in again."
	CallTimedOutText     = "Your session ended because the terminal stopped getting an answer, and the screen was cleared. What you asked for may or may not have been done: log in again and check the card holder's Smartcard."
	InsertHolderText     = "Insert the card holder's Smartcard into the second reader"
	CheckPersonText      = "Check that this is the person in front of you before you go on."
	HandOverText         = "Please hand the keyboard to the card holder."
	OnlyHolderText       = "Only the card holder may choose and type the new passcode: it must not be known by, or told to, anyone else, Registration Authority staff included."
	HolderRemovedText    = "The card holder's Smartcard was removed from the second reader, so we stopped and cleared what was typed."
	ChangedMaybeText     = "The card holder's Smartcard was removed while it was being changed, so what you asked for may or may not have been done."
	ReinsertToCheckText  = "Insert it into the second reader again to check."
	LockedText           = "This session locked because it was not used for a while, and the screen was cleared."
)

// explainLogin words an outcome of logging in with the operator's own
// card (Begin, LogIn, Resume): all of them end the log-in.
func explainLogin(err error) common.Explanation {
	var pe *domain.PasscodeError
	switch {
	case errors.Is(err, domain.ErrNotOperator):
		return common.Explanation{
			Title: "No Registration Authority role",
			What:  "None of your positions carries a Registration Authority activity (B1300 Sponsor, B0263 Local Smartcard Administrator or B0267 RAA ID Checker), so you cannot use the operator terminal.",
			Next:  "Remove your Smartcard. If you should have one of these roles, please contact your Registration Authority.",
			Fatal: true,
		}
	case errors.Is(err, domain.ErrCardBlocked):
		return common.Explanation{
			Title: "Smartcard locked",
			What:  fmt.Sprintf("Your Smartcard is locked because a wrong passcode was entered %d times.", domain.PasscodeTries),
			Next:  "Remove your Smartcard and ask another Sponsor or Local Smartcard Administrator to unlock it.",
			Fatal: true,
		}
	case errors.As(err, &pe):
		return common.Explanation{
			Title: "Passcode not correct",
			What:  "The passcode is not correct.",
			Next:  fmt.Sprintf("Type it again. You have %s left before your Smartcard locks.", tries(pe.TriesLeft)),
		}
	case errors.Is(err, domain.ErrCardNotFound):
		return fatal("Smartcard not recognised", "This Smartcard is not known to the Smartcard Service Centre.", "Remove it and insert your own Smartcard.")
	case errors.Is(err, domain.ErrCardCancelled):
		return fatal("Smartcard cancelled", "This Smartcard has been cancelled and can no longer be used.", "Remove it and contact your Registration Authority for a replacement card.")
	case errors.Is(err, domain.ErrCardNotGenuine):
		return fatal("Smartcard could not be verified", "The terminal could not confirm that this is a genuine Smartcard issued by the service.", "Remove it and contact your Registration Authority.")
	case errors.Is(err, domain.ErrCertificateExpired), errors.Is(err, domain.ErrCardNeedsRepair):
		return fatal("Smartcard needs repair", "The certificates on your Smartcard have expired or need repair, so it cannot log in.", "Remove it and ask an RAA ID Checker to repair it.")
	case errors.Is(err, domain.ErrUserNotFound):
		return fatal("User not found", "We could not find the record of the person this Smartcard was issued to.", "Remove it and contact your Registration Authority.")
	case errors.Is(err, domain.ErrCardRemoved), errors.Is(err, domain.ErrNoCard):
		return fatal("Smartcard removed", "Your Smartcard was removed.", "Insert it again to log in.")
	case errors.Is(err, domain.ErrReaderUnavailable):
		return fatal("Card reader not available", "The card reader service is not available at the moment.", "Try again in a few minutes; if it keeps happening, contact the IT Service Desk.")
	case errors.Is(err, opsvc.ErrSessionEnded):
		return fatal("Session ended", "Your session has ended.", "Remove your Smartcard and insert it again to log in.")
	case errors.Is(err, domain.ErrStoreUnavailable):
		// The screens that meet it wait (passcode) or try again (reading
		// the card): these words are for any other.
		return unavailableHand
	}
	return fatal("Service not available", "The Smartcard Service Centre cannot complete this at the moment.", "Remove your Smartcard and try again in a few minutes. If it keeps happening, contact the IT Service Desk.")
}

// explain words an outcome of managing a card holder's Smartcard. None
// ends the log-in: Enter goes back.
func explain(err error) common.Explanation {
	var pe *opsvc.PermissionError
	var ce *domain.CancelledError
	switch {
	case errors.As(err, &pe), errors.Is(err, domain.ErrNotPermitted):
		return common.Explanation{Title: "Not permitted", What: opsvc.NotPermittedText, Next: "Choose another service, or change your session role."}
	case errors.Is(err, domain.ErrOwnCard):
		return common.Explanation{Title: "Your own Smartcard", What: "Operators cannot service their own Smartcard or their own user record.", Next: "Ask another Registration Authority operator."}
	case errors.Is(err, domain.ErrWrongCard):
		return common.Explanation{Title: "Not the Smartcard selected", What: "The Smartcard in the second reader is not the one selected for this card holder.", Next: "Remove it and insert the card holder's selected Smartcard."}
	case errors.Is(err, domain.ErrCardNeedsRepair):
		return common.Explanation{Title: "Smartcard needs repair", What: "This Smartcard was left part-way through a change, so only Repair Smartcard (RAA ID Checker, B0267) can fix it.", Next: "Choose Repair Smartcard, or ask an RAA ID Checker."}
	case errors.Is(err, domain.ErrRecordDelayed):
		return common.Explanation{Title: "Done, but not yet recorded", What: "The Smartcard was changed, but the service could not record it just now. This terminal has kept the record and will pass it on as soon as the service is back.", Fault: true}
	case errors.Is(err, domain.ErrNotRecorded):
		return common.Explanation{Title: "Done, but not recorded", What: "The Smartcard was changed, but the service could not record it.", Next: "Please report this to the IT Service Desk so that it can be recorded.", Fault: true}
	case errors.Is(err, domain.ErrCardSecretRejected):
		return common.Explanation{Title: "Smartcard refused the service's key", What: "The Smartcard did not accept the security key the service holds for it, so it cannot be serviced.", Next: "The card will need to be replaced: cancel it and ask for a new one."}
	case errors.Is(err, domain.ErrCardRemoved), errors.Is(err, domain.ErrNoCard), errors.Is(err, opsvc.ErrNoHolderCard):
		return common.Explanation{Title: "Insert the card holder's Smartcard", What: "The card holder's Smartcard is not in the second reader.", Next: InsertHolderText + "."}
	case errors.Is(err, opsvc.ErrNoHolder):
		return common.Explanation{Title: "No card holder", What: "No card holder is selected.", Next: "Use Manage Smartcard, or search for the card holder."}
	case errors.Is(err, opsvc.ErrNoCardSelected):
		return common.Explanation{Title: "No Smartcard selected", What: "The card holder has no Smartcard that is active and in date.", Next: "Select one of their Smartcards in the Smartcard Details table."}
	case errors.Is(err, domain.ErrCardNotFound):
		return common.Explanation{Title: "Smartcard not recognised", What: "This Smartcard is not known to the Smartcard Service Centre.", Next: "Remove it. The card holder should contact their Registration Authority."}
	case errors.As(err, &ce), errors.Is(err, domain.ErrCardCancelled):
		what := "This Smartcard has been cancelled and can no longer be used."
		if ce != nil && ce.Reason != "" {
			what = fmt.Sprintf("This Smartcard has been cancelled (reason: %s) and can no longer be used.", domain.CleanText(ce.Reason))
		}
		return common.Explanation{Title: "Smartcard cancelled", What: what, Next: "The card holder needs a replacement card."}
	case errors.Is(err, domain.ErrCardNotGenuine):
		return common.Explanation{Title: "Smartcard could not be verified", What: "The terminal could not confirm that this is a genuine Smartcard issued by the service.", Next: "Do not service it. Remove it and report it to your Registration Authority."}
	case errors.Is(err, domain.ErrUserNotFound):
		return common.Explanation{Title: "User not found", What: "We could not find that user.", Next: "Check the user ID and search again."}
	case errors.Is(err, domain.ErrRepairNotNeeded):
		return common.Explanation{Title: "Repair not needed", What: "This Smartcard's certificates are in date and it can still be renewed, so it does not need repair.", Next: "Use Assisted renewal when it is due, or Unlock Smartcard if it is locked."}
	case errors.Is(err, domain.ErrRenewalTooEarly):
		next := "Come back in the 90 days before its certificates expire."
		var te *domain.TooEarlyError
		if errors.As(err, &te) && !te.Opens.IsZero() {
			next = "It can be renewed from " + te.Opens.Format("2 January 2006") + "."
		}
		return common.Explanation{Title: "Renewal not due yet", What: "This Smartcard's certificates are not due for renewal yet.", Next: next}
	case errors.Is(err, domain.ErrCertificateExpired):
		return common.Explanation{Title: "Certificates expired", What: "This Smartcard's certificates have expired, so they cannot be renewed.", Next: "Use Repair Smartcard (RAA ID Checker, B0267)."}
	case errors.Is(err, domain.ErrNotRegistered):
		return common.Explanation{Title: "Not registered", What: "The card holder has not registered for the Smartcard Unlock Service, so there is no self-service lock-out to clear."}
	case errors.Is(err, domain.ErrNotLockedOut):
		return common.Explanation{Title: "Not locked out", What: "The card holder is not locked out of self-service and has no failed attempts to clear."}
	case errors.Is(err, domain.ErrCardNotBlocked):
		return common.Explanation{Title: "Smartcard not locked", What: "This Smartcard is not locked."}
	case errors.Is(err, domain.ErrCancelReason):
		return common.Explanation{Title: "Reason needed", What: "Say why the Smartcard is being cancelled.", Next: "Choose a reason; with Other, describe it."}
	case errors.Is(err, domain.ErrPasscodePolicy):
		var p *domain.PolicyError
		what := "The new passcode does not meet the rules."
		if errors.As(err, &p) {
			what = p.Reason
		}
		return common.Explanation{Title: "Choose another passcode", What: what, Next: "Please choose another passcode."}
	case errors.Is(err, opsvc.ErrSessionLocked):
		return common.Explanation{Title: "Session locked", What: "Your session is locked.", Next: "Enter your passcode to go on."}
	case errors.Is(err, opsvc.ErrOutOfTurn):
		return common.Explanation{Title: "Please start again", What: "This step is not available now.", Next: "Go back and start again."}
	case errors.Is(err, domain.ErrReaderUnavailable):
		return common.Explanation{Title: "Card reader not available", What: "The card reader service is not available at the moment.", Next: "Try again in a few minutes; if it keeps happening, contact the IT Service Desk.", Fault: true}
	// After the outcomes above, which may wrap it (a change made but not
	// recorded): the store being away is a wait, not a failure.
	case errors.Is(err, domain.ErrStoreUnavailable):
		return unavailableHand
	}
	return common.Explanation{Title: "Service not available", What: "The Smartcard Service Centre cannot complete this at the moment.", Next: "Try again in a few minutes. If it keeps happening, contact the IT Service Desk.", Fault: true}
}

// The store being unavailable (domain.ErrStoreUnavailable), in the
// operator's words: unavailableAuto on a screen that tries again by
// itself, unavailableHand where the operator does (nothing is lost).
var (
	unavailableAuto = common.Explanation{
		Title: "Temporarily unavailable",
		What:  "The Smartcard Service Centre's records cannot be reached at the moment. Nothing you typed has been lost.",
		Next:  "Please wait: this screen carries on by itself as soon as the service is back. Neither Smartcard needs to be removed.",
	}
	unavailableHand = common.Explanation{
		Title: "Temporarily unavailable",
		What:  "The Smartcard Service Centre's records cannot be reached at the moment.",
		Next:  "Wait until the message at the bottom of the screen has gone, then try again. Neither Smartcard needs to be removed.",
	}
)

func fatal(title, what, next string) common.Explanation {
	return common.Explanation{Title: title, What: what, Next: next, Fatal: true}
}

func tries(n int) string {
	if n == 1 {
		return "1 try"
	}
	return fmt.Sprintf("%d tries", n)
}

// isFault reports whether err is the service failing rather than a rule.
func isFault(err error) bool {
	return err != nil && explain(err).Fault && explainLogin(err).Title == "Service not available"
}

// logOutcome logs an outcome: a fault as an error, a refusal as info.
func logOutcome(c *common.Common, what string, err error) {
	switch {
	case err == nil:
	case isFault(err):
		c.Log.Error(what, "err", err)
	default:
		c.Log.Info(what, "outcome", err)
	}
}

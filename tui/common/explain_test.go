package common

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/selfservice"
)

// noService explains with the default settings.
var noService = &Common{}

// Every outcome the domain names gets its own words; only unknown errors
// and the card reader service read as the service failing.
func TestExplainCoversEveryOutcome(t *testing.T) {
	outcomes := []error{
		domain.ErrCardRemoved, domain.ErrNoCard, domain.ErrCardNotFound,
		domain.ErrCardCancelled, domain.ErrCardNotGenuine, domain.ErrUserNotFound, domain.ErrNotRegistered,
		domain.ErrLockedOut, domain.ErrCodeExpired, domain.ErrCodeTriesExhausted, domain.ErrCodeUsed,
		domain.ErrCardBlocked, domain.ErrPasscodePolicy, domain.ErrEmailNotApproved, domain.ErrInvalidEmail,
		domain.ErrQuestions, domain.ErrRenewalTooEarly, domain.ErrCertificateExpired, domain.ErrNeedsOperator,
		domain.ErrCardNeedsRepair, domain.ErrCardSecretRejected,
		selfservice.ErrOutOfTurn, selfservice.ErrTooManyCodes, selfservice.ErrSamePasscode,
		&selfservice.AnswerError{AttemptsLeft: 2}, &selfservice.CodeError{TriesLeft: 1},
		&domain.PasscodeError{TriesLeft: 2}, &domain.PolicyError{Reason: "Too short."},
		&domain.CancelledError{Reason: "Lost"}, &domain.TooEarlyError{Opens: time.Now()},
	}
	for _, err := range outcomes {
		wrapped := fmt.Errorf("some step: %w", err)
		ex := noService.Explain(wrapped)
		if ex.Fault || ex.Title == "" || ex.What == "" {
			t.Errorf("Explain(%v) = %+v: want its own words", err, ex)
		}
	}
	if ex := noService.Explain(errors.New("sql: database is closed")); !ex.Fault || ex.Title != "Service not available" {
		t.Errorf("unknown error explained as %+v", ex)
	}
	// A fault with its own words: the reader service, not the card.
	if ex := noService.Explain(fmt.Errorf("open card: %w", domain.ErrReaderUnavailable)); !ex.Fault || ex != ReaderServiceDown {
		t.Errorf("reader unavailable explained as %+v", ex)
	}
}

func TestExplainDetails(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("identify: %w", &domain.CancelledError{Reason: "Lost\x1b]0;x\x07"}), "cancelled (reason: Lost) and can"},
		{domain.ErrCardCancelled, "This Smartcard has been cancelled and can no longer be used."},
		{&domain.CancelledError{Reason: "\x1b[2J"}, "This Smartcard has been cancelled and can no longer be used."},
		{&selfservice.AnswerError{AttemptsLeft: 1}, "You have 1 attempt left before you are locked out"},
		{&selfservice.CodeError{TriesLeft: 2}, "You have 2 tries left"},
		{&domain.PasscodeError{TriesLeft: 1}, "You have 1 try left before your Smartcard locks."},
		{fmt.Errorf("renew: %w", &domain.TooEarlyError{Opens: time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC)}), "You can renew them here from 2 January 2027."},
		{domain.ErrRenewalTooEarly, "Please come back when your certificates are due for renewal."},
		{domain.ErrLockedOut, LockedOutText},
	} {
		ex := noService.Explain(tc.err)
		if got := ex.What + " " + ex.Next; !strings.Contains(got, tc.want) || strings.ContainsRune(got, 0x1b) {
			t.Errorf("Explain(%q) = %q, want it to contain %q", tc.err, got, tc.want)
		}
	}
}

// A renewal stopped part-way needs repair, whatever else its error
// matches; so does one renewed but not recorded. Neither says try again.
func TestExplainNeedsRepairFirst(t *testing.T) {
	for _, err := range []error{
		fmt.Errorf("renew certificates: %w (%w)", domain.ErrCardRemoved, domain.ErrCardNeedsRepair),
		fmt.Errorf("renew certificates: %w (%w)", domain.ErrNeedsOperator, domain.ErrCardNeedsRepair),
		fmt.Errorf("the card was renewed but the service could not record it: %w (%w)", errors.New("sql: database is closed"), domain.ErrCardNeedsRepair),
	} {
		ex := noService.Explain(err)
		if ex.Title != "Smartcard needs repair" || !ex.Fatal || strings.Contains(strings.ToLower(ex.What+ex.Next), "try again") {
			t.Errorf("Explain(%v) = %+v", err, ex)
		}
	}
	if ex := noService.Explain(fmt.Errorf("unlock smartcard: wrong PUK: %w", domain.ErrCardSecretRejected)); !ex.Fatal ||
		!strings.Contains(ex.Next, "remove your card and visit the IT booth") {
		t.Errorf("a refused PUK explained as %+v", ex)
	}
}

// Once the session has ended, nothing sends the holder back into it.
func TestEndedIsFatal(t *testing.T) {
	for _, err := range []error{selfservice.ErrOutOfTurn, domain.ErrNotRegistered, errors.New("sql: database is closed"), nil} {
		ex := noService.Ended(err)
		if !ex.Fatal || strings.Contains(ex.Next, "menu") || strings.Contains(ex.What, "not available now") {
			t.Errorf("Ended(%v) = %+v", err, ex)
		}
	}
	if ex := noService.Ended(domain.ErrLockedOut); ex.What != LockedOutText {
		t.Errorf("Ended kept no words of its own for a lock-out: %+v", ex)
	}
}

// Words that quote a setting follow it: a code's lifetime is configured.
func TestExplainQuotesTheCodeValidity(t *testing.T) {
	for d, want := range map[time.Duration]string{
		domain.DefaultCodePolicy.Validity: "codes are valid for 15 minutes. Ask for a new code and use it within 15 minutes.",
		time.Hour:                         "codes are valid for 1 hour. Ask for a new code and use it within 1 hour.",
	} {
		ex := explain(fmt.Errorf("use code: %w", domain.ErrCodeExpired), d)
		if got := ex.What + " " + ex.Next; !strings.HasSuffix(got, want) {
			t.Errorf("code valid for %s explained as %q, want it to end %q", d, got, want)
		}
	}
}

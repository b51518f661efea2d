package common

import (
	"strings"
	"testing"

	"github.com/smartcard-service-centre/kiosk/domain"
)

// The code screen says "we have sent" only once the mail service took the
// email, and says what to do once delivery has failed for a while.
func TestCodeDeliveryWords(t *testing.T) {
	const what, to = "a Smartcard Unlock Code", "your registered email address (t•••@nhs.net)"
	for _, tc := range []struct {
		d              domain.Delivery
		status, advice string // advice "": none
	}{
		{0, "We are sending a Smartcard Unlock Code to your registered email address (t•••@nhs.net).", ""},
		{domain.DeliveryQueued, "We are sending", ""},
		{domain.DeliveryDelayed, "We are sending", "may arrive late. If it has not arrived in a few minutes, press ctrl+r to send a new code."},
		{domain.DeliverySent, "We have sent a Smartcard Unlock Code to your registered email address (t•••@nhs.net).", ""},
		{domain.DeliveryFailed, "We could not send a Smartcard Unlock Code", "this code will not arrive. Press ctrl+r to send a new code."},
	} {
		if got := CodeSentText(tc.d, what, to); !strings.Contains(got, tc.status) {
			t.Errorf("delivery %v: %q, want %q", tc.d, got, tc.status)
		}
		got := CodeDeliveryProblem(tc.d, "ctrl+r")
		if (tc.advice == "") != (got == "") || !strings.Contains(got, tc.advice) {
			t.Errorf("delivery %v: advice %q, want %q", tc.d, got, tc.advice)
		}
	}
}

// Losing the card reader service is said as such, with staff told: never
// as a card taken out.
func TestReaderServiceWords(t *testing.T) {
	for _, ex := range []Explanation{noService.Explain(domain.ErrReaderUnavailable), ReaderLostWhileChanging} {
		text := ex.What + " " + ex.Next
		if !strings.Contains(text, "card reader service") || !strings.Contains(text, "Staff have been told.") ||
			strings.Contains(text, "removed") || !ex.Fault {
			t.Errorf("reader service explained as %+v", ex)
		}
	}
}

package pcsc

import (
	"fmt"
	"log/slog"
	"testing"

	"github.com/ebfe/scard"
)

// Losing pcscd is said before the removals it causes, so that a card
// still in the reader is not taken for one pulled out.
func TestServiceLossIsSaidFirst(t *testing.T) {
	got := collect(t, func(w *watch) {
		w.log = slog.New(slog.DiscardHandler)
		w.sync([]string{"A", "B"})
		w.readers[0].present = true
		w.failed(mapErr("wait for card events", scard.ErrNoService))
		// Another failure is not a lost service, and says nothing.
		w.failed(mapErr("wait for card events", scard.ErrSharingViolation))
	})
	want := "[ service lost A card removed A reader removed B reader removed]"
	if fmt.Sprint(got) != want {
		t.Fatalf("events %v, want %s", got, want)
	}
}

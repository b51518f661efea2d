package pcsc

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/ebfe/scard"

	"github.com/smartcard-service-centre/kiosk/cardio"
)

// collect runs f against a watch whose events are gathered, without pcscd.
func collect(t *testing.T, f func(w *watch)) []string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &watch{ctx: ctx, out: make(chan cardio.Event, 64)}
	f(w)
	close(w.out)
	var got []string
	for e := range w.out {
		got = append(got, fmt.Sprintf("%s %s", e.Reader, e.Kind))
	}
	return got
}

func st(counter uint32, flags scard.StateFlag) scard.ReaderState {
	return scard.ReaderState{EventState: scard.StateFlag(counter<<16) | flags | scard.StateChanged, Atr: []byte{0x3B, 0x00}}
}

func TestUpdateUsesPresenceAndCounter(t *testing.T) {
	present := scard.StatePresent
	tests := []struct {
		name  string
		steps []scard.ReaderState
		want  string
	}{
		{"initial empty", []scard.ReaderState{st(0, scard.StateEmpty)}, "[]"},
		{"initial present", []scard.ReaderState{st(3, present)}, "[R card inserted]"},
		{"insert then remove", []scard.ReaderState{st(0, scard.StateEmpty), st(1, present), st(2, scard.StateEmpty)},
			"[R card inserted R card removed]"},
		// After removal pcscd keeps the old ATR: only StatePresent counts.
		{"removal keeps ATR", []scard.ReaderState{st(1, present), st(2, scard.StateEmpty)}, "[R card inserted R card removed]"},
		{"in use is no event", []scard.ReaderState{st(1, present), st(1, present|scard.StateInuse), st(1, present)}, "[R card inserted]"},
		{"swap between calls", []scard.ReaderState{st(1, present), st(3, present)},
			"[R card inserted R card removed R card inserted]"},
		{"mute card is present", []scard.ReaderState{st(1, present|scard.StateMute)}, "[R card inserted]"},
		{"counter wraps", []scard.ReaderState{st(0xFFFF, present), st(0x0001, present)},
			"[R card inserted R card removed R card inserted]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := collect(t, func(w *watch) {
				rs := &readerState{name: "R", state: scard.StateUnaware}
				for _, s := range tc.steps {
					w.update(rs, s)
					if rs.state&scard.StateChanged != 0 {
						t.Fatal("StateChanged kept in the state passed back to pcscd")
					}
				}
			})
			if fmt.Sprint(got) != tc.want {
				t.Fatalf("events %v, want %s", got, tc.want)
			}
		})
	}
}

func TestSyncReportsReaderChanges(t *testing.T) {
	got := collect(t, func(w *watch) {
		w.sync([]string{"A", "B"}) // initial listing: no events
		w.readers[1].present = true
		w.sync([]string{"A", "C"}) // B (with a card) left, C came
		w.sync(nil)                // everything gone (service lost)
	})
	want := "[B card removed B reader removed C reader added A reader removed C reader removed]"
	if fmt.Sprint(got) != want {
		t.Fatalf("events %v, want %s", got, want)
	}
}

func TestMapErr(t *testing.T) {
	tests := []struct {
		code scard.Error
		want error
	}{
		{scard.ErrNoService, cardio.ErrNoService},
		{scard.ErrServiceStopped, cardio.ErrNoService},
		{scard.ErrNoReadersAvailable, cardio.ErrNoReader},
		{scard.ErrUnknownReader, cardio.ErrNoReader},
		{scard.ErrNoSmartcard, cardio.ErrNoCard},
		{scard.ErrRemovedCard, cardio.ErrCardRemoved},
		{scard.ErrResetCard, cardio.ErrCardReset},
		{scard.ErrReaderUnavailable, cardio.ErrReaderUnavailable},
		{scard.ErrCancelled, context.Canceled},
		{scard.ErrTimeout, context.DeadlineExceeded},
	}
	for _, tc := range tests {
		err := mapErr("op", tc.code)
		if !errors.Is(err, tc.want) || !errors.Is(err, tc.code) {
			t.Errorf("%v: %v does not wrap both %v and the scard code", tc.code, err, tc.want)
		}
	}
	if err := mapErr("op", scard.ErrSharingViolation); !errors.Is(err, scard.ErrSharingViolation) || cardio.IsTransport(err) {
		t.Errorf("unmapped code: %v", err)
	}
	if mapErr("op", nil) != nil {
		t.Error("nil error mapped to non-nil")
	}
	if !serviceLost(mapErr("op", scard.ErrInvalidHandle)) || serviceLost(mapErr("op", scard.ErrRemovedCard)) {
		t.Error("serviceLost misclassifies")
	}
}

package cardio

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestIsTransport(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("pcsc: transmit: %w", ErrCardRemoved), true},
		{fmt.Errorf("begin transaction: %w", ErrCardReset), true},
		{ErrNoService, true},
		{ErrNoReader, true},
		{ErrNoCard, true},
		{ErrReaderUnavailable, true},
		{ErrClosed, true},
		{fmt.Errorf("wait: %w", context.Canceled), true},
		{context.DeadlineExceeded, true},
		{errors.New("card answered 6982"), false},
		{nil, false},
	}
	for _, tt := range tests {
		if got := IsTransport(tt.err); got != tt.want {
			t.Errorf("IsTransport(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

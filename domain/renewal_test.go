package domain

import (
	"errors"
	"testing"
	"time"
)

func TestCheckSelfRenewal(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	p := DefaultRenewalPolicy
	card := func(expiry time.Time, renewals int) Smartcard {
		return Smartcard{Serial: "4082A001132F2817", CertExpiry: expiry, RenewalsSinceOperator: renewals}
	}
	cancelled := card(now.AddDate(0, 0, 30), 0)
	cancelled.CancelledAt = now.AddDate(0, -1, 0)
	tests := []struct {
		name string
		card Smartcard
		want error
	}{
		{"inside window", card(now.AddDate(0, 0, 30), 0), nil},
		{"first day of window", card(now.Add(p.Window), 0), nil},
		{"too early", card(now.AddDate(0, 6, 0), 0), ErrRenewalTooEarly},
		{"expired", card(now.Add(-time.Second), 0), ErrCertificateExpired},
		{"expires this instant", card(now, 0), ErrCertificateExpired},
		{"second renewal ok", card(now.AddDate(0, 0, 30), 1), nil},
		{"third needs operator", card(now.AddDate(0, 0, 30), 2), ErrNeedsOperator},
		{"cancelled", cancelled, ErrCardCancelled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.CheckSelfRenewal(tt.card, now)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
	if err := p.CheckAssistedRenewal(card(now.AddDate(0, 0, 30), 2), now); err != nil {
		t.Fatalf("assisted renewal on the third renewal: %v", err)
	}
	if got := p.Expiry(now); !got.Equal(time.Date(2028, 11, 22, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("Expiry = %v", got)
	}
}

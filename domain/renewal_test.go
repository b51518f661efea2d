package domain

import (
	"errors"
	"strings"
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
		{"needs repair", needsRepair(card(now.AddDate(0, 0, 30), 0)), ErrCardNeedsRepair},
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

func needsRepair(c Smartcard) Smartcard {
	c.NeedsRepair = true
	return c
}

func TestCheckAssistedRenewalAndRepair(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	p := DefaultRenewalPolicy
	card := func(expiry time.Time, renewals int) Smartcard {
		return Smartcard{Serial: "4082A001132F2817", CertExpiry: expiry, RenewalsSinceOperator: renewals}
	}
	cancelled := card(now.Add(-time.Hour), 0)
	cancelled.CancelledAt = now.AddDate(0, -1, 0)
	tests := []struct {
		name             string
		card             Smartcard
		assisted, repair error
	}{
		{"in window", card(now.AddDate(0, 0, 30), 0), nil, ErrRepairNotNeeded},
		{"in window, at capacity", card(now.AddDate(0, 0, 30), 2), nil, nil},
		{"too early", card(now.AddDate(0, 6, 0), 0), ErrRenewalTooEarly, ErrRepairNotNeeded},
		{"too early, at capacity", card(now.AddDate(0, 6, 0), 2), ErrRenewalTooEarly, nil},
		{"expired", card(now.Add(-time.Second), 0), ErrCertificateExpired, nil},
		{"needs repair", needsRepair(card(now.AddDate(1, 0, 0), 0)), ErrCardNeedsRepair, nil},
		{"cancelled", cancelled, ErrCardCancelled, ErrCardCancelled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, c := range []struct {
				what string
				got  error
				want error
			}{
				{"assisted renewal", p.CheckAssistedRenewal(tt.card, now), tt.assisted},
				{"repair", p.CheckRepair(tt.card, now), tt.repair},
			} {
				if c.want == nil && c.got != nil || c.want != nil && !errors.Is(c.got, c.want) {
					t.Errorf("%s: got %v, want %v", c.what, c.got, c.want)
				}
			}
		})
	}
}

func TestCancelReasonRecord(t *testing.T) {
	tests := []struct {
		reason CancelReason
		text   string
		want   string
		err    error
	}{
		{CancelLost, "", "Lost", nil},
		{CancelStolen, "  ", "Stolen", nil},
		{CancelDamaged, "chip\ncracked", "Damaged: chip cracked", nil},
		{CancelOther, "left the\x1b[31m trust", "Other: left the trust", nil},
		{CancelOther, " \t", "", ErrCancelReason},
		{"Misplaced", "", "", ErrCancelReason},
		{"", "", "", ErrCancelReason},
	}
	for _, tt := range tests {
		got, err := tt.reason.Record(tt.text)
		if got != tt.want || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
			t.Errorf("%q.Record(%q) = %q, %v; want %q, %v", tt.reason, tt.text, got, err, tt.want, tt.err)
		}
	}
	long, err := CancelOther.Record(strings.Repeat("é", MaxCancelText+10))
	if err != nil || len([]rune(long)) != len("Other: ")+MaxCancelText {
		t.Errorf("long text kept as %d runes, %v", len([]rune(long)), err)
	}
}

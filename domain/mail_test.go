package domain

import (
	"testing"
	"time"
)

func TestMailDelivery(t *testing.T) {
	now := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	code := Mail{ID: 1, CreatedAt: now.Add(-time.Minute), NotAfter: now.Add(14 * time.Minute), NextAttemptAt: now}
	for _, tc := range []struct {
		name string
		edit func(m *Mail)
		want Delivery
	}{
		{"waiting", func(*Mail) {}, DeliveryQueued},
		{"leased by a sender", func(m *Mail) { m.NextAttemptAt = now.Add(2 * time.Minute) }, DeliveryQueued},
		{"failed once", func(m *Mail) { m.Attempts, m.LastError = 1, "421" }, DeliveryDelayed},
		{"sent after failures", func(m *Mail) { m.Attempts, m.SentAt = 2, now }, DeliverySent},
		{"given up", func(m *Mail) { m.Attempts, m.NextAttemptAt = 1, time.Time{} }, DeliveryFailed},
		{"code expired unsent", func(m *Mail) { m.NotAfter = now }, DeliveryFailed},
		{"no code, no expiry", func(m *Mail) { m.NotAfter = time.Time{} }, DeliveryQueued},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := code
			tc.edit(&m)
			if got := m.Delivery(now); got != tc.want {
				t.Fatalf("Delivery = %v, want %v", got, tc.want)
			}
		})
	}
}

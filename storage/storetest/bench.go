package storetest

import (
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
)

// BenchGetSmartcard measures the genuine-card lookup every insertion makes.
func BenchGetSmartcard(b *testing.B, s domain.Store) {
	ctx := b.Context()
	u := domain.User{ID: newUserID(), GivenName: "Bench", FamilyName: "Mark"}
	if err := s.PutUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	c := domain.Smartcard{Serial: newSerial(), UserID: u.ID, Type: "PIV", IssuedAt: base, CertExpiry: base.AddDate(2, 0, 0),
		CardAuthCert: make([]byte, 600)}
	if err := s.PutSmartcard(ctx, c); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.GetSmartcard(ctx, c.Serial); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchRecordFailedAttempt measures the atomic counter (a write transaction).
func BenchRecordFailedAttempt(b *testing.B, s domain.Store) {
	ctx := b.Context()
	u := domain.User{ID: newUserID(), GivenName: "Bench", FamilyName: "Mark"}
	if err := s.PutUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	if err := s.PutRegistration(ctx, domain.Registration{UserID: u.ID, Email: "bench@nhs.net", Answers: answers(1, 2, 3, 4)}); err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	const neverReached = 1 << 30 // the count stops at the limit: keep counting
	for b.Loop() {
		if _, err := s.RecordFailedAttempt(ctx, u.ID, neverReached, now); err != nil {
			b.Fatal(err)
		}
	}
}

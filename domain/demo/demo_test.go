package demo_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	kiosk "github.com/smartcard-service-centre/kiosk"
	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/demo"
	"github.com/smartcard-service-centre/kiosk/domain/secret"
	"github.com/smartcard-service-centre/kiosk/storage/sqlite"
)

// openStore is the real embedded store in a temporary directory: the
// seeder is tested against a store that passes the store conformance
// suite, not a hand-written double.
func openStore(t *testing.T, keys *secret.Keys) domain.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "kiosk.db"), sqlite.WithAuditChain(keys))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

func TestSeedIssuesCards(t *testing.T) {
	ctx := context.Background()
	personas, err := demo.Load(kiosk.DemoData())
	if err != nil {
		t.Fatal(err)
	}
	keys, err := secret.NewKeys(bytes.Repeat([]byte{7}, secret.KEKSize))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	store := openStore(t, keys)
	var calls []demo.NewCard
	s := demo.Seeder{
		Store: store, Keys: keys, Clock: fixedClock{now},
		Argon2: secret.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 16},
		IssueCard: func(_ context.Context, nc demo.NewCard) (demo.IssuedCerts, error) {
			calls = append(calls, nc)
			return demo.IssuedCerts{PIVAuth: []byte("9A cert for " + nc.Serial), CardAuth: []byte("cert for " + nc.Serial)}, nil
		},
	}
	rep, err := s.Seed(ctx, personas)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Added) != len(personas) || len(calls) != len(personas) {
		t.Fatalf("added %d, hook called %d times, want %d", len(rep.Added), len(calls), len(personas))
	}
	for i, p := range personas {
		nc := calls[i]
		if string(nc.Serial) != p.Card.Serial || string(nc.UserID) != p.ID || nc.Passcode != p.Card.Passcode || nc.Blocked != p.Card.Blocked {
			t.Fatalf("persona %s: hook got %+v", p.ID, nc)
		}
		rec, err := store.GetSmartcard(ctx, nc.Serial)
		if err != nil {
			t.Fatalf("%s: %v", nc.Serial, err)
		}
		if string(rec.CardAuthCert) != "cert for "+string(nc.Serial) || string(rec.PIVAuthCert) != "9A cert for "+string(nc.Serial) {
			t.Errorf("%s: certificates %q, %q not recorded", nc.Serial, rec.PIVAuthCert, rec.CardAuthCert)
		}
		if !nc.IssuedAt.Equal(rec.IssuedAt) || !nc.CertExpiry.Equal(rec.CertExpiry) {
			t.Errorf("%s: hook dates %v–%v, record %v–%v", nc.Serial, nc.IssuedAt, nc.CertExpiry, rec.IssuedAt, rec.CertExpiry)
		}
		// The card gets exactly the secrets the store sealed.
		sealed, err := store.GetCardSecrets(ctx, nc.Serial)
		if err != nil {
			t.Fatal(err)
		}
		puk, mk, err := keys.OpenCard(sealed)
		if err != nil {
			t.Fatal(err)
		}
		if nc.Keys.MgmtAlg != "AES256" || len(nc.Keys.MgmtKey) != 32 || !bytes.Equal(puk, nc.Keys.PUK) || !bytes.Equal(mk, nc.Keys.MgmtKey) {
			t.Errorf("%s: hook keys differ from the sealed ones", nc.Serial)
		}
	}

	// Seeding again: every persona is present, no card is made.
	calls = nil
	rep, err = s.Seed(ctx, personas)
	if err != nil || len(rep.Added) != 0 || len(rep.Present) != len(personas) || len(calls) != 0 {
		t.Fatalf("second seed: %+v %v, hook called %d times", rep, err, len(calls))
	}
}

func TestSeedHookFailureRollsBack(t *testing.T) {
	personas, err := demo.Load(kiosk.DemoData())
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := secret.NewKeys(bytes.Repeat([]byte{7}, secret.KEKSize))
	store := openStore(t, keys)
	boom := errors.New("card writer jammed")
	n := 0
	s := demo.Seeder{
		Store: store, Keys: keys, Clock: fixedClock{time.Now()},
		Argon2: secret.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 16},
		IssueCard: func(context.Context, demo.NewCard) (demo.IssuedCerts, error) {
			if n++; n == 3 {
				return demo.IssuedCerts{}, boom
			}
			return demo.IssuedCerts{PIVAuth: []byte("9A cert"), CardAuth: []byte("cert")}, nil
		},
	}
	if _, err := s.Seed(context.Background(), personas); !errors.Is(err, boom) {
		t.Fatalf("got %v, want the hook's error", err)
	}
	users, err := store.ListUsers(t.Context(), 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 0 {
		t.Fatalf("store kept %d users after a failed seeding", len(users))
	}
	for _, p := range personas {
		if _, err := store.GetSmartcard(t.Context(), domain.CardSerial(p.Card.Serial)); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("card %s after a failed seeding: %v, want ErrNotFound", p.Card.Serial, err)
		}
	}
}

// The demo's passcodes are ones a card holder would be allowed to choose,
// whichever charset the kiosk is set to: a demo showing 2580 as a fine
// passcode would teach the opposite of the policy.
func TestPersonaPasscodesMeetThePolicy(t *testing.T) {
	personas, err := demo.Load(kiosk.DemoData())
	if err != nil {
		t.Fatal(err)
	}
	for _, cs := range []domain.Charset{domain.CharsetPrintable, domain.CharsetAlphanumeric, domain.CharsetNumeric} {
		p := domain.DefaultPasscodePolicy()
		p.Charset = cs
		for _, pe := range personas {
			if err := p.Check(pe.Card.Passcode); err != nil {
				t.Errorf("%s %s (%s): passcode %s: %v", pe.Given, pe.Family, cs, pe.Card.Passcode, err)
			}
		}
	}
}

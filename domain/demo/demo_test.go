package demo_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"sync"
	"testing"
	"time"

	kiosk "github.com/smartcard-service-centre/kiosk"
	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/demo"
	"github.com/smartcard-service-centre/kiosk/domain/secret"
)

// memStore keeps what the seeder writes; a method the seeder does not use
// panics through the nil embedded interface. InTx keeps writes only when
// fn succeeds, as a real store's transaction does.
type memStore struct {
	domain.Store
	mu      sync.Mutex
	users   map[domain.UserID]domain.User
	cards   map[domain.CardSerial]domain.Smartcard
	secrets map[domain.CardSerial]domain.CardSecrets
}

func newMemStore() *memStore {
	return &memStore{users: map[domain.UserID]domain.User{}, cards: map[domain.CardSerial]domain.Smartcard{}, secrets: map[domain.CardSerial]domain.CardSecrets{}}
}

func (s *memStore) InTx(ctx context.Context, fn func(q domain.Queries) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx := newMemStore()
	maps.Copy(tx.users, s.users)
	if err := fn(tx); err != nil {
		return err
	}
	maps.Copy(s.users, tx.users)
	maps.Copy(s.cards, tx.cards)
	maps.Copy(s.secrets, tx.secrets)
	return nil
}

func (s *memStore) GetUser(_ context.Context, id domain.UserID) (domain.User, error) {
	u, ok := s.users[id]
	if !ok {
		return u, domain.ErrNotFound
	}
	return u, nil
}
func (s *memStore) PutUser(_ context.Context, u domain.User) error { s.users[u.ID] = u; return nil }
func (s *memStore) AddPosition(_ context.Context, p domain.Position) (domain.Position, error) {
	return p, nil
}
func (s *memStore) PutSmartcard(_ context.Context, c domain.Smartcard) error {
	s.cards[c.Serial] = c
	return nil
}
func (s *memStore) PutCardSecrets(_ context.Context, cs domain.CardSecrets) error {
	s.secrets[cs.Serial] = cs
	return nil
}
func (s *memStore) AppendAudit(_ context.Context, e domain.AuditEvent) (domain.AuditEvent, error) {
	return e, nil
}
func (s *memStore) PutRegistration(context.Context, domain.Registration) error { return nil }

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
	store := newMemStore()
	var calls []demo.NewCard
	s := demo.Seeder{
		Store: store, Keys: keys, Clock: fixedClock{now},
		Argon2: secret.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 16},
		IssueCard: func(_ context.Context, nc demo.NewCard) ([]byte, error) {
			calls = append(calls, nc)
			return []byte("cert for " + nc.Serial), nil
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
		rec := store.cards[nc.Serial]
		if string(rec.CardAuthCert) != "cert for "+string(nc.Serial) {
			t.Errorf("%s: CardAuthCert %q not recorded", nc.Serial, rec.CardAuthCert)
		}
		if !nc.IssuedAt.Equal(rec.IssuedAt) || !nc.CertExpiry.Equal(rec.CertExpiry) {
			t.Errorf("%s: hook dates %v–%v, record %v–%v", nc.Serial, nc.IssuedAt, nc.CertExpiry, rec.IssuedAt, rec.CertExpiry)
		}
		// The card gets exactly the secrets the store sealed.
		puk, mk, err := keys.OpenCard(store.secrets[nc.Serial])
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
	store := newMemStore()
	boom := errors.New("card writer jammed")
	n := 0
	s := demo.Seeder{
		Store: store, Keys: keys, Clock: fixedClock{time.Now()},
		Argon2: secret.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 16},
		IssueCard: func(context.Context, demo.NewCard) ([]byte, error) {
			if n++; n == 3 {
				return nil, boom
			}
			return []byte("cert"), nil
		},
	}
	if _, err := s.Seed(context.Background(), personas); !errors.Is(err, boom) {
		t.Fatalf("got %v, want the hook's error", err)
	}
	if len(store.users) != 0 || len(store.cards) != 0 {
		t.Fatalf("store kept %d users, %d cards after a failed seeding", len(store.users), len(store.cards))
	}
}

package sstest_test

import (
	"crypto"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/cardtest"
	"github.com/smartcard-service-centre/kiosk/internal/sstest"
)

// The double passes the suite the real adapter passes (cardio/pivcard's
// TestCardConformance), so the domain and screen tests that use it mean
// what they would with a card.
func TestCardConformance(t *testing.T) {
	t.Run("double", func(t *testing.T) {
		cardtest.Run(t, sstest.NewCA(t), func(t *testing.T, spec cardtest.Spec) cardtest.Reader {
			c, err := sstest.Issue(spec.Serial, spec.Passcode, spec.Keys, spec.Certify)
			if err != nil {
				t.Fatal(err)
			}
			if spec.Blocked {
				c.PINTries = 0
			}
			return &reader{card: c}
		})
	})
}

// reader holds the double as a kiosk reader holds a card: the kiosk
// reopens the same card it sees come back, as sstest.Readers does.
type reader struct{ card *sstest.Card }

func (r *reader) Card() domain.Card { return r.card }
func (r *reader) Pull()             { r.card.SetRemoved(true) }
func (r *reader) Insert()           { r.card.SetRemoved(false) }
func (r *reader) Reset()            { r.card.Reset() }
func (r *reader) Reopen()           { r.card.Close() }

func (r *reader) PasscodeVerified() bool { return r.card.PasscodeVerified() }

// PullDuringNext pulls the card as the next operation reaches it.
func (r *reader) PullDuringNext() {
	r.card.Hook = func(string) {
		r.card.Hook = nil
		r.card.SetRemoved(true)
	}
}

// A card pulled part-way through Personalise (BreakPersonalise) is left as
// the adapter leaves a real one: out of the reader, with new keys the
// service has certified but the serial and secrets it had.
func TestPersonalisePulledPartWay(t *testing.T) {
	ctx := t.Context()
	authority := sstest.NewCA(t)
	const user, serial = domain.UserID("555001799894"), domain.CardSerial("4082A001132F2817")
	keys := domain.CardKeys{MgmtAlg: "AES128", MgmtKey: make([]byte, 16), PUK: []byte("87654321")}
	certify := func(certs map[domain.KeySlot][]byte) func(domain.KeySlot, crypto.PublicKey) ([]byte, error) {
		return func(slot domain.KeySlot, pub crypto.PublicKey) ([]byte, error) {
			der, err := authority.Issue(pub, user, serial, slot, time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0))
			certs[slot] = der
			return der, err
		}
	}
	card, err := sstest.Issue(serial, "1357", keys, certify(map[domain.KeySlot][]byte{}))
	if err != nil {
		t.Fatal(err)
	}
	card.BreakPersonalise = fmt.Errorf("pulled: %w", domain.ErrCardRemoved)
	next := domain.CardKeys{MgmtAlg: "AES256", MgmtKey: make([]byte, 32), PUK: []byte("24681357")}
	certs := map[domain.KeySlot][]byte{}
	err = card.Personalise(ctx, domain.PersonaliseRequest{
		Serial: "4082A00100000011", CHUIDExpiry: time.Now().AddDate(1, 0, 0), Current: keys, New: next, Certify: certify(certs),
	})
	if !errors.Is(err, domain.ErrCardRemoved) {
		t.Fatalf("personalise pulled part-way: %v, want ErrCardRemoved", err)
	}
	if _, err := card.Status(ctx); !errors.Is(err, domain.ErrCardRemoved) {
		t.Fatalf("status after the pull: %v, want ErrCardRemoved", err)
	}
	card.BreakPersonalise = nil
	card.SetRemoved(false)
	rec := domain.Smartcard{Serial: serial, UserID: user, CardAuthCert: certs[domain.KeyCardAuth]}
	if err := domain.ProveGenuine(ctx, card, rec, authority, nil); err != nil {
		t.Fatalf("the new 9E key is not on the card: %v", err)
	}
	if st, err := card.Status(ctx); err != nil || st.Serial != serial {
		t.Fatalf("status %+v, %v: the serial changed", st, err)
	}
	if err := card.Unlock(ctx, keys.PUK, "2468"); err != nil {
		t.Fatalf("the PUK changed: %v", err)
	}
}

// The double's readers pass the suite the adapter's readers pass
// (cardio/pivcard's TestReadersConformance).
func TestReadersConformance(t *testing.T) {
	t.Run("double", func(t *testing.T) {
		cardtest.RunReaders(t, func(*testing.T) cardtest.Readers { return readers{sstest.NewReaders()} })
	})
}

type readers struct{ *sstest.Readers }

func (r readers) Put(_ *testing.T, role domain.ReaderRole, serial domain.CardSerial) {
	r.InsertInto(role, sstest.NewCard(serial, "2468", "87654321"))
}

func (r readers) Take(_ *testing.T, role domain.ReaderRole) { r.InsertInto(role, nil) }

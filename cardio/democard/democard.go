// Package democard makes the demo personas' cards: software PIV cards
// (cardio/sim) personalised through the same card adapter a real card goes
// through, with certificates from the service CA, saved one file per card
// so that the demo's simulated readers and cmd/vcard can serve them.
package democard

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/smartcard-service-centre/kiosk/cardio/ca"
	"github.com/smartcard-service-centre/kiosk/cardio/pivcard"
	"github.com/smartcard-service-centre/kiosk/cardio/sim"
	"github.com/smartcard-service-centre/kiosk/cardio/simreader"
	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/demo"
)

// Ext is the file extension of a card file.
const Ext = ".card"

// pendingExt marks a card file written but not yet committed.
const pendingExt = ".pending"

// ErrExists reports a card file that is already there: demo cards are
// never overwritten, since the file may be the only copy of a card's keys.
var ErrExists = errors.New("card file already exists")

// Path is where the card with serial is kept in dir.
func Path(dir string, serial domain.CardSerial) string {
	return filepath.Join(dir, string(serial)+Ext)
}

// List returns the card files in dir, sorted by name.
func List(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list demo cards: %w", err)
	}
	var out []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), Ext) && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out, nil
}

// CANotBefore is how far back a demo CA is made valid: demo cards were
// "issued" up to two years before seeding, and a certificate only verifies
// if its issuer was valid when it was issued.
const CANotBefore = 3 * 365 * 24 * time.Hour

// OpenCA loads the CA in dir, or generates a demo CA there, backdated by
// CANotBefore.
func OpenCA(dir string, now time.Time) (a *ca.Authority, generated bool, err error) {
	return ca.LoadOrGenerate(dir, now.Add(-CANotBefore))
}

// Maker issues demo cards into Dir. Its Issue method is the seeder's
// IssueCard hook. Files are written under a temporary name and only get
// their real name on Commit, after the store has committed: a seeding that
// rolls back leaves no card the store does not know.
type Maker struct {
	CA  domain.CertificateAuthority
	Dir string

	mu      sync.Mutex
	pending []string // serials written but not committed
}

// Issue makes one persona's card: a factory-fresh software card,
// personalised with nc's keys and certificates for 9A and 9E, the
// persona's passcode set, and blocked by three wrong tries if asked. It
// returns the DER certificates it put on the card.
func (m *Maker) Issue(ctx context.Context, nc demo.NewCard) (demo.IssuedCerts, error) {
	final := Path(m.Dir, nc.Serial)
	if _, err := os.Stat(final); err == nil {
		return demo.IssuedCerts{}, fmt.Errorf("%w: %s (the store has no user for it; move it away to seed this card again)", ErrExists, final)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return demo.IssuedCerts{}, fmt.Errorf("demo card: %w", err)
	}
	if err := os.MkdirAll(m.Dir, 0o700); err != nil {
		return demo.IssuedCerts{}, fmt.Errorf("demo card: %w", err)
	}
	card, certs, err := m.make(ctx, nc)
	if err != nil {
		return demo.IssuedCerts{}, fmt.Errorf("demo card %s: %w", nc.Serial, err)
	}
	if err := card.Save(final + pendingExt); err != nil {
		return demo.IssuedCerts{}, fmt.Errorf("demo card %s: %w", nc.Serial, err)
	}
	m.mu.Lock()
	m.pending = append(m.pending, final)
	m.mu.Unlock()
	return certs, nil
}

func (m *Maker) make(ctx context.Context, nc demo.NewCard) (*sim.Card, demo.IssuedCerts, error) {
	var certs demo.IssuedCerts
	card := sim.New()
	const reader = "demo personalisation"
	tray := simreader.New(reader)
	defer tray.Close()
	if err := tray.Insert(reader, card); err != nil {
		return nil, certs, err
	}
	readers := pivcard.NewReaders(tray, pivcard.Assignment{Holder: reader})
	dc, err := readers.Open(ctx, domain.ReaderHolder)
	if err != nil {
		return nil, certs, err
	}
	pc := dc.(*pivcard.Card)
	defer pc.Close()

	err = pc.Personalise(ctx, domain.PersonaliseRequest{
		Serial:      nc.Serial,
		CHUIDExpiry: nc.CertExpiry,
		Current:     pivcard.FactoryKeys(),
		New:         nc.Keys,
		Certify: func(slot domain.KeySlot, pub crypto.PublicKey) ([]byte, error) {
			der, err := m.CA.Issue(pub, nc.UserID, nc.Serial, slot, nc.IssuedAt, nc.CertExpiry)
			switch slot {
			case domain.KeyPIVAuth:
				certs.PIVAuth = der
			case domain.KeyCardAuth:
				certs.CardAuth = der
			}
			return der, err
		},
	})
	if err != nil {
		return nil, certs, err
	}
	if err := pc.ChangePasscode(ctx, pivcard.FactoryPasscode, nc.Passcode); err != nil {
		return nil, certs, fmt.Errorf("set passcode: %w", err)
	}
	if nc.Blocked {
		if err := block(ctx, pc, nc.Passcode); err != nil {
			return nil, certs, err
		}
	}
	return card, certs, nil
}

// block uses up the passcode's tries the way a forgetful card holder does.
func block(ctx context.Context, pc *pivcard.Card, passcode string) error {
	wrong := "0000"
	if passcode == wrong {
		wrong = "1111"
	}
	for range 10 { // bounded: a card that never blocks is an error
		err := pc.VerifyPasscode(ctx, wrong)
		switch {
		case errors.Is(err, domain.ErrCardBlocked):
			return nil
		case errors.Is(err, domain.ErrWrongPasscode):
			continue
		case err == nil:
			return errors.New("block card: a wrong passcode was accepted")
		default:
			return fmt.Errorf("block card: %w", err)
		}
	}
	return errors.New("block card: still not blocked after 10 wrong passcodes")
}

// Commit gives the cards issued so far their real names. It never
// overwrites: a file that appeared meanwhile is an error, and the new card
// stays in its pending file.
func (m *Maker) Commit() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	for _, final := range m.pending {
		// A hard link fails if final exists, unlike rename.
		if err := os.Link(final+pendingExt, final); err != nil {
			errs = append(errs, fmt.Errorf("commit demo card: %w", err))
			continue
		}
		_ = os.Remove(final + pendingExt)
	}
	m.pending = nil
	return errors.Join(errs...)
}

// Discard removes the cards issued since the last Commit (the seeding
// failed and the store does not know them).
func (m *Maker) Discard() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, final := range m.pending {
		_ = os.Remove(final + pendingExt)
	}
	m.pending = nil
}

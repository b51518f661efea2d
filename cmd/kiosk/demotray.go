package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	kiosk "github.com/smartcard-service-centre/kiosk"
	"github.com/smartcard-service-centre/kiosk/cardio/democard"
	"github.com/smartcard-service-centre/kiosk/cardio/sim"
	"github.com/smartcard-service-centre/kiosk/cardio/simreader"
	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/demo"
	tuidemo "github.com/smartcard-service-centre/kiosk/tui/demo"
)

// Names of the demo's simulated readers: the card holder's (the kiosk's),
// and the operator's (unused by the self-service kiosk, present as on an
// operator terminal).
const (
	simHolderReader   = "Simulated Kiosk Reader"
	simOperatorReader = "Simulated Operator Reader"
)

// simReaders are the simulated readers' names by role.
var simReaders = map[domain.ReaderRole]string{domain.ReaderHolder: simHolderReader, domain.ReaderOperator: simOperatorReader}

// demoTray is the demo's tray of software cards beside the simulated
// readers; the demo's function keys move cards in and out. Changes a card
// makes (a new passcode, unlocking, new certificates) are saved to its
// file.
type demoTray struct {
	tray *simreader.Tray

	mu      sync.Mutex
	cards   []*sim.Card
	serials []domain.CardSerial
	labels  []string            // e.g. "Mr Test Person · locked"
	holders []string            // the holder's name; "" if not on record
	mail    [][]string          // the holder's addresses on record
	in      []domain.ReaderRole // the reader each card is in; "" in the tray
}

func newDemoTray(ctx context.Context, store domain.Store, dir string) (*demoTray, error) {
	files, err := democard.List(dir)
	if err != nil {
		return nil, fmt.Errorf("%w (run: kiosk seed --demo)", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no demo cards in %s (run: kiosk seed --demo)", dir)
	}
	// The tray lists cards in the personas' order, so the interesting
	// cases (the locked, registered card) get the first keys.
	cases := map[domain.CardSerial]string{}
	order := map[string]int{}
	if personas, err := demo.Load(kiosk.DemoData()); err == nil {
		for i, p := range personas {
			cases[domain.CardSerial(p.Card.Serial)] = trayCase(p)
			order[democard.Path(dir, domain.CardSerial(p.Card.Serial))] = i + 1
		}
	}
	slices.SortStableFunc(files, func(a, b string) int { return rank(order, a) - rank(order, b) })
	t := &demoTray{tray: simreader.New(simHolderReader, simOperatorReader)}
	for _, f := range files {
		c, err := sim.Load(f)
		if err != nil {
			t.Close()
			return nil, fmt.Errorf("load demo card: %w", err)
		}
		c.SetAutoSave(f)
		serial := domain.CardSerial(strings.TrimSuffix(filepath.Base(f), democard.Ext))
		holder, mail := holderOnRecord(ctx, store, serial)
		label := holder
		if label == "" {
			label = string(serial)
		}
		if c := cases[serial]; c != "" {
			label += " · " + c
		}
		t.cards = append(t.cards, c)
		t.serials = append(t.serials, serial)
		t.labels = append(t.labels, label)
		t.holders = append(t.holders, holder)
		t.mail = append(t.mail, mail)
		t.in = append(t.in, "")
	}
	return t, nil
}

// holderOnRecord is the name of the holder of the card serial and their
// email addresses (their own, and the one registered for codes, if
// any); "" and none if the store does not know the card.
func holderOnRecord(ctx context.Context, store domain.Store, serial domain.CardSerial) (name string, mail []string) {
	rec, err := store.GetSmartcard(ctx, serial)
	if err != nil {
		return "", nil
	}
	u, err := store.GetUser(ctx, rec.UserID)
	if err != nil {
		return "", nil
	}
	mail = []string{u.Email}
	if reg, err := store.GetRegistration(ctx, u.ID); err == nil && reg.Email != "" && !strings.EqualFold(reg.Email, u.Email) {
		mail = append(mail, reg.Email)
	}
	return domain.CleanText(u.DisplayName()), mail
}

// trayCase says in a word or two what a persona's card shows, from the
// persona's card, registration and roles, so that a tray label fits on
// one line beside its key (the persona's own description is a sentence).
func trayCase(p demo.Persona) string {
	codes := map[domain.ActivityCode]bool{}
	for _, pos := range p.Positions {
		for _, c := range pos.Codes {
			codes[domain.ActivityCode(c)] = true
		}
	}
	var roles []string
	for _, r := range []struct {
		code domain.ActivityCode
		name string
	}{{domain.ActivitySponsor, "Sponsor"}, {domain.ActivityLocalSCA, "Smartcard admin"}, {domain.ActivityRAAIDChecker, "ID Checker"}} {
		if codes[r.code] {
			roles = append(roles, r.name)
		}
	}
	expires := time.Duration(p.Card.ExpiresInDays) * 24 * time.Hour
	switch {
	case p.Card.CancelReason != "":
		return "cancelled"
	case expires < 0:
		return "expired"
	case p.Card.Blocked && p.Reg == nil:
		// Locked too, as the greeting says; what matters is that this
		// kiosk cannot unlock it.
		return "unregistered"
	case p.Card.Blocked && p.Reg.LockedOut:
		return "locked out"
	case p.Card.Blocked:
		return "locked"
	case len(roles) > 1:
		return fmt.Sprintf("%d roles", len(roles))
	case len(roles) == 1:
		return roles[0]
	case expires <= domain.DefaultRenewalPolicy.Window:
		return "renewal due"
	}
	return "active"
}

// rank puts files of known personas first, in their order.
func rank(order map[string]int, f string) int {
	if r, ok := order[f]; ok {
		return r
	}
	return len(order) + 1
}

// Cards implements tuidemo.Tray.
func (t *demoTray) Cards() []tuidemo.TrayCard {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]tuidemo.TrayCard, len(t.cards))
	for i, l := range t.labels {
		out[i] = tuidemo.TrayCard{Label: l, Holder: t.holders[i], Mail: t.mail[i], In: t.in[i]}
	}
	return out
}

// Toggle implements tuidemo.Tray: it puts card i in reader r, taking out
// the card there and taking card i out of the other reader first, or
// takes card i out if it is in r.
func (t *demoTray) Toggle(i int, r domain.ReaderRole) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if i < 0 || i >= len(t.cards) {
		return fmt.Errorf("no demo card %d", i+1)
	}
	reader, ok := simReaders[r]
	if !ok {
		return fmt.Errorf("no simulated %q reader", r)
	}
	was := t.in[i]
	// Out first, so that the product sees a card leave before another
	// arrives.
	if was != "" {
		if err := t.tray.Remove(simReaders[was]); err != nil {
			return err
		}
		t.in[i] = ""
		if was == r {
			return nil
		}
	}
	for j, in := range t.in {
		if in == r {
			if err := t.tray.Remove(reader); err != nil {
				return err
			}
			t.in[j] = ""
		}
	}
	if err := t.tray.Insert(reader, t.cards[i]); err != nil {
		return err
	}
	t.in[i] = r
	return nil
}

// checkLogInCerts makes sure the store has a PIV Authentication (9A)
// certificate for every demo card, which an operator logs in with: demo
// data seeded by a version before the operator terminal has none, and
// seeding again leaves personas already present as they are.
func (t *demoTray) checkLogInCerts(ctx context.Context, store domain.Store, dataDir string) error {
	for i, serial := range t.serials {
		rec, err := store.GetSmartcard(ctx, serial)
		if err != nil || len(rec.PIVAuthCert) > 0 {
			continue // a card file the store does not know shows as not recognised
		}
		name := t.holders[i]
		return fmt.Errorf("the demo data in %s was made by an older version: card %s (%s) has no log-in certificate (9A) on record, so no operator could log in; "+
			"remove that directory and seed it again (make demo-operator seeds it once it is gone; its default is .cache/demo)", dataDir, serial, name)
	}
	return nil
}

// Close ends the simulated readers.
func (t *demoTray) Close() error {
	return t.tray.Close()
}

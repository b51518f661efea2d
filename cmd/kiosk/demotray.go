package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	kiosk "github.com/smartcard-service-centre/kiosk"
	"github.com/smartcard-service-centre/kiosk/cardio/democard"
	"github.com/smartcard-service-centre/kiosk/cardio/sim"
	"github.com/smartcard-service-centre/kiosk/cardio/simreader"
	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/demo"
	tuidemo "github.com/smartcard-service-centre/kiosk/tui/demo"
)

// Names of the demo's simulated readers: the kiosk's, and an operator's
// (unused by the self-service kiosk, present as on an operator terminal).
const (
	simHolderReader   = "Simulated Kiosk Reader"
	simOperatorReader = "Simulated Operator Reader"
)

// demoTray is the demo's tray of software cards beside a simulated reader;
// the kiosk's function keys move cards in and out. Changes a card makes
// (a new passcode, unlocking) are saved to its file.
type demoTray struct {
	tray *simreader.Tray

	mu       sync.Mutex
	cards    []*sim.Card
	labels   []string
	inserted int // index in cards, or -1
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
			cases[domain.CardSerial(p.Card.Serial)] = p.Case
			order[democard.Path(dir, domain.CardSerial(p.Card.Serial))] = i + 1
		}
	}
	slices.SortStableFunc(files, func(a, b string) int { return rank(order, a) - rank(order, b) })
	t := &demoTray{tray: simreader.New(simHolderReader, simOperatorReader), inserted: -1}
	for _, f := range files {
		c, err := sim.Load(f)
		if err != nil {
			t.Close()
			return nil, fmt.Errorf("load demo card: %w", err)
		}
		c.SetAutoSave(f)
		serial := domain.CardSerial(strings.TrimSuffix(filepath.Base(f), democard.Ext))
		label := string(serial)
		if rec, err := store.GetSmartcard(ctx, serial); err == nil {
			if u, err := store.GetUser(ctx, rec.UserID); err == nil {
				label = domain.CleanText(u.DisplayName())
			}
		}
		if c := cases[serial]; c != "" {
			label += " — " + c
		}
		t.cards = append(t.cards, c)
		t.labels = append(t.labels, label)
	}
	return t, nil
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
		out[i] = tuidemo.TrayCard{Label: l, Inserted: i == t.inserted}
	}
	return out
}

// Toggle implements tuidemo.Tray: it inserts card i into the kiosk's reader,
// taking out any other card first, or removes card i if it is in.
func (t *demoTray) Toggle(i int) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if i < 0 || i >= len(t.cards) {
		return fmt.Errorf("no demo card %d", i+1)
	}
	if t.inserted >= 0 {
		if err := t.tray.Remove(simHolderReader); err != nil {
			return err
		}
		was := t.inserted
		t.inserted = -1
		if was == i {
			return nil
		}
	}
	if err := t.tray.Insert(simHolderReader, t.cards[i]); err != nil {
		return err
	}
	t.inserted = i
	return nil
}

// Close ends the simulated readers.
func (t *demoTray) Close() error {
	return t.tray.Close()
}

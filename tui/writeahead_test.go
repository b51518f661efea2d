package tui_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/cardwrite"
	"github.com/smartcard-service-centre/kiosk/domain/selfservice"
	"github.com/smartcard-service-centre/kiosk/storage/spool"
)

// cutStore is the store as the service sees it, which a test can cut off
// like an unreachable database: transactions fail while it is down.
type cutStore struct {
	domain.Store
	down atomic.Bool
}

func (c *cutStore) InTx(ctx context.Context, fn func(q domain.Queries) error) error {
	if c.down.Load() {
		return fmt.Errorf("%w: dial tcp 192.0.2.7:5432: connect: connection refused", domain.ErrStoreUnavailable)
	}
	return c.Store.InTx(ctx, fn)
}

// When the card was unlocked but the service could not record it, the
// holder is told the truth: the card is unlocked, and what became of the
// record and its email. With a spool the record follows as soon as the
// service is back, before the next visit is served.
func TestUnlockedButNotRecorded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		spool bool
		say   []string
	}{
		{"kept on the kiosk", true, []string{"could not record it just now", "the email confirming it has not been sent yet",
			"This kiosk has kept the record", "as soon as the service is back", "You do not need to do anything."}},
		{"not kept at all", false, []string{"could not record it, so no email confirming it has been sent",
			"Please tell the IT booth staff"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var (
				cut *cutStore
				sp  *spool.Dir
			)
			fx := newFixture(t, func(cfg *selfservice.Config) {
				cut = &cutStore{Store: cfg.Store}
				cfg.Store = cut
				jc := cardwrite.Config{Store: cut, Clock: cfg.Clock}
				if tt.spool {
					var err error
					if sp, err = spool.Open(filepath.Join(t.TempDir(), "spool")); err != nil {
						t.Fatal(err)
					}
					jc.Spool = sp
				}
				cfg.Journal = cardwrite.New(jc)
			})
			p := testPerson()
			card := fx.add(p)
			// The database goes away while the card is being unlocked.
			card.Hook = func(op string) {
				if op == "Unlock" {
					cut.down.Store(true)
				}
			}
			k := fx.start(100, 40)
			fx.readers.Insert(card)
			k.toNewPasscode(p.Answers)
			k.typeText("2468")
			k.press("enter")
			k.typeText("2468")
			k.waitFor("The passcodes match")
			k.press("enter")
			s := k.waitFor(append([]string{"Smartcard Unlocked", "Your Smartcard has been successfully unlocked.",
				"Please remove and then reinsert your Smartcard"}, tt.say...)...)
			for _, wrong := range []string{"Service not available", "try again", "may or may not"} {
				if strings.Contains(flat(s), wrong) {
					t.Fatalf("the screen says %q:\n%s", wrong, s)
				}
			}
			if !card.PINIs("2468") {
				t.Fatal("the card was not unlocked")
			}
			if !tt.spool {
				if !strings.Contains(k.logText(), "level=ERROR") {
					t.Fatalf("staff were not told (no ERROR in the log):\n%s", k.logText())
				}
				return
			}
			// The service comes back; the holder reinserts the card as
			// asked. The record is written before the visit is served.
			cut.down.Store(false)
			fx.readers.Insert(nil)
			k.waitFor("Insert your Smartcard")
			fx.readers.Insert(card)
			k.waitFor("Hello, Mr Test Person")
			ev, err := fx.store.ListAudit(t.Context(), domain.AuditFilter{CardSerial: card.Serial, Action: domain.AuditSelfUnlock})
			if err != nil || len(ev) != 1 || ev[0].Outcome != domain.OutcomeSuccess {
				t.Fatalf("unlock audit rows %+v, %v; want one success", ev, err)
			}
			mails, err := fx.store.ListMail(t.Context(), 20)
			if err != nil {
				t.Fatal(err)
			}
			notified := 0
			for _, m := range mails {
				if m.Subject == "Your Smartcard has been unlocked" {
					notified++
				}
			}
			if notified != 1 {
				t.Fatalf("%d unlock notifications queued, want 1", notified)
			}
			if kept, err := sp.List(); err != nil || len(kept) != 0 {
				t.Fatalf("spool after the visit: %v, %v", kept, err)
			}
		})
	}
}

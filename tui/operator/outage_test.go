package operator_test

import (
	"strings"
	"testing"
	"time"

	opsvc "github.com/smartcard-service-centre/kiosk/domain/operator"
	"github.com/smartcard-service-centre/kiosk/tui/components"
	"github.com/smartcard-service-centre/kiosk/tui/operator"
	"github.com/smartcard-service-centre/kiosk/tui/tuitest"
)

// The store goes away as the card holder's Smartcard is identified: the
// terminal says "temporarily unavailable" with the banner, keeps both
// cards where they are, tries again by itself and shows the card holder
// once the store answers, without the card being reinserted.
func TestStoreAwayAtHolderIdentification(t *testing.T) {
	fx := newFixture(t)
	away := &tuitest.AwayStore{Store: fx.store}
	fx.svc = opsvc.New(opsvc.Config{Store: away, Keys: fx.keys, CA: fx.ca, Clock: fx.clock, Terminal: "RA-desk-1", AuditPageSize: 3})
	own, held := fx.add(helen()), fx.add(testPerson())
	k := fx.start(operator.WithOutageTimings(50*time.Millisecond, 20*time.Millisecond, 20*time.Millisecond))
	k.logIn(fx, own, "5093")
	k.waitFor("Dashboard")
	k.press("enter")
	k.waitFor(operator.InsertHolderText)

	away.Down.Store(true)
	fx.readers.Insert(held)
	s := k.waitFor("Temporarily unavailable", "records cannot be reached at the moment", "carries on by itself",
		"Neither Smartcard needs to be removed", components.StoreDownText)
	if strings.Contains(s, "Service not available") {
		t.Fatalf("the store away is said as a failure:\n%s", s)
	}
	n := away.Refused.Load()
	deadline := time.Now().Add(waitLimit)
	for away.Refused.Load() <= n+3 {
		if time.Now().After(deadline) {
			t.Fatal("the terminal does not try again by itself")
		}
		time.Sleep(10 * time.Millisecond)
	}

	away.Down.Store(false)
	k.waitFor("Mr Test Person: ", operator.CheckPersonText, "Smartcard Details")
	k.waitGone(components.StoreDownText)
}

package mail

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/secret"
	"github.com/smartcard-service-centre/kiosk/storage/sqlite"
)

// openAudited is a fresh embedded store that can append to the audit
// trail, as the kiosk opens it.
func openAudited(t *testing.T) *sqlite.Store {
	t.Helper()
	keys, err := secret.NewKeys(make([]byte, secret.KEKSize))
	if err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "kiosk.db"), sqlite.WithAuditChain(keys))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Every mail delivered or given up is in the audit trail with the masked
// address, never the full one nor the code; a code that expired before it
// could be delivered is also a warning in the log.
func TestSenderAuditsEveryOutcome(t *testing.T) {
	const to = "jane.bloggs@nhs.net"
	refused := func(context.Context, domain.Mail) error {
		return Permanent(errors.New("550 5.1.1 <Jane.Bloggs@nhs.net>: recipient address rejected"))
	}
	for _, tc := range []struct {
		name string
		// created is when the code mail was enqueued, relative to t0.
		created   time.Duration
		transport transportFunc
		// by moves the clock on at the claim (a slow claim).
		by      time.Duration
		outcome domain.AuditOutcome
		detail  string
		warn    string // a warning the log must hold, if any
	}{
		{"delivered", 0, func(context.Context, domain.Mail) error { return nil },
			0, domain.OutcomeSuccess, `"Smartcard Unlock Code" to j•••@nhs.net`, ""},
		{"refused", 0, refused,
			0, domain.OutcomeFailure, "permanent failure: 550 5.1.1 <j•••@nhs.net>: recipient address rejected", ""},
		{"expired in the outbox", -15 * time.Minute, nil,
			0, domain.OutcomeFailure, "to j•••@nhs.net: expired before delivery", "mail expired before delivery"},
		{"expired between claim and send", -14 * time.Minute, nil,
			2 * time.Minute, domain.OutcomeFailure, "to j•••@nhs.net: expired before delivery", "mail expired before delivery"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := openAudited(t)
			clock := newFakeClock(t0)
			tr := tc.transport
			if tr == nil {
				tr = func(_ context.Context, m domain.Mail) error {
					t.Errorf("mail %d delivered after its code expired", m.ID)
					return nil
				}
			}
			var outbox domain.Outbox = store
			if tc.by != 0 {
				outbox = advancingOutbox{store, clock, tc.by}
			}
			var logs logBuffer
			s := newSender(t, SenderConfig{Outbox: outbox, Transport: tr, Clock: clock, Logger: newLogger(&logs),
				Audit: store, Terminal: "booth-3"})
			m := enqueue(t, store, codeMail(to, t0.Add(tc.created)))
			if _, err := s.SendDue(t.Context()); err != nil {
				t.Fatal(err)
			}
			events, err := store.ListAudit(t.Context(), domain.AuditFilter{Action: domain.AuditMailDelivery})
			if err != nil {
				t.Fatal(err)
			}
			if len(events) != 1 {
				t.Fatalf("%d mail audit rows, want 1: %+v", len(events), events)
			}
			e := events[0]
			if e.Outcome != tc.outcome || e.Terminal != "booth-3" || !strings.Contains(e.Detail, tc.detail) ||
				!strings.HasPrefix(e.Detail, "mail "+strconv.FormatInt(m.ID, 10)+" ") {
				t.Errorf("audit row %+v, want %s of mail %d with %q", e, tc.outcome, m.ID, tc.detail)
			}
			if tc.warn != "" && !strings.Contains(logs.String(), "level=WARN msg="+`"`+tc.warn) {
				t.Errorf("no warning %q in the log:\n%s", tc.warn, logs.String())
			}
			stored := getMail(t, store, m.ID)
			for what, text := range map[string]string{"audit row": e.Detail, "log": logs.String(), "outbox error": stored.LastError} {
				for _, secret := range []string{"493027", to, "Jane.Bloggs@"} {
					if strings.Contains(text, secret) {
						t.Errorf("the %s holds %q: %s", what, secret, text)
					}
				}
			}
			// Nothing is reported twice.
			if _, err := s.SendDue(t.Context()); err != nil {
				t.Fatal(err)
			}
			if again, _ := store.ListAudit(t.Context(), domain.AuditFilter{Action: domain.AuditMailDelivery}); len(again) != 1 {
				t.Errorf("%d mail audit rows after a second pass, want 1", len(again))
			}
		})
	}
}

// A sender that gives up after its attempts says so in the audit trail;
// retries on the way are not outcomes and are not audited.
func TestSenderAuditsGivingUp(t *testing.T) {
	store := openAudited(t)
	clock := newFakeClock(t0)
	tr := transportFunc(func(context.Context, domain.Mail) error { return errors.New("dial tcp: connection refused") })
	s := newSender(t, SenderConfig{Outbox: store, Transport: tr, Clock: clock, MaxAttempts: 3, Audit: store})
	m := enqueue(t, store, domain.Mail{To: "jane.bloggs@nhs.net", Subject: "Your Smartcard has been unlocked", CreatedAt: t0})
	for range 5 {
		if _, err := s.SendDue(t.Context()); err != nil {
			t.Fatal(err)
		}
		clock.Advance(DefaultMaxBackoff * 2)
	}
	events, err := store.ListAudit(t.Context(), domain.AuditFilter{Action: domain.AuditMailDelivery})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Outcome != domain.OutcomeFailure ||
		!strings.Contains(events[0].Detail, "gave up after 3 attempts: dial tcp: connection refused") {
		t.Fatalf("audit rows %+v, want one give-up of mail %d", events, m.ID)
	}
}

// An audit trail that cannot be written does not stop delivery.
func TestSenderDeliversWhenAuditFails(t *testing.T) {
	store := openSQLite(t) // no audit chain key: every append fails
	box := newMailbox(t)
	var logs logBuffer
	s := newSender(t, SenderConfig{Outbox: store, Transport: box, Clock: newFakeClock(t0), Audit: store, Logger: newLogger(&logs)})
	m := enqueue(t, store, codeMail("jane.bloggs@nhs.net", t0))
	if n, err := s.SendDue(t.Context()); n != 1 || err != nil {
		t.Fatalf("SendDue = %d, %v; want the mail delivered", n, err)
	}
	if !getMail(t, store, m.ID).Sent() || !strings.Contains(logs.String(), "audit mail delivery") {
		t.Fatalf("mail not recorded as sent, or the audit failure not logged:\n%s", logs.String())
	}
}

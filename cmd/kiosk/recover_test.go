package main

import (
	"strings"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/secret"
	"github.com/smartcard-service-centre/kiosk/storage/spool"
	"github.com/smartcard-service-centre/kiosk/storage/sqlite"
)

// kiosk recover writes what a kiosk spooled while the database was away,
// once however often it runs, and lists the card changes still open.
func TestRecover(t *testing.T) {
	env := demoEnv(t)
	if _, e, code := runKiosk(t, env, "keygen"); code != 0 {
		t.Fatal(e)
	}
	if _, e, code := runKiosk(t, env, "seed", "--demo"); code != 0 {
		t.Fatal(e)
	}
	out, _, code := runKiosk(t, env, "recover")
	if code != 0 || !strings.Contains(out, "0 card change(s) recorded, 0 still waiting") || !strings.Contains(out, "no card changes are open") {
		t.Fatalf("recover with nothing to do: %d %q", code, out)
	}

	// A kiosk unlocked Mr Test Person's card while the database was away
	// (its outcome spooled), and another was stopped mid-write.
	const serial, holder = domain.CardSerial("4082A001132F2817"), domain.UserID("555001799894")
	keys, err := secret.LoadKEK(dataFile(env, "kek"))
	if err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(t.Context(), dataFile(env, "kiosk.db"), sqlite.WithAuditChain(keys))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC()
	spooled := domain.CardWriteIntent{ID: "0123456789abcdef0123456789abcdef", Op: domain.CardWriteSelfUnlock, Serial: serial,
		SubjectID: holder, ActorID: holder, Visit: "v1", Terminal: "booth-1", StartedAt: at.Add(-time.Minute)}
	left := spooled
	left.ID, left.Terminal, left.StartedAt = "fedcba9876543210fedcba9876543210", "booth-2", at
	for _, w := range []domain.CardWriteIntent{spooled, left} {
		if err := store.BeginCardWrite(t.Context(), w); err != nil {
			t.Fatal(err)
		}
	}
	store.Close()
	sp, err := spool.Open(dataFile(env, "spool"))
	if err != nil {
		t.Fatal(err)
	}
	o := domain.CardWriteOutcome{Intent: spooled, At: at, Outcome: domain.OutcomeSuccess,
		Audit: domain.AuditEvent{At: at, Action: domain.AuditSelfUnlock, Outcome: domain.OutcomeSuccess, ActorID: holder,
			SubjectID: holder, CardSerial: serial, Terminal: "booth-1"},
		Mails: []domain.Mail{{To: "test.person@nhs.net", Subject: "Your Smartcard has been unlocked", Body: "Hello", CreatedAt: at}}}
	if err := sp.Put(o); err != nil {
		t.Fatal(err)
	}

	for run, want := range []string{"1 card change(s) recorded, 0 still waiting", "0 card change(s) recorded, 0 still waiting"} {
		out, e, code := runKiosk(t, env, "recover")
		if code != 0 {
			t.Fatalf("recover run %d: exit %d, %s", run+1, code, e)
		}
		for _, s := range []string{want, "1 card change(s) open", left.ID, "self_unlock", string(serial), "booth-2", "5550 0179 9894"} {
			if !strings.Contains(out, s) {
				t.Fatalf("recover run %d does not say %q:\n%s", run+1, s, out)
			}
		}
		if strings.Contains(out, spooled.ID) {
			t.Fatalf("recover run %d lists the recorded change as open:\n%s", run+1, out)
		}
	}

	store, err = sqlite.Open(t.Context(), dataFile(env, "kiosk.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ev, err := store.ListAudit(t.Context(), domain.AuditFilter{CardSerial: serial, Action: domain.AuditSelfUnlock})
	if err != nil || len(ev) != 1 {
		t.Fatalf("unlock audit rows after two recoveries: %+v, %v; want one", ev, err)
	}
	mails, err := store.ListMail(t.Context(), 100)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range mails {
		if m.Subject == "Your Smartcard has been unlocked" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d unlock notifications after two recoveries, want 1", n)
	}
	if kept, err := sp.List(); err != nil || len(kept) != 0 {
		t.Fatalf("spool after recovery: %v, %v", kept, err)
	}
	out, _, _ = runKiosk(t, env, "help")
	if !strings.Contains(out, "recover") {
		t.Fatalf("help does not list recover:\n%s", out)
	}
}

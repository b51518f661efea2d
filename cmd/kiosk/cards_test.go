package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	kiosk "github.com/smartcard-service-centre/kiosk"
	"github.com/smartcard-service-centre/kiosk/cardio/ca"
	"github.com/smartcard-service-centre/kiosk/cardio/democard"
	"github.com/smartcard-service-centre/kiosk/cardio/pcsctest"
	"github.com/smartcard-service-centre/kiosk/cardio/pivcard"
	"github.com/smartcard-service-centre/kiosk/cardio/sim"
	"github.com/smartcard-service-centre/kiosk/cardio/simreader"
	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/demo"
	"github.com/smartcard-service-centre/kiosk/domain/secret"
	"github.com/smartcard-service-centre/kiosk/storage/sqlite"
)

// The PC/SC tests share a private pcscd with two vpcd readers, started on
// first use.
func TestMain(m *testing.M) { pcsctest.Main(m, pcsctest.Options{Name: "Kiosk Test"}) }

// seedDemo makes a demo store, CA and card files in a fresh directory.
func seedDemo(t *testing.T) map[string]string {
	t.Helper()
	env := demoEnv(t)
	if _, e, code := runKiosk(t, env, "keygen"); code != 0 {
		t.Fatalf("keygen: %s", e)
	}
	if out, e, code := runKiosk(t, env, "seed", "--demo"); code != 0 {
		t.Fatalf("seed: %s %s", out, e)
	}
	return env
}

// loadCard loads a demo card file written by seedDemo.
func loadCard(t *testing.T, env map[string]string, serial domain.CardSerial) *sim.Card {
	t.Helper()
	return loadCardFrom(t, dataFile(env, "cards"), serial)
}

// `kiosk cards` through a real pcscd: the demo's blocked card in the
// holder's reader, a factory card in the operator's.
func TestCards(t *testing.T) {
	d := pcsctest.Shared(t)
	env := seedDemo(t)
	d.InsertWait(t, d.Readers[0].Name, loadCard(t, env, "4082A001132F2817"))
	d.InsertWait(t, d.Readers[1].Name, sim.New())

	out, e, code := runKiosk(t, env, "cards")
	if code != 0 {
		t.Fatalf("cards: %d %q", code, e)
	}
	t.Logf("\n%s", out)
	lines := strings.Split(out, "\n")
	expiry := time.Now().AddDate(0, 0, 330)
	// The day may tick over between seeding and now; accept either.
	wantHolder := []string{"Kiosk Test 00 00", "holder", "4082A001132F2817", "Mr Test Person (5550 0179 9894)", "blocked"}
	if len(lines) < 3 {
		t.Fatalf("too few lines:\n%s", out)
	}
	for _, w := range wantHolder {
		if !strings.Contains(lines[1], w) {
			t.Errorf("holder row lacks %q: %q", w, lines[1])
		}
	}
	if !strings.Contains(lines[1], expiry.Format("2-Jan-2006")) && !strings.Contains(lines[1], expiry.AddDate(0, 0, -1).Format("2-Jan-2006")) {
		t.Errorf("holder row lacks the certificate expiry %s: %q", expiry.Format("2-Jan-2006"), lines[1])
	}
	for _, w := range []string{"Kiosk Test 00 01", "operator", "not a service card (no CHUID)", "3 tries left"} {
		if !strings.Contains(lines[2], w) {
			t.Errorf("operator row lacks %q: %q", w, lines[2])
		}
	}
	if strings.Contains(out, "note:") {
		t.Errorf("notes for healthy cards:\n%s", out)
	}

	// Roles by name, both ways round, through the environment twins.
	env["KIOSK_HOLDER_READER"] = "00 01"
	env["KIOSK_OPERATOR_READER"] = "00 00"
	out, _, _ = runKiosk(t, env, "cards")
	if lines := strings.Split(out, "\n"); !strings.Contains(lines[1], "operator") || !strings.Contains(lines[2], "holder") {
		t.Errorf("roles by name not applied:\n%s", out)
	}
	out, _, _ = runKiosk(t, env, "cards", "--holder-reader", "Front desk")
	if !strings.Contains(out, `note: no holder reader: card reader not found: no reader name contains "Front desk"`) {
		t.Errorf("missing holder reader not explained:\n%s", out)
	}
	delete(env, "KIOSK_HOLDER_READER")
	delete(env, "KIOSK_OPERATOR_READER")

	// Without a store the listing still works.
	os.Remove(dataFile(env, "kiosk.db"))
	out, _, code = runKiosk(t, env, "cards")
	if code != 0 || !strings.Contains(out, "holder names not shown") || !strings.Contains(out, "4082A001132F2817") {
		t.Errorf("without a store: %d\n%s", code, out)
	}
	if _, err := os.Stat(dataFile(env, "kiosk.db")); err == nil {
		t.Error("kiosk cards created a store")
	}
}

func TestCardsWithoutPCSC(t *testing.T) {
	d := pcsctest.Shared(t)
	t.Cleanup(func() {
		if !d.Running() {
			if err := d.Restart(); err != nil {
				t.Errorf("restart pcscd: %v", err)
			}
		}
	})
	if err := d.Kill(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, e, code := runKiosk(t, demoEnv(t), "cards")
	oneLine(t, e, code, "no PC/SC service: pcscd is not running")
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("took %v", el)
	}
}

// Every seeded card file matches its store record: genuine for the
// recorded certificate under the demo CA, unlocked by the sealed PUK,
// blocked exactly when the persona says so. The directories come from the
// flags here, and the environment twins work the same.
func TestSeededCardsMatchTheStore(t *testing.T) {
	ctx := context.Background()
	env := demoEnv(t)
	base := env["KIOSK_DATA_DIR"]
	runKiosk(t, env, "keygen")
	env["KIOSK_CARDS_DIR"] = filepath.Join(base, "env-cards")
	caDir, cardsDir := filepath.Join(base, "my-ca"), filepath.Join(base, "my-cards")
	if out, e, code := runKiosk(t, env, "seed", "--demo", "--ca-dir", caDir, "--cards-dir", cardsDir); code != 0 {
		t.Fatalf("seed: %s %s", out, e)
	}
	if _, err := os.Stat(filepath.Join(base, "env-cards")); err == nil {
		t.Error("the flag did not win over the environment")
	}
	auth, err := ca.Load(caDir)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := secret.LoadKEK(dataFile(env, "kek"))
	if err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(ctx, dataFile(env, "kiosk.db"), sqlite.WithAuditChain(keys))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	personas, err := demo.Load(kiosk.DemoData())
	if err != nil {
		t.Fatal(err)
	}
	files, err := democard.List(cardsDir)
	if err != nil || len(files) != len(personas) {
		t.Fatalf("%d card files for %d personas (%v)", len(files), len(personas), err)
	}
	for _, p := range personas {
		serial := domain.CardSerial(p.Card.Serial)
		rec, err := store.GetSmartcard(ctx, serial)
		if err != nil {
			t.Fatal(err)
		}
		secrets, err := store.GetCardSecrets(ctx, serial)
		if err != nil {
			t.Fatal(err)
		}
		puk, _, err := keys.OpenCard(secrets)
		if err != nil {
			t.Fatal(err)
		}
		tray := simreader.New("R")
		if err := tray.Insert("R", loadCardFrom(t, cardsDir, serial)); err != nil {
			t.Fatal(err)
		}
		card, err := pivcard.NewReaders(tray, pivcard.Assignment{}).Open(ctx, domain.ReaderHolder)
		if err != nil {
			t.Fatal(err)
		}
		if err := domain.ProveGenuine(ctx, card, rec, ca.ForDomain(auth), nil); err != nil {
			t.Errorf("%s: %v", serial, err)
		}
		st, err := card.Status(ctx)
		if err != nil || st.Serial != serial || st.Blocked != p.Card.Blocked {
			t.Errorf("%s: status %+v %v, want blocked=%v", serial, st, err, p.Card.Blocked)
		}
		if !p.Card.Blocked {
			if err := card.VerifyPasscode(ctx, p.Card.Passcode); err != nil {
				t.Errorf("%s: passcode %s: %v", serial, p.Card.Passcode, err)
			}
		}
		if err := card.Unlock(ctx, puk, "2468"); err != nil {
			t.Errorf("%s: unlock with the sealed PUK: %v", serial, err)
		}
		card.Close()
		tray.Close()
	}
}

func loadCardFrom(t *testing.T, dir string, serial domain.CardSerial) *sim.Card {
	t.Helper()
	c, err := sim.Load(democard.Path(dir, serial))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

package main

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/storage/sqlite"
	tuidemo "github.com/smartcard-service-centre/kiosk/tui/demo"
)

// seededDemo is a data directory with the demo personas seeded, and its
// store open.
func seededDemo(t *testing.T) (map[string]string, *sqlite.Store) {
	t.Helper()
	env := demoEnv(t)
	for _, args := range [][]string{{"keygen"}, {"seed", "--demo"}} {
		if _, e, code := runKiosk(t, env, args...); code != 0 {
			t.Fatalf("%v: %s", args, e)
		}
	}
	store, err := sqlite.Open(t.Context(), dataFile(env, "kiosk.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return env, store
}

// where lists, card by card, the reader each demo card is in.
func where(t *demoTray) []domain.ReaderRole {
	var out []domain.ReaderRole
	for _, c := range t.Cards() {
		out = append(out, c.In)
	}
	return out
}

// The operator demo's tray puts a card in either simulated reader, taking
// out the card there, and takes a card out of one reader to put it in the
// other.
func TestDemoTrayTwoReaders(t *testing.T) {
	env, store := seededDemo(t)
	tray, err := newDemoTray(t.Context(), store, dataFile(env, "cards"))
	if err != nil {
		t.Fatal(err)
	}
	defer tray.Close()
	const testPerson, helen = 1, 7 // the personas' order: F2 and F8
	if !strings.HasPrefix(tray.Cards()[helen].Label, "Mrs Helen Carter") || !strings.HasPrefix(tray.Cards()[testPerson].Label, "Mr Test Person") {
		t.Fatalf("tray order: %+v", tray.Cards())
	}
	h, o := domain.ReaderHolder, domain.ReaderOperator
	want := make([]domain.ReaderRole, len(tray.Cards()))
	for _, step := range []struct {
		card int
		to   domain.ReaderRole
		in   map[int]domain.ReaderRole
	}{
		{helen, o, map[int]domain.ReaderRole{helen: o}},
		{testPerson, h, map[int]domain.ReaderRole{helen: o, testPerson: h}},
		{helen, h, map[int]domain.ReaderRole{helen: h}}, // out of the operator's reader, Test Person out of the holder's
		{testPerson, o, map[int]domain.ReaderRole{helen: h, testPerson: o}},
		{testPerson, o, map[int]domain.ReaderRole{helen: h}}, // the same key again takes it out
	} {
		if err := tray.Toggle(step.card, step.to); err != nil {
			t.Fatal(err)
		}
		clear(want)
		for i, r := range step.in {
			want[i] = r
		}
		if got := where(tray); !slices.Equal(got, want) {
			t.Fatalf("after card %d to %s: %v, want %v", step.card, step.to, got, want)
		}
	}
}

// Demo data seeded by a version before the operator terminal has no log-in
// (9A) certificates on record, and seeding again keeps it as it is: the
// operator demo says what to do rather than fail at the first log-in.
func TestOperatorDemoNeedsLogInCerts(t *testing.T) {
	env, store := seededDemo(t)
	ctx := t.Context()
	tray, err := newDemoTray(ctx, store, dataFile(env, "cards"))
	if err != nil {
		t.Fatal(err)
	}
	defer tray.Close()
	if err := tray.checkLogInCerts(ctx, store, env["KIOSK_DATA_DIR"]); err != nil {
		t.Fatalf("freshly seeded demo data: %v", err)
	}
	const helen = domain.CardSerial("4082A00100000087")
	rec, err := store.GetSmartcard(ctx, helen)
	if err != nil {
		t.Fatal(err)
	}
	rec.PIVAuthCert = nil
	if err := store.InTx(ctx, func(q domain.Queries) error { return q.PutSmartcard(ctx, rec) }); err != nil {
		t.Fatal(err)
	}
	store.Close()

	c, _ := lookupCommand("operator")
	var out, errb bytes.Buffer
	e := &runEnv{cmd: c, stdout: &out, stderr: &errb, getenv: func(k string) string { return env[k] }, isTerminal: func() bool { return true }}
	err = c.run(context.Background(), e, []string{"--readers", "sim", "--allow-exit"})
	if err == nil || !strings.Contains(err.Error(), string(helen)) || !strings.Contains(err.Error(), "remove that directory and seed it again") {
		t.Fatalf("operator --readers sim on old demo data: %v", err)
	}
}

// The tray labels each demo card with its holder's name and, in a word or
// two taken from the persona's data, its case: short enough to be drawn
// whole beside its key. Each card says whose it is and their addresses,
// which the inbox shows the mail of.
func TestDemoTrayLabels(t *testing.T) {
	env, store := seededDemo(t)
	tray, err := newDemoTray(t.Context(), store, dataFile(env, "cards"))
	if err != nil {
		t.Fatal(err)
	}
	defer tray.Close()
	want := []string{
		"Dr Amara Okafor · active",
		"Mr Test Person · locked",
		"Ms Grace Hughes · unregistered",
		"Mr Owen Price · locked out",
		"Mrs Fatima Khan · renewal due",
		"Mr Daniel Reid · expired",
		"Ms Chloe Evans · cancelled",
		"Mrs Helen Carter · Sponsor",
		"Mr Raj Mehta · Smartcard admin",
		"Ms Nia Roberts · ID Checker",
		"Dr Peter Walsh · 2 roles",
	}
	cards := tray.Cards()
	var got []string
	for _, c := range cards {
		got = append(got, c.Label)
		if w := ansi.StringWidth(c.Label); w > tuidemo.LabelWidth {
			t.Errorf("label %q is %d wide; the tray draws %d whole", c.Label, w, tuidemo.LabelWidth)
		}
		if name, _, _ := strings.Cut(c.Label, " · "); c.Holder != name || len(c.Mail) == 0 {
			t.Errorf("card %q: holder %q, mail %v", c.Label, c.Holder, c.Mail)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("tray labels:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if m := cards[1].Mail; !slices.Contains(m, "test.person@nhs.net") {
		t.Fatalf("Mr Test Person's addresses: %v", m)
	}
}

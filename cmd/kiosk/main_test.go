package main

import (
	"bytes"
	"context"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smartcard-service-centre/kiosk/cardio/democard"
	"github.com/smartcard-service-centre/kiosk/storage/postgres/pgtest"
)

// kiosk runs the command in-process with only the given environment.
func runKiosk(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	getenv := func(k string) string { return env[k] }
	code = run(context.Background(), args, getenv, &out, &errb)
	return out.String(), errb.String(), code
}

// demoEnv keeps all the kiosk's files in a fresh data directory.
func demoEnv(t *testing.T) map[string]string {
	return map[string]string{"KIOSK_DATA_DIR": t.TempDir()}
}

// dataFile is where a file of the kiosk's lives in env's data directory.
func dataFile(env map[string]string, name string) string {
	return filepath.Join(env["KIOSK_DATA_DIR"], name)
}

// oneLine checks a failure is reported as one clear line, never a trace.
func oneLine(t *testing.T, stderr string, code int, want string) {
	t.Helper()
	if code == 0 {
		t.Fatalf("exit code 0, want failure (stderr %q)", stderr)
	}
	if strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
		t.Fatalf("stderr is not one line: %q", stderr)
	}
	if strings.Contains(stderr, "goroutine") || strings.Contains(stderr, "panic") {
		t.Fatalf("stack trace on stderr: %q", stderr)
	}
	if !strings.Contains(stderr, want) {
		t.Fatalf("stderr %q does not say %q", stderr, want)
	}
}

func TestVersionAndHelp(t *testing.T) {
	env := demoEnv(t)
	out, _, code := runKiosk(t, env, "version")
	if code != 0 || !strings.HasPrefix(out, "kiosk ") {
		t.Fatalf("version: %q, %d", out, code)
	}
	out, _, code = runKiosk(t, env, "help")
	for _, want := range []string{"migrate", "seed", "version", "KIOSK_DATABASE_URL", "-kek-file"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("help does not mention %s:\n%s", want, out)
		}
	}
	_, errOut, code := runKiosk(t, env, "seed", "--help")
	if code != 0 || !strings.Contains(errOut, "-demo") || !strings.Contains(errOut, "KIOSK_DB") {
		t.Fatalf("seed --help: %d %q", code, errOut)
	}
	_, errOut, code = runKiosk(t, env, "frobnicate")
	oneLine(t, errOut, code, `unknown command "frobnicate"`)
	// No command runs the kiosk: with real readers it needs a mail relay,
	// and it refuses to draw anywhere but a terminal.
	_, errOut, code = runKiosk(t, env)
	oneLine(t, errOut, code, "no mail relay: set --smtp-url")
	_, errOut, code = runKiosk(t, env, "--smtp-url", "smtp://127.0.0.1:1")
	oneLine(t, errOut, code, "needs a terminal")
	_, errOut, code = runKiosk(t, env, "--readers", "usb", "run")
	oneLine(t, errOut, code, "--readers must be pcsc or sim")
	_, errOut, code = runKiosk(t, env, "--idle-timeout", "2s")
	oneLine(t, errOut, code, "--idle-timeout")
	// The operator terminal too draws only on a terminal, and checks its
	// own settings.
	_, errOut, code = runKiosk(t, env, "operator")
	oneLine(t, errOut, code, "the operator terminal needs a terminal")
	_, errOut, code = runKiosk(t, env, "operator", "--idle-lock", "2s")
	oneLine(t, errOut, code, "--idle-lock")
	_, errOut, code = runKiosk(t, env, "operator", "--readers", "usb")
	oneLine(t, errOut, code, "--readers must be pcsc or sim")
}

func TestSeedEmbeddedTwice(t *testing.T) {
	env := demoEnv(t)
	if _, e, code := runKiosk(t, env, "keygen"); code != 0 {
		t.Fatalf("keygen: %s", e)
	}
	_, e, code := runKiosk(t, env, "keygen")
	oneLine(t, e, code, "already exists")
	if _, e, code := runKiosk(t, env, "keygen", "--if-missing"); code != 0 {
		t.Fatalf("keygen --if-missing: %s", e)
	}

	out, e, code := runKiosk(t, env, "seed", "--demo")
	if code != 0 || !strings.Contains(out, "11 added, 0 already present") || !strings.Contains(out, "demo cards: 11 written") ||
		!strings.Contains(out, "demo certificate authority: created") {
		t.Fatalf("first seed: %q %q", out, e)
	}
	before, _, _ := runKiosk(t, env, "users")
	cardsBefore := cardFiles(t, dataFile(env, "cards"))
	if len(cardsBefore) != 11 {
		t.Fatalf("%d card files, want 11", len(cardsBefore))
	}
	out, e, code = runKiosk(t, env, "seed", "--demo")
	if code != 0 || !strings.Contains(out, "0 added, 11 already present") || strings.Contains(out, "demo c") {
		t.Fatalf("second seed: %q %q", out, e)
	}
	after, _, _ := runKiosk(t, env, "users")
	if before != after {
		t.Fatalf("second seed changed the store:\n%s\n---\n%s", before, after)
	}
	if cardsAfter := cardFiles(t, dataFile(env, "cards")); !maps.Equal(cardsBefore, cardsAfter) {
		t.Fatal("second seed changed the card files")
	}
	for _, want := range []string{"5550 0179 9894", "Mr Test Person", "t•••@nhs.net", "4082A001132F2817", "Cancelled (Lost)", "Expired", "locked out", "not registered"} {
		if !strings.Contains(after, want) {
			t.Errorf("users listing lacks %q:\n%s", want, after)
		}
	}
	if strings.Contains(after, "test.person@nhs.net") {
		t.Error("users listing shows a full email address")
	}
	out, _, _ = runKiosk(t, env, "users", "5550 0179 9894")
	if strings.Count(out, "\n") != 2 || !strings.Contains(out, "Test Person") {
		t.Fatalf("search by ID:\n%s", out)
	}
	out, _, _ = runKiosk(t, env, "migrate")
	if !strings.Contains(out, "up to date") {
		t.Fatalf("migrate on the embedded store: %q", out)
	}
}

func TestSeedNeedsDemoFlagAndKEK(t *testing.T) {
	env := demoEnv(t)
	_, e, code := runKiosk(t, env, "seed")
	oneLine(t, e, code, "add --demo")
	_, e, code = runKiosk(t, env, "seed", "--demo")
	oneLine(t, e, code, "does not exist")

	os.WriteFile(dataFile(env, "kek"), []byte(strings.Repeat("ab", 32)), 0o644)
	_, e, code = runKiosk(t, env, "seed", "--demo")
	oneLine(t, e, code, "chmod 600")
}

func TestDatabaseErrors(t *testing.T) {
	env := demoEnv(t)
	runKiosk(t, env, "keygen")
	tests := []struct {
		name, url, want string
	}{
		{"unreachable", "postgres://kiosk:hunter2@127.0.0.1:1/kiosk?sslmode=disable&connect_timeout=2", "connect"},
		{"malformed", "postgres://kiosk:hunter2@[::1/kiosk", "--database-url must be a database URL"},
		{"wrong scheme", "mysql://kiosk@127.0.0.1/kiosk", "--database-url must be a database URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, cmd := range [][]string{{"migrate"}, {"seed", "--demo"}, {"users"}} {
				_, e, code := runKiosk(t, env, append(cmd, "--database-url", tt.url)...)
				oneLine(t, e, code, tt.want)
				if strings.Contains(e, "hunter2") {
					t.Fatalf("password echoed: %q", e)
				}
			}
		})
	}
	// The environment twin works too.
	env["KIOSK_DATABASE_URL"] = "postgres://kiosk@127.0.0.1:1/kiosk?sslmode=disable&connect_timeout=2"
	_, e, code := runKiosk(t, env, "migrate")
	oneLine(t, e, code, "connect")
}

func TestMigrateAndSeedPostgresTwice(t *testing.T) {
	env := demoEnv(t)
	env["KIOSK_DATABASE_URL"] = pgtest.NewDatabase(t)
	runKiosk(t, env, "keygen")

	_, e, code := runKiosk(t, env, "seed", "--demo")
	oneLine(t, e, code, "kiosk migrate")

	out, e, code := runKiosk(t, env, "migrate")
	if code != 0 || !strings.Contains(out, "applied") {
		t.Fatalf("first migrate: %q %q", out, e)
	}
	out, e, code = runKiosk(t, env, "migrate")
	if code != 0 || !strings.Contains(out, "nothing to apply") {
		t.Fatalf("second migrate: %q %q", out, e)
	}
	out, e, code = runKiosk(t, env, "seed", "--demo")
	if code != 0 || !strings.Contains(out, "11 added") {
		t.Fatalf("first seed: %q %q", out, e)
	}
	// With PostgreSQL the kiosk's files still go to the data directory,
	// and no embedded store is made there.
	for _, f := range []string{"kek", "kiosk.log", "ca/issuer.crt", "cards/4082A001132F2817.card"} {
		if _, err := os.Stat(dataFile(env, f)); err != nil {
			t.Errorf("not in the data directory: %v", err)
		}
	}
	if _, err := os.Stat(dataFile(env, "kiosk.db")); err == nil {
		t.Error("seeding PostgreSQL made an embedded store file")
	}
	before := pgtest.Snapshot(t, env["KIOSK_DATABASE_URL"])
	out, e, code = runKiosk(t, env, "seed", "--demo")
	if code != 0 || !strings.Contains(out, "0 added, 11 already present") {
		t.Fatalf("second seed: %q %q", out, e)
	}
	runKiosk(t, env, "migrate")
	if after := pgtest.Snapshot(t, env["KIOSK_DATABASE_URL"]); after != before {
		t.Fatalf("running migrate and seed again changed the database")
	}
}

// cardFiles returns the contents of the card files in dir by name.
func cardFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	files, err := democard.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = string(b)
	}
	return out
}

// A fresh store beside card files from an earlier one: the seeding stops
// with one clear line rather than overwrite a card, and leaves nothing
// half-done.
func TestSeedKeepsExistingCardFiles(t *testing.T) {
	env := demoEnv(t)
	runKiosk(t, env, "keygen")
	if out, e, code := runKiosk(t, env, "seed", "--demo"); code != 0 {
		t.Fatalf("seed: %s %s", out, e)
	}
	cardsDir := dataFile(env, "cards")
	before := cardFiles(t, cardsDir)
	os.Remove(dataFile(env, "kiosk.db"))
	_, e, code := runKiosk(t, env, "seed", "--demo")
	oneLine(t, e, code, "card file already exists")
	if !strings.Contains(e, "move it away") {
		t.Errorf("no advice in %q", e)
	}
	if after := cardFiles(t, cardsDir); !maps.Equal(before, after) {
		t.Fatal("existing card files changed")
	}
	entries, _ := os.ReadDir(cardsDir)
	if len(entries) != len(before) {
		t.Fatalf("%d files in %s, want only the %d cards", len(entries), cardsDir, len(before))
	}
	if out, _, _ := runKiosk(t, env, "users"); !strings.Contains(out, "no users found") {
		t.Fatalf("the failed seeding left users:\n%s", out)
	}
}

package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/smartcard-service-centre/kiosk/storage/postgres/pgtest"
)

// TestAppRoleAndAuditVerify: migrate as the schema owner grants the app
// role its rights; the kiosk's commands work as that role and the trail
// verifies; the owner can still tamper (it owns the table), and audit
// verify names the changed row and the row after a deleted one.
func TestAppRoleAndAuditVerify(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	role, appURL := pgtest.NewRole(t, dbURL)
	owner := demoEnv(t)
	owner["KIOSK_DATABASE_URL"] = dbURL
	out, e, code := runKiosk(t, owner, "migrate", "--app-role", role)
	if code != 0 || !strings.Contains(out, "role "+role+" may use") {
		t.Fatalf("migrate --app-role: %d %q %q", code, out, e)
	}
	app := map[string]string{"KIOSK_DATA_DIR": owner["KIOSK_DATA_DIR"], "KIOSK_DATABASE_URL": appURL}
	if _, e, code := runKiosk(t, app, "keygen"); code != 0 {
		t.Fatal(e)
	}
	if _, e, code := runKiosk(t, app, "seed", "--demo"); code != 0 {
		t.Fatalf("seed as the app role: %s", e)
	}
	out, e, code = runKiosk(t, app, "audit", "verify")
	if code != 0 || !strings.Contains(out, "the audit trail is intact") || !strings.Contains(out, "last verified row") {
		t.Fatalf("audit verify: %d %q %q", code, out, e)
	}
	// As the app role the trail cannot be touched.
	exec := func(url, sql string) error {
		conn, err := pgx.Connect(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		_, err = conn.Exec(context.Background(), sql)
		return err
	}
	for _, sql := range []string{"ALTER TABLE audit_events DISABLE TRIGGER USER", "UPDATE audit_events SET detail = 'x'", "DELETE FROM audit_events"} {
		if err := exec(appURL, sql); err == nil || !strings.Contains(err.Error(), "42501") && !strings.Contains(err.Error(), "must be owner") && !strings.Contains(err.Error(), "permission denied") {
			t.Fatalf("as the app role, %s: %v, want permission denied", sql, err)
		}
	}
	// The owner can, and is found out.
	for _, sql := range []string{
		"ALTER TABLE audit_events DISABLE TRIGGER USER",
		"UPDATE audit_events SET outcome = 'failure' WHERE id = 2",
		"DELETE FROM audit_events WHERE id = 4",
		"ALTER TABLE audit_events ENABLE TRIGGER USER",
	} {
		if err := exec(dbURL, sql); err != nil {
			t.Fatalf("as the owner, %s: %v", sql, err)
		}
	}
	out, e, code = runKiosk(t, app, "audit", "verify")
	if code != 1 || !strings.Contains(e, "the audit trail has been changed") {
		t.Fatalf("audit verify after tampering: exit %d, stderr %q", code, e)
	}
	for _, want := range []string{"BROKEN at row 2 ", "BROKEN at row 5 ", "rows before it were deleted"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	_, e, code = runKiosk(t, app, "audit")
	oneLine(t, e, code, "usage: kiosk audit verify")
}

// TestWrongKEKRefusedAtStart: a key-encryption key other than the one the
// card secrets were sealed with is refused before anything is done.
func TestWrongKEKRefusedAtStart(t *testing.T) {
	env := demoEnv(t)
	runKiosk(t, env, "keygen")
	if _, e, code := runKiosk(t, env, "seed", "--demo"); code != 0 {
		t.Fatal(e)
	}
	other := demoEnv(t)
	runKiosk(t, other, "keygen")
	env["KIOSK_KEK_FILE"] = dataFile(other, "kek")
	_, e, code := runKiosk(t, env, "seed", "--demo")
	oneLine(t, e, code, "the key-encryption key does not match the database")
	if !strings.Contains(e, "--kek-file") {
		t.Errorf("the refusal does not say what to check: %q", e)
	}
	out, e, code := runKiosk(t, env, "audit", "verify")
	if code != 1 || !strings.Contains(fmt.Sprint(out, e), "BROKEN at row 1 ") {
		t.Fatalf("audit verify under another key: exit %d %q %q", code, out, e)
	}
}

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/smartcard-service-centre/kiosk/domain/directory/directorytest"
	"github.com/smartcard-service-centre/kiosk/storage/postgres/pgtest"
)

const importHeader = "user_id,title,given_name,family_name,email,org_code,org_name,role_name,activity_codes,card_serial,card_type,issued,cert_expiry,cancelled\n"

func writeCSV(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "directory.csv")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// importTwiceAndRefuse runs kiosk import as an administrator would, on
// the store env points at.
func importTwiceAndRefuse(t *testing.T, env map[string]string) {
	good := writeCSV(t, importHeader+
		"555000002001,Dr,Amara,Okafor,amara.okafor@nhs.net,RTH,Oxford University Hospitals,Clinical Practitioner Access Role,B0001,4082A00100002001,PIV,2025-01-10,2027-01-10,\n"+
		"555000002002,,Owen,Price,,A82647,Riverside,Registration Authority Agent,B1300;B0263,4082A00100002002,PIV,2024-05-01,2026-05-01,2025-02-03\n")
	out, errOut, code := runKiosk(t, env, "import", good)
	if code != 0 || !strings.HasSuffix(out, "users: 2 added, 0 updated, 0 unchanged\n") || !strings.Contains(out, ": 2 rows in ") {
		t.Fatalf("import: exit %d, %q, %q", code, out, errOut)
	}
	// Not a terminal: no progress bar, nothing on stderr.
	if errOut != "" {
		t.Fatalf("stderr of a quiet import: %q", errOut)
	}
	out, errOut, code = runKiosk(t, env, "import", good)
	if code != 0 || !strings.HasSuffix(out, "users: 0 added, 0 updated, 2 unchanged\n") {
		t.Fatalf("import again: exit %d, %q, %q", code, out, errOut)
	}
	out, _, code = runKiosk(t, env, "users", "Okafor")
	if code != 0 || !strings.Contains(out, "5550 0000 2001") || !strings.Contains(out, "4082A00100002001") {
		t.Fatalf("users after import: %q", out)
	}

	bad := writeCSV(t, importHeader+
		"555000002003,,Ann,Fine,,,,,,,,,,\n"+
		"55500000200,,Bad,Id,,,,,,,,,,\n"+
		"555000002004,,Bob,Code,,RTH,Oxford,Clerk,B9999,,,,,\n"+
		"555000002005,,Cat,Date,,,,,,4082A00100002005,PIV,2025-02-30,2027-01-10,\n")
	out, errOut, code = runKiosk(t, env, "import", bad)
	lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
	want := []string{
		`  line 3, user_id: "55500000200": user ID must have 12 digits, got 11`,
		"  line 4, activity_codes: unknown activity code B9999 (known: B0001, B0263, B0267, B1300)",
		`  line 5, issued: "2025-02-30" is not a date like 2026-03-14`,
		"  (a deployment's other activity codes are accepted once named with --activity-codes or KIOSK_ACTIVITY_CODES)",
		"kiosk import: " + bad + ": 3 problem(s) found, nothing was imported",
	}
	if code != 1 || out != "" || !slices.Equal(lines, want) {
		t.Fatalf("bad file: exit %d, stdout %q, stderr:\n%s\nwant:\n%s", code, out, errOut, strings.Join(want, "\n"))
	}
	out, _, _ = runKiosk(t, env, "users", "Fine")
	if !strings.Contains(out, "no users found") {
		t.Fatalf("a row of the refused file was imported: %q", out)
	}
	// The same file with the deployment's code named: only the other two
	// problems are left.
	env2 := map[string]string{"KIOSK_ACTIVITY_CODES": "B9999"}
	for k, v := range env {
		env2[k] = v
	}
	_, errOut, code = runKiosk(t, env2, "import", bad)
	if code != 1 || strings.Contains(errOut, "B9999") || !strings.Contains(errOut, "2 problem(s) found") {
		t.Fatalf("bad file with B9999 named: exit %d, %q", code, errOut)
	}

	// Each import wrote one audit row, refused ones included, and the
	// chain holds.
	out, errOut, code = runKiosk(t, env, "audit", "verify")
	if code != 0 || !strings.Contains(out, "4 audit rows read") || !strings.Contains(out, "the audit trail is intact") {
		t.Fatalf("audit verify: exit %d, %q %q", code, out, errOut)
	}
}

func TestImportCommand(t *testing.T) {
	env := demoEnv(t)
	if _, e, code := runKiosk(t, env, "keygen"); code != 0 {
		t.Fatal(e)
	}
	importTwiceAndRefuse(t, env)

	_, e, code := runKiosk(t, env, "import")
	oneLine(t, e, code, "usage: kiosk import FILE.csv")
	_, e, code = runKiosk(t, env, "import", filepath.Join(t.TempDir(), "missing.csv"))
	oneLine(t, e, code, "open directory file: ")
	_, e, code = runKiosk(t, env, "import", "--activity-codes", "B1,B0001", writeCSV(t, importHeader))
	oneLine(t, e, code, `--activity-codes is not valid: activity code "B1" must be a capital letter and four digits`)
}

func TestImportCommandPostgres(t *testing.T) {
	env := demoEnv(t)
	env["KIOSK_DATABASE_URL"] = pgtest.NewDatabase(t)
	if _, e, code := runKiosk(t, env, "import", writeCSV(t, importHeader)); code == 0 || !strings.Contains(e, "kek") {
		t.Fatalf("import without a key: exit %d, %q", code, e)
	}
	if _, e, code := runKiosk(t, env, "keygen"); code != 0 {
		t.Fatal(e)
	}
	_, e, code := runKiosk(t, env, "import", writeCSV(t, importHeader))
	oneLine(t, e, code, "kiosk migrate")
	if _, e, code := runKiosk(t, env, "migrate"); code != 0 {
		t.Fatal(e)
	}
	importTwiceAndRefuse(t, env)
}

// A generated file of a few thousand users, users with two rows among
// them, through the whole command.
func TestImportCommandGeneratedFile(t *testing.T) {
	env := demoEnv(t)
	if _, e, code := runKiosk(t, env, "keygen"); code != 0 {
		t.Fatal(e)
	}
	f := directorytest.File{Users: 2000, First: 555100000000, SerialBase: 0x4082A00000000000}
	path, err := f.WriteFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	out, e, code := runKiosk(t, env, "import", path)
	if want := fmt.Sprintf(": %d rows in ", f.Rows()); code != 0 || !strings.Contains(out, want) || !strings.Contains(out, "2000 added") {
		t.Fatalf("import: exit %d, %q %q", code, out, e)
	}
}

func TestProgressLine(t *testing.T) {
	for _, tt := range []struct {
		n, size int64
		want    string
	}{
		{0, 2_500_000, "░░░░░░░░░░   0% of 2.5 MB read"},
		{1_250_000, 2_500_000, "█████░░░░░  50% of 2.5 MB read"},
		{2_500_000, 2_500_000, "██████████ 100% read; merging into the store…"},
		{3_000_000, 2_500_000, "██████████ 100% read; merging into the store…"},
	} {
		if got := progressLine(tt.n, tt.size, 10); got != tt.want {
			t.Errorf("progressLine(%d, %d) = %q, want %q", tt.n, tt.size, got, tt.want)
		}
	}
}

func TestImportHelp(t *testing.T) {
	got, _, help := helpFlags(t, "import", "--help")
	want := []string{"data-dir", "database-url", "db", "db-connect-timeout", "db-max-conns", "kek-file", "log-file", "terminal", "activity-codes"}
	if !slices.Equal(got, want) || !strings.Contains(help, "Usage: kiosk import [flags] FILE.csv") {
		t.Fatalf("import --help lists %v, want %v:\n%s", got, want, help)
	}
}

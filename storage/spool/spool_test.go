package spool_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/storage/spool"
)

var at = time.Date(2026, 3, 2, 10, 0, 0, 123456789, time.UTC)

// outcome is a full outcome of intent id, written at when.
func outcome(id string, when time.Time) domain.CardWriteOutcome {
	w := domain.CardWriteIntent{ID: id, Op: domain.CardWriteSelfRenew, Serial: "4082A001132F2817", SubjectID: "555001799894",
		ActorID: "555001799894", Role: "B1300", Visit: "a1b2", Terminal: "booth-1", StartedAt: when.Add(-time.Second)}
	return domain.CardWriteOutcome{
		Intent: w, At: when, Outcome: domain.OutcomeSuccess, Detail: "certificates valid until 2 March 2028",
		Audit: domain.AuditEvent{At: when, Action: domain.AuditSelfRenew, Outcome: domain.OutcomeSuccess, ActorID: w.ActorID,
			SubjectID: w.SubjectID, CardSerial: w.Serial, Role: w.Role, Terminal: w.Terminal, Detail: "certificates valid until 2 March 2028"},
		Mails: []domain.Mail{{To: "test.person@nhs.net", Subject: "Your Smartcard has been unlocked", Body: "Hello\n\nline two\n", CreatedAt: when}},
		Renewal: &domain.RenewalRecord{CertExpiry: when.AddDate(2, 0, 0), CardAuthCert: []byte{0x30, 0x82, 0x01, 0x00},
			PIVAuthCert: []byte{0x30, 0x82, 0x01, 0x9a}, Operator: true, Rekeyed: true},
	}
}

func open(t *testing.T, dir string) *spool.Dir {
	t.Helper()
	d, err := spool.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func list(t *testing.T, d *spool.Dir) []domain.CardWriteOutcome {
	t.Helper()
	got, err := d.List()
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func ids(outs []domain.CardWriteOutcome) []string {
	var out []string
	for _, o := range outs {
		out = append(out, o.Intent.ID)
	}
	return out
}

// An outcome reads back whole, oldest first, also from a second opening
// (another process, or after a restart); a second Put replaces the first,
// and Remove forgets it, twice without complaint.
func TestPutListRemove(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	d := open(t, dir)
	if got := list(t, d); len(got) != 0 {
		t.Fatalf("a new spool holds %v", got)
	}
	late, early := outcome("bb", at.Add(time.Minute)), outcome("cc", at)
	early.Renewal, early.Mails, early.Intent.Role, early.NeedsRepair = nil, nil, "", true
	for _, o := range []domain.CardWriteOutcome{late, early} {
		if err := d.Put(o); err != nil {
			t.Fatal(err)
		}
	}
	got := list(t, open(t, dir))
	if want := []domain.CardWriteOutcome{early, late}; !reflect.DeepEqual(got, want) {
		t.Fatalf("listed\n %+v\nwant\n %+v", got, want)
	}
	changed := late
	changed.Outcome, changed.Detail = domain.OutcomeFailure, "the store refused the renewal"
	if err := d.Put(changed); err != nil {
		t.Fatal(err)
	}
	if got := list(t, d); len(got) != 2 || !reflect.DeepEqual(got[1], changed) {
		t.Fatalf("after a second Put: %+v", got)
	}
	for range 2 {
		if err := d.Remove("bb"); err != nil {
			t.Fatal(err)
		}
	}
	if got := ids(list(t, d)); !reflect.DeepEqual(got, []string{"cc"}) {
		t.Fatalf("after Remove: %v", got)
	}
}

// The spool is private: the directory 0700 (even one that was not), each
// file 0600, and nothing left half-written.
func TestFilesArePrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	d := open(t, dir)
	if err := d.Put(outcome("0123abcd", at)); err != nil {
		t.Fatal(err)
	}
	perm := func(path string) fs.FileMode {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}
	if p := perm(dir); p != 0o700 {
		t.Errorf("spool directory mode %o, want 700", p)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "0123abcd.json" {
		t.Fatalf("spool holds %v, want only 0123abcd.json", entries)
	}
	if p := perm(filepath.Join(dir, "0123abcd.json")); p != 0o600 {
		t.Errorf("spool file mode %o, want 600", p)
	}
}

// A file left by a crash mid-Put is cleared at Open and never listed; a
// damaged outcome file is reported by name, never skipped.
func TestTornAndDamagedFiles(t *testing.T) {
	dir := t.TempDir()
	torn := filepath.Join(dir, ".tmp-123")
	if err := os.WriteFile(torn, []byte(`{"version":1,"int`), 0o600); err != nil {
		t.Fatal(err)
	}
	// Another process's Put may be under way: a young file stays.
	inFlight := filepath.Join(dir, ".tmp-456")
	if err := os.WriteFile(inFlight, []byte(`{"version":1,"int`), 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-spool.StaleTmp - time.Minute)
	if err := os.Chtimes(torn, old, old); err != nil {
		t.Fatal(err)
	}
	d := open(t, dir)
	if _, err := os.Stat(torn); !os.IsNotExist(err) {
		t.Fatalf("stale torn file still there: %v", err)
	}
	if _, err := os.Stat(inFlight); err != nil {
		t.Fatalf("a file another Put may be writing was removed: %v", err)
	}
	if got := list(t, d); len(got) != 0 {
		t.Fatalf("listed %v", got)
	}
	tests := []struct{ name, content, want string }{
		{"abab.json", `{"version":1,"intent":{"id":"ab`, "abab.json"},
		{"cdcd.json", `{"version":9,"intent":{"id":"cdcd"}}`, "format version 9"},
		{"efef.json", `{"version":1,"intent":{"id":"abab"}}`, `holds the outcome of intent "abab"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name)
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			defer os.Remove(path)
			if _, err := d.List(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("List = %v, want an error saying %q", err, tt.want)
			}
		})
	}
}

// An intent ID names a file in the spool and nothing else.
func TestRefusesIDsThatAreNotHex(t *testing.T) {
	parent := t.TempDir()
	d := open(t, filepath.Join(parent, "spool"))
	for _, id := range []string{"", "../escape", "ABCD", "ab/cd", strings.Repeat("a", 65)} {
		if err := d.Put(outcome(id, at)); err == nil {
			t.Errorf("Put with intent ID %q succeeded", id)
		}
		if err := d.Remove(id); err == nil {
			t.Errorf("Remove with intent ID %q succeeded", id)
		}
	}
	entries, err := os.ReadDir(parent)
	if err != nil || len(entries) != 1 {
		t.Fatalf("files beside the spool: %v %v", entries, err)
	}
}

// A file written before the operator's fields existed reads as what it
// recorded: a self-renewal, no 9A certificate, no repair needed.
func TestReadsEarlierFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	d := open(t, dir)
	old := `{"version":1,"intent":{"id":"abcd","op":"self_renew","card_serial":"4082A001132F2817","subject_id":"555001799894",` +
		`"actor_id":"555001799894","visit":"a1b2","terminal":"booth-1","started_at":"2026-03-02T09:59:59Z"},` +
		`"at":"2026-03-02T10:00:00Z","outcome":"success","detail":"","audit":{"at":"2026-03-02T10:00:00Z","action":"self_renew",` +
		`"outcome":"success","actor_id":"555001799894","subject_id":"555001799894","card_serial":"4082A001132F2817",` +
		`"terminal":"booth-1","detail":""},"renewal":{"cert_expiry":"2028-03-02T10:00:00Z","card_auth_cert":"MIIB"}}`
	if err := os.WriteFile(filepath.Join(dir, "abcd.json"), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	got := list(t, d)
	if len(got) != 1 || got[0].Renewal == nil {
		t.Fatalf("listed %+v", got)
	}
	r := got[0].Renewal
	if r.PIVAuthCert != nil || r.Operator || r.Rekeyed || got[0].NeedsRepair || len(r.CardAuthCert) != 3 {
		t.Fatalf("an earlier file read as %+v, needs repair %v", r, got[0].NeedsRepair)
	}
}

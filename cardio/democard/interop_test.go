package democard

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/cardio/ca"
	"github.com/smartcard-service-centre/kiosk/cardio/pcsctest"
	"github.com/smartcard-service-centre/kiosk/cardio/sim"
)

func TestMain(m *testing.M) { pcsctest.Main(m, pcsctest.Options{Name: "Demo Card Test"}) }

// A demo card file, served through vpcd as cmd/vcard serves it, is a PIV
// card to standard tools: yubico-piv-tool reads its CHUID and certificates
// and unblocks it with the PUK the store holds; OpenSC lists the
// certificates.
func TestDemoCardWithStandardTools(t *testing.T) {
	for _, n := range []string{"yubico-piv-tool", "pkcs15-tool", "opensc-tool"} {
		if _, err := exec.LookPath(n); err != nil {
			pcsctest.SkipOrFail(t, fmt.Errorf("%s not installed: %w", n, err))
		}
	}
	d := pcsctest.Shared(t)
	dir := t.TempDir()
	now := time.Now().UTC()
	auth, _, err := OpenCA(filepath.Join(dir, "ca"), now)
	if err != nil {
		t.Fatal(err)
	}
	m := &Maker{CA: ca.ForDomain(auth), Dir: dir}
	nc := newCard(t, "4082A001132F2817", true, now)
	nc.IssuedAt, nc.CertExpiry = now.AddDate(0, 0, -400), now.AddDate(0, 0, 330)
	if _, err := m.Issue(context.Background(), nc); err != nil {
		t.Fatal(err)
	}
	if err := m.Commit(); err != nil {
		t.Fatal(err)
	}
	card, err := sim.Load(Path(dir, nc.Serial))
	if err != nil {
		t.Fatal(err)
	}
	reader := d.Readers[0].Name
	d.InsertWait(t, reader, card)
	if err := os.WriteFile(filepath.Join(dir, "opensc.conf"),
		[]byte("app default {\n  framework pkcs15 {\n    use_file_caching = no;\n  }\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(wantOK bool, name string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Env = append(d.Env(), "HOME="+dir, "OPENSC_CONF="+filepath.Join(dir, "opensc.conf"))
		out, err := cmd.CombinedOutput()
		if (err == nil) != wantOK {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	out := run(true, "yubico-piv-tool", "-r", reader, "-a", "status")
	for _, want := range []string{
		"CHUID:", "Slot 9a:", "Slot 9e:", "serialNumber=4082A001132F2817",
		"CN=555001799894", "PIN tries left:\t0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("yubico-piv-tool status lacks %q:\n%s", want, out)
		}
	}
	run(false, "yubico-piv-tool", "-r", reader, "-a", "verify-pin", "-P", nc.Passcode)
	// yubico-piv-tool insists on PINs of 6 or more characters.
	run(true, "yubico-piv-tool", "-r", reader, "-a", "unblock-pin", "-P", string(nc.Keys.PUK), "-N", "246813")
	run(true, "yubico-piv-tool", "-r", reader, "-a", "verify-pin", "-P", "246813")

	idx := ""
	for _, line := range strings.Split(run(true, "opensc-tool", "--list-readers"), "\n") {
		if f := strings.Fields(line); len(f) > 2 && strings.Contains(line, reader) {
			idx = f[0]
		}
	}
	if idx == "" {
		t.Fatalf("opensc-tool does not list %q", reader)
	}
	out = run(true, "pkcs15-tool", "--reader", idx, "--list-certificates")
	if strings.Count(out, "X.509 Certificate") < 2 {
		t.Errorf("pkcs15-tool does not list both certificates:\n%s", out)
	}
}

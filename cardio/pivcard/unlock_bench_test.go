package pivcard

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/cardio/pcsc"
	"github.com/smartcard-service-centre/kiosk/cardio/pcsctest"
	"github.com/smartcard-service-centre/kiosk/domain"
)

// BenchmarkUnlockSideBySide unlocks the same software card, served
// through vpcd to the same private pcscd, three ways in one run:
//   - kiosk: the kiosk's adapter on an open connection, Unlock (SELECT,
//     RESET RETRY COUNTER with the PUK and the new PIN, VERIFY the new PIN);
//   - kiosk-connect: the same with the connection opened and closed each
//     time, as each tool run below must;
//   - yubico-piv-tool: `yubico-piv-tool -a unblock-pin` then
//     `yubico-piv-tool -a verify-pin`, two processes, as an administrator
//     would with the standard tool.
//
// APDUs/op counts the commands the card received per unlock (vpcd's
// power and ATR requests are not commands).
func BenchmarkUnlockSideBySide(b *testing.B) {
	d := pcsctest.Shared(b)
	c := personalise(b, testSerial)
	hc := &hookCard{Card: c.sim}
	reader := d.Readers[0].Name
	d.InsertWait(b, reader, hc)
	readers := pcsc.New(nil)
	defer readers.Close()
	r := NewReaders(readers, Assignment{Holder: reader})
	ctx := context.Background()
	puk := string(c.keys.PUK)
	// Six digits: what yubico-piv-tool accepts, and the same for all three.
	pin := func(n int) string { return fmt.Sprintf("%06d", 100000+n%900000) }

	b.Run("kiosk", func(b *testing.B) {
		card, err := r.Open(ctx, domain.ReaderHolder)
		if err != nil {
			b.Fatal(err)
		}
		defer card.Close()
		apdus, n := 0, 0
		for b.Loop() {
			hc.setHook(nil)
			if err := card.Unlock(ctx, c.keys.PUK, pin(n)); err != nil {
				b.Fatal(err)
			}
			apdus += hc.count()
			n++
		}
		b.ReportMetric(float64(apdus)/float64(n), "APDUs/op")
	})
	b.Run("kiosk-connect", func(b *testing.B) {
		apdus, n := 0, 0
		for b.Loop() {
			hc.setHook(nil)
			card, err := r.Open(ctx, domain.ReaderHolder)
			if err != nil {
				b.Fatal(err)
			}
			if err := card.Unlock(ctx, c.keys.PUK, pin(n)); err != nil {
				b.Fatal(err)
			}
			if err := card.Close(); err != nil {
				b.Fatal(err)
			}
			apdus += hc.count()
			n++
		}
		b.ReportMetric(float64(apdus)/float64(n), "APDUs/op")
	})
	b.Run("yubico-piv-tool", func(b *testing.B) {
		if _, err := exec.LookPath("yubico-piv-tool"); err != nil {
			pcsctest.SkipOrFail(b, fmt.Errorf("yubico-piv-tool not installed: %w", err))
		}
		env := d.Env()
		run := func(args ...string) {
			ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, "yubico-piv-tool", append([]string{"-r", reader}, args...)...)
			cmd.Env = env
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("yubico-piv-tool %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
		apdus, n := 0, 0
		for b.Loop() {
			hc.setHook(nil)
			p := pin(n)
			run("-a", "unblock-pin", "-P", puk, "-N", p)
			run("-a", "verify-pin", "-P", p)
			apdus += hc.count()
			n++
		}
		b.ReportMetric(float64(apdus)/float64(n), "APDUs/op")
	})
}

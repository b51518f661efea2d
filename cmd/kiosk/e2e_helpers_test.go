package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/cardio/democard"
	"github.com/smartcard-service-centre/kiosk/cardio/pcsc"
	"github.com/smartcard-service-centre/kiosk/cardio/pcsctest"
	"github.com/smartcard-service-centre/kiosk/cardio/pivcard"
	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/storage/postgres/pgtest"
)

// The helpers the end-to-end tests share: a seeded data directory, demo
// cards served by the built vcard, the built kiosk in tmux, and a look at
// a card through PC/SC.

// seededDataDir makes a data directory and a throwaway PostgreSQL
// database, and prepares them as an installer would with the built kiosk:
// keygen, migrate, seed --demo. It returns the environment the kiosk and
// vcard run with (the private pcscd's included) and the directory.
func seededDataDir(t *testing.T, d *pcsctest.Daemon, kioskBin string) (env []string, dir string) {
	t.Helper()
	dir = t.TempDir()
	env = append(d.Env(),
		"KIOSK_DATABASE_URL="+pgtest.NewDatabase(t),
		"KIOSK_DATA_DIR="+dir, // the key, CA, cards and log
	)
	for _, args := range [][]string{{"keygen"}, {"migrate"}, {"seed", "--demo"}} {
		cmd := exec.Command(kioskBin, args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kiosk %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return env, dir
}

// serveCard puts the demo card serial (its file in the data directory's
// cards) into reader by serving it with the built vcard, and waits until
// pcscd sees it. pull takes it out again, as a person would, by stopping
// vcard (which has written the card's changes back to its file), and
// waits until pcscd sees the reader empty; the test's end pulls it if the
// test has not.
func serveCard(t *testing.T, d *pcsctest.Daemon, vcardBin string, env []string, dir string, reader pcsctest.Reader, serial domain.CardSerial) (pull func()) {
	t.Helper()
	// A card pulled just before may still be reported for a moment, and a
	// second card on an occupied vpcd slot would only queue.
	d.WaitCard(t, reader.Name, false, 10*time.Second)
	vcard := exec.Command(vcardBin, "--addr", reader.Addr, "--card", democard.Path(filepath.Join(dir, "cards"), serial))
	vcard.Env = env
	vlog, err := os.Create(filepath.Join(dir, "vcard-"+string(serial)+".log"))
	if err != nil {
		t.Fatal(err)
	}
	vcard.Stdout, vcard.Stderr = vlog, vlog
	if err := vcard.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	pull = func() {
		once.Do(func() {
			_ = vcard.Process.Signal(os.Interrupt)
			_ = vcard.Wait()
			vlog.Close()
			d.WaitCard(t, reader.Name, false, 10*time.Second)
		})
	}
	t.Cleanup(pull)
	d.WaitCard(t, reader.Name, true, 15*time.Second)
	return pull
}

// startInTmux runs the built kiosk with args and the KIOSK_ and PCSCLITE_
// variables of env in a width×height tmux session of the test's own; a
// kiosk that stops leaves its last words on the screen for a minute.
func startInTmux(t *testing.T, env []string, width, height int, kioskBin string, args ...string) *screen {
	t.Helper()
	s := &screen{t: t, socket: fmt.Sprintf("kiosk-e2e-%d-%s", os.Getpid(), t.Name())}
	var cmdline strings.Builder
	cmdline.WriteString("env")
	for _, kv := range env {
		if strings.HasPrefix(kv, "KIOSK_") || strings.HasPrefix(kv, "PCSCLITE_") {
			cmdline.WriteString(" '" + kv + "'")
		}
	}
	cmdline.WriteString(" " + kioskBin)
	for _, a := range args {
		cmdline.WriteString(" '" + a + "'")
	}
	cmdline.WriteString("; sleep 60")
	s.tmux("new-session", "-d", "-s", "kiosk", "-x", fmt.Sprint(width), "-y", fmt.Sprint(height), cmdline.String())
	t.Cleanup(s.stop)
	return s
}

// stop ends the tmux session and the kiosk in it.
func (s *screen) stop() { _ = exec.Command("tmux", "-L", s.socket, "kill-server").Run() }

// verifyThroughPCSC checks, through PC/SC, that the card in reader is
// serial, is not blocked, and accepts pin.
func verifyThroughPCSC(t *testing.T, reader string, serial domain.CardSerial, pin string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	readers := pcsc.New(nil)
	defer readers.Close()
	var lastErr error
	// The kiosk's connection may take a moment to be released.
	for ctx.Err() == nil {
		conn, err := readers.Connect(ctx, reader)
		if err == nil {
			card := pivcard.New(conn)
			st, err := card.Status(ctx)
			if err == nil && (st.Blocked || st.Serial != serial) {
				t.Fatalf("card status: %+v, want %s not blocked", st, serial)
			}
			if err == nil {
				err = card.VerifyPasscode(ctx, pin)
			}
			card.Close()
			if err == nil {
				return
			}
			lastErr = err
		} else {
			lastErr = err
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("the card does not accept the new passcode: %v", lastErr)
}

package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/cardio/ca"
	"github.com/smartcard-service-centre/kiosk/cardio/pcsc"
	"github.com/smartcard-service-centre/kiosk/cardio/pcsctest"
	"github.com/smartcard-service-centre/kiosk/cardio/pivcard"
	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/tui/operator"
)

// The demo personas of the operator walkthrough (testdata/demo).
const (
	helenSerial  = "4082A00100000087" // Mrs Helen Carter, Sponsor (B1300)
	helenPIN     = "5093"
	niaSerial    = "4082A00100000109" // Ms Nia Roberts, RAA ID Checker (B0267)
	niaPIN       = "2947"
	danielSerial = "4082A00100000061" // Mr Daniel Reid: expired certificates
	danielUserID = "555000000061"
	unlockPIN    = "8642" // Mr Test Person's new passcode
	repairPIN    = "7531" // Mr Daniel Reid's new passcode
)

// TestEndToEndOperatorInTmux runs the built operator terminal in tmux
// against PostgreSQL and a real pcscd whose vpcd gives the two readers,
// each card served by the built vcard from the seeded demo card files:
// a Sponsor unlocks a blocked card, which then takes the new passcode
// through PC/SC; pulling her card logs her out; an RAA ID Checker repairs
// a card with expired certificates, whose new certificates (read through
// PC/SC) chain to the service CA, name the card and are in date.
func TestEndToEndOperatorInTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		pcsctest.SkipOrFail(t, fmt.Errorf("tmux is not installed: %w", err))
	}
	d := pcsctest.Shared(t)
	kioskBin, vcardBin := buildBinaries(t)
	env, dir := seededDataDir(t, d, kioskBin)
	t.Cleanup(func() {
		if t.Failed() {
			logTail(t, filepath.Join(dir, "kiosk.log"))
		}
	})
	// "<NAME> 00 00" and "<NAME> 00 01" of one vpcd entry.
	holder, own := d.Readers[0], d.Readers[1]

	// Mr Daniel Reid's certificates as seeded: expired.
	d.WaitCard(t, holder.Name, false, 10*time.Second)
	pull := serveCard(t, d, vcardBin, env, dir, holder, danielSerial)
	before := inspectThroughPCSC(t, holder.Name)
	pull()
	for _, slot := range []domain.KeySlot{domain.KeyPIVAuth, domain.KeyCardAuth} {
		if c := before.Certificates[slot]; c == nil || !c.NotAfter.Before(time.Now()) {
			t.Fatalf("the seeded %s certificate of %s is not expired: %v", slot, danielSerial, c)
		}
	}

	// Real readers through pcscd, whatever the environment says; the
	// readers by name, as at a real desk.
	s := startInTmux(t, slices.Concat(env, []string{"KIOSK_READERS=pcsc"}), 120, 50, kioskBin, "operator",
		"--operator-reader", own.Name, "--holder-reader", holder.Name, "--terminal", "e2e-ra")
	s.waitFor(operator.InsertText, 20*time.Second)

	// (a) Helen Carter, Sponsor, unlocks Mr Test Person's blocked card.
	pullHelen := serveCard(t, d, vcardBin, env, dir, own, helenSerial)
	s.waitFor("Enter your Smartcard passcode", 10*time.Second)
	s.text(helenPIN)
	if strings.Contains(s.capture(), helenPIN) {
		t.Fatal("the operator's passcode is shown in clear")
	}
	s.keys("Enter")
	s.waitAll(20*time.Second, "Dashboard", "Hi, Mrs Helen Carter", "Sponsor Access Role for RTH", "Manage Smartcard")
	s.keys("Enter") // Manage Smartcard
	s.waitAll(10*time.Second, operator.InsertHolderText)
	pullTest := serveCard(t, d, vcardBin, env, dir, holder, e2eSerial)
	s.waitAll(20*time.Second, "Mr Test Person: ", operator.CheckPersonText, "User ID: 5550 0179 9894",
		"Smartcard Details", e2eSerial, "(locked)")
	s.keys("Enter") // the card selected
	shown := s.waitAll(10*time.Second, "Choose a service", "Unlock Smartcard", "Cancel Smartcard")
	if strings.Contains(shown, "Repair Smartcard") {
		t.Fatalf("a Sponsor is offered Repair Smartcard:\n%s", shown)
	}
	s.keys("Enter") // Unlock Smartcard
	s.waitAll(10*time.Second, operator.HandOverText, operator.OnlyHolderText)
	s.keys("Enter")
	s.waitAll(10*time.Second, "please enter your new passcode")
	s.text(unlockPIN)
	s.keys("Tab")
	s.text(unlockPIN)
	if shown := s.waitAll(10*time.Second, "The passcodes match"); strings.Contains(shown, unlockPIN) {
		t.Fatalf("the new passcode is shown in clear:\n%s", shown)
	}
	s.keys("Enter")
	s.waitAll(30*time.Second, operator.UnlockedBanner(e2eSerial))
	// The card itself, through PC/SC, with the terminal still running.
	verifyThroughPCSC(t, holder.Name, e2eSerial, unlockPIN)

	// (c) Pulling the operator's own card logs out and wipes the screen.
	pullTest()
	pullHelen()
	s.waitAll(10*time.Second, operator.LoggedOutCardRemoved, operator.InsertText)
	if shown := s.capture(); strings.Contains(shown, "Helen Carter") || strings.Contains(shown, "Test Person") {
		t.Fatalf("the screen was not wiped at log-out:\n%s", shown)
	}

	// (b) Nia Roberts, RAA ID Checker, repairs Mr Daniel Reid's card.
	serveCard(t, d, vcardBin, env, dir, own, niaSerial)
	s.waitFor("Enter your Smartcard passcode", 10*time.Second)
	s.text(niaPIN)
	s.keys("Enter")
	s.waitAll(20*time.Second, "Dashboard", "Hi, Ms Nia Roberts", "Systems Support Access Role for RTH", "Manage Smartcard")
	s.keys("Enter") // Manage Smartcard
	s.waitAll(10*time.Second, operator.InsertHolderText)
	serveCard(t, d, vcardBin, env, dir, holder, danielSerial)
	s.waitAll(20*time.Second, "Mr Daniel Reid: ", operator.CheckPersonText, danielSerial, "(expired)")
	s.keys("Enter")
	s.waitAll(10*time.Second, "Choose a service", "Repair Smartcard")
	s.keys("Enter") // Repair Smartcard, the RAA ID Checker's first service
	s.waitAll(10*time.Second, operator.HandOverText)
	s.keys("Enter")
	s.waitAll(10*time.Second, "please enter your new passcode")
	s.text(repairPIN)
	s.keys("Tab")
	s.text(repairPIN)
	s.waitAll(10*time.Second, "The passcodes match")
	s.keys("Enter")
	s.waitAll(60*time.Second, "Success: Smartcard "+danielSerial+" repaired")

	// Through PC/SC: new certificates from the service CA for this card,
	// in date, and the passcode the holder chose.
	after := inspectThroughPCSC(t, holder.Name)
	if after.Serial != danielSerial {
		t.Fatalf("the repaired card reads as %q", after.Serial)
	}
	checkCertificates(t, filepath.Join(dir, "ca"), after, before)
	verifyThroughPCSC(t, holder.Name, danielSerial, repairPIN)
}

// waitAll waits until the screen shows all of texts, each perhaps wrapped
// over lines or inside a box, and returns the screen so flattened.
func (s *screen) waitAll(timeout time.Duration, texts ...string) string {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		raw := s.capture()
		last = flatScreen(raw)
		missing := false
		for _, x := range texts {
			if !strings.Contains(last, x) {
				missing = true
				break
			}
		}
		if !missing {
			return last
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("screen never showed all of %q; it shows:\n%s", texts, s.capture())
	return ""
}

// flatScreen joins a screen's lines, without box edges, into one line of
// single-spaced words.
func flatScreen(screen string) string {
	var b strings.Builder
	for _, line := range strings.Split(screen, "\n") {
		b.WriteString(strings.Trim(line, " │┃┏┓┗┛╭╮╰╯━─▌"))
		b.WriteByte(' ')
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// inspectThroughPCSC reads the card in reader as a technician would.
func inspectThroughPCSC(t *testing.T, reader string) pivcard.Inspection {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	readers := pcsc.New(nil)
	defer readers.Close()
	var lastErr error
	for ctx.Err() == nil {
		conn, err := readers.Connect(ctx, reader)
		if err == nil {
			card := pivcard.New(conn)
			in, err := card.Inspect(ctx)
			card.Close()
			if err == nil {
				return in
			}
			lastErr = err
		} else {
			lastErr = err
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("inspect the card in %q: %v", reader, lastErr)
	return pivcard.Inspection{}
}

// checkCertificates checks that the repaired card's 9A and 9E certificates
// are new, were issued by the service CA in caDir for Mr Daniel Reid's
// card and slot, chain to its root today, and run for about two years.
func checkCertificates(t *testing.T, caDir string, after, before pivcard.Inspection) {
	t.Helper()
	authority, err := ca.Load(caDir)
	if err != nil {
		t.Fatal(err)
	}
	service := ca.ForDomain(authority)
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(readPEMCert(t, filepath.Join(caDir, ca.RootCertFile)))
	inter.AddCert(readPEMCert(t, filepath.Join(caDir, ca.IssuerCertFile)))
	now := time.Now()
	for _, slot := range []domain.KeySlot{domain.KeyPIVAuth, domain.KeyCardAuth} {
		c := after.Certificates[slot]
		if c == nil {
			t.Fatalf("no %s certificate on the repaired card (missing %q, problems %q)", slot, after.Missing, after.Problems)
		}
		if old := before.Certificates[slot]; old != nil && c.Equal(old) {
			t.Fatalf("the %s certificate was not replaced", slot)
		}
		if _, err := service.Verify(c.Raw, danielUserID, danielSerial, slot); err != nil {
			t.Errorf("%s certificate: %v", slot, err)
		}
		if c.Subject.SerialNumber != danielSerial || c.Subject.CommonName != danielUserID {
			t.Errorf("%s certificate names %q/%q, want the card %s of %s", slot, c.Subject.CommonName, c.Subject.SerialNumber, danielSerial, danielUserID)
		}
		// Chained and in date now, not only at issue.
		if _, err := c.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("%s certificate does not chain to the service root today: %v", slot, err)
		}
		if c.NotBefore.After(now) || c.NotAfter.Before(now.AddDate(1, 11, 0)) || c.NotAfter.After(now.Add(ca.MaxValidity)) {
			t.Errorf("%s certificate valid %v to %v, want from now for 2 years", slot, c.NotBefore, c.NotAfter)
		}
	}
}

func readPEMCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

// logTail shows the end of the terminal's log after a failure.
func logTail(t *testing.T, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Logf("no log: %v", err)
		return
	}
	if len(b) > 8<<10 {
		b = b[len(b)-8<<10:]
	}
	t.Logf("%s:\n%s", path, b)
}

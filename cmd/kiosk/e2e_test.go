package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/cardio/pcsctest"
	"github.com/smartcard-service-centre/kiosk/mail/smtptest"
)

// The locked, registered demo persona the end-to-end test unlocks.
const (
	e2eSerial = "4082A001132F2817"
	e2eNewPIN = "Kx9!a"
)

var e2eAnswers = map[string]string{
	"What is your mother's maiden name?":            "Smith",
	"Where were you on the turn of the millennium?": "Edinburgh",
	"What was the name of your first pet?":          "Rex",
	"What was the name of your first school?":       "St Marys",
}

// buildBinaries builds the kiosk and vcard commands as a person would run them.
func buildBinaries(t *testing.T) (kioskBin, vcardBin string) {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", dir+"/", "./cmd/kiosk", "./cmd/vcard")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return filepath.Join(dir, "kiosk"), filepath.Join(dir, "vcard")
}

// screen is a tmux session the kiosk runs in; keys go in as typed.
type screen struct {
	t      *testing.T
	socket string
}

func (s *screen) tmux(args ...string) string {
	s.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", s.socket}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (s *screen) capture() string { return s.tmux("capture-pane", "-p", "-t", "kiosk") }

func (s *screen) keys(keys ...string) {
	s.tmux(append([]string{"send-keys", "-t", "kiosk"}, keys...)...)
}

// text types literally (no key names), as a person at the keyboard.
func (s *screen) text(t string) { s.tmux("send-keys", "-t", "kiosk", "-l", t) }

// waitFor waits until the screen shows want and returns the screen.
func (s *screen) waitFor(want string, timeout time.Duration) string {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		if last = s.capture(); strings.Contains(last, want) {
			return last
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("screen never showed %q; it shows:\n%s", want, last)
	return ""
}

var codeRE = regexp.MustCompile(`(?m)^(\d{6})\s*$`)

// TestEndToEndUnlockInTmux runs the built kiosk in tmux against
// PostgreSQL, a real pcscd with vpcd holding the locked demo card served
// by the built vcard, and a real SMTP server; it types the answers, reads
// the code from the delivered email, sets a new passcode, and then checks
// through PC/SC that the card accepts it.
func TestEndToEndUnlockInTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		pcsctest.SkipOrFail(t, fmt.Errorf("tmux is not installed: %w", err))
	}
	d := pcsctest.Shared(t)
	kioskBin, vcardBin := buildBinaries(t)
	smtpd := smtptest.Start(t, "127.0.0.1:0", smtptest.Options{})

	env, dir := seededDataDir(t, d, kioskBin)

	// The locked card goes into the first virtual reader.
	holder := d.Readers[0]
	serveCard(t, d, vcardBin, env, dir, holder, e2eSerial)

	s := startInTmux(t, env, 120, 40, kioskBin, "--holder-reader", holder.Name,
		"--smtp-url", "smtp://127.0.0.1:"+smtpd.Port()+"?starttls=none", "--terminal", "e2e")

	s.waitFor("Hello, Mr Test Person", 20*time.Second)
	// The public cannot leave: Ctrl+C and Esc leave the kiosk running.
	s.keys("C-c")
	s.keys("Escape")
	// A lone Esc is told from the start of an Alt+key sequence by the pause
	// after it, as with a person typing.
	time.Sleep(500 * time.Millisecond)
	// Nor does SIGINT (or Ctrl+\ and Ctrl+Z as signals) stop it.
	pane := strings.TrimSpace(s.tmux("display-message", "-p", "-t", "kiosk", "#{pane_pid}"))
	for _, sig := range []string{"-INT", "-QUIT", "-TSTP"} {
		if out, err := exec.Command("pkill", sig, "-P", pane, "-x", "kiosk").CombinedOutput(); err != nil {
			t.Fatalf("pkill %s kiosk: %v %s", sig, err, out)
		}
	}
	// Still there: the next key is answered (the signals were sent before
	// it, so a kiosk they stopped could not answer).
	s.keys("Enter") // Smartcard Unlock
	s.waitFor("Complete these 3 simple steps", 10*time.Second)
	s.keys("Enter") // Start
	screenText := s.waitFor("To confirm your identity", 10*time.Second)

	var asked []string
	for _, line := range strings.Split(screenText, "\n") {
		for q := range e2eAnswers {
			if strings.Contains(line, q) {
				asked = append(asked, q)
			}
		}
	}
	if len(asked) < 2 || len(asked) > 4 {
		t.Fatalf("%d questions asked, want 2–4:\n%s", len(asked), screenText)
	}
	for i, q := range asked {
		s.text(e2eAnswers[q])
		if i < len(asked)-1 {
			s.keys("Tab")
		}
	}
	s.keys("Enter")
	shown := s.waitFor("We have sent a Smartcard Unlock Code", 15*time.Second)
	if !strings.Contains(shown, "t•••@nhs.net") || strings.Contains(shown, "test.person@nhs.net") {
		t.Fatalf("the code screen must show the masked address only:\n%s", shown)
	}

	msgs := smtpd.WaitMessages(t, 1, 30*time.Second)
	m := msgs[0]
	if len(m.To) != 1 || m.To[0] != "test.person@nhs.net" || m.Header.Get("Subject") != "Smartcard Unlock Code" {
		t.Fatalf("unlock mail to %v, subject %q", m.To, m.Header.Get("Subject"))
	}
	found := codeRE.FindStringSubmatch(m.Body)
	if found == nil {
		t.Fatalf("no code in the email:\n%s", m.Body)
	}
	if strings.Contains(s.capture(), found[1]) {
		t.Fatal("the kiosk shows the code on screen")
	}
	s.text(found[1])
	s.keys("Enter")
	s.waitFor("Reset Smartcard Passcode", 10*time.Second)
	s.text(e2eNewPIN)
	s.keys("Tab")
	s.text(e2eNewPIN)
	if strings.Contains(s.capture(), e2eNewPIN) {
		t.Fatal("the passcode is shown in clear")
	}
	s.keys("Enter")
	s.waitFor("Your Smartcard has been successfully unlocked.", 20*time.Second)
	s.waitFor("Please remove and then reinsert your Smartcard", time.Second)

	// The notification follows the code.
	msgs = smtpd.WaitMessages(t, 2, 30*time.Second)
	if got := msgs[1].Header.Get("Subject"); got != "Your Smartcard has been unlocked" {
		t.Fatalf("second mail %q", got)
	}

	// Stop the kiosk, then ask the card itself through PC/SC.
	s.stop()
	verifyThroughPCSC(t, holder.Name, e2eSerial, e2eNewPIN)
}

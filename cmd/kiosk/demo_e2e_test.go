package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/cardio/pcsctest"
	"github.com/smartcard-service-centre/kiosk/tui/tuitest"
)

var inboxCodeRE = regexp.MustCompile(`│ Code: (\d{6}) `)

// TestMakeDemoAt100x30 runs `make demo` as the README says, in a tmux
// session 100×30: the build and seed messages stay on screen for a while
// before the kiosk covers them; then the README's walkthrough unlocks Mr
// Test Person, the code read from the inbox panel beside the kiosk,
// without scrolling it.
func TestMakeDemoAt100x30(t *testing.T) {
	for _, tool := range []string{"tmux", "make"} {
		if _, err := exec.LookPath(tool); err != nil {
			pcsctest.SkipOrFail(t, fmt.Errorf("%s is not installed: %w", tool, err))
		}
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := &screen{t: t, socket: fmt.Sprintf("kiosk-make-demo-%d", os.Getpid())}
	// A make running this test must not pass its job server on.
	cmdline := fmt.Sprintf("env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C '%s' --no-print-directory demo DEMO_DIR='%s' BIN='%s'; sleep 60",
		root, filepath.Join(dir, "demo"), filepath.Join(dir, "bin"))
	s.tmux("new-session", "-d", "-s", "kiosk", "-x", "100", "-y", "30", cmdline)
	t.Cleanup(s.stop)

	// A cold build takes minutes; a failed one, or a kiosk that covers
	// the messages at once, fails the test at once.
	var before string
	for deadline := time.Now().Add(5 * time.Minute); !strings.Contains(before, "Press Enter to start now"); time.Sleep(200 * time.Millisecond) {
		before = s.capture()
		if strings.Contains(before, "make: ***") || strings.Contains(before, "Demo card tray") || time.Now().After(deadline) {
			t.Fatalf("make demo did not stop to show its messages:\n%s", before)
		}
	}
	for _, want := range []string{
		"demo personas: 11 added, 0 already present", "demo cards: 11 written to",
		"Starting the kiosk full-screen (100×30). Ctrl+C quits.",
		"First: F2 puts Mr Test Person's locked card in the reader (README).",
	} {
		if !strings.Contains(before, want) {
			t.Fatalf("before the kiosk starts, the screen does not say %q:\n%s", want, before)
		}
	}
	time.Sleep(2 * time.Second)
	if now := s.capture(); !strings.Contains(now, "demo personas: 11 added") {
		t.Fatalf("the seed messages were covered at once:\n%s", now)
	}
	s.keys("Enter")
	shown := s.waitFor("Demo card tray", 30*time.Second)
	for _, label := range []string{"F2  Mr Test Person · locked", "F3  Ms Grace Hughes · unregistered", "F9  Mr Raj Mehta · Smartcard admin"} {
		if !strings.Contains(shown, label+" ") {
			t.Fatalf("tray label %q not whole:\n%s", label, shown)
		}
	}

	// The README's steps.
	s.keys("F2")
	s.waitFor("Hello, Mr Test Person", 15*time.Second)
	s.keys("Enter") // Smartcard Unlock
	s.waitFor("Complete these 3 simple steps", 10*time.Second)
	s.keys("Enter") // Start
	s.answerInTurn(e2eAnswers)
	shown = s.waitFor("│ Code: ", 30*time.Second)
	code := inboxCodeRE.FindStringSubmatch(shown)
	if code == nil {
		t.Fatalf("no code in the inbox panel:\n%s", shown)
	}
	for _, line := range strings.Split(shown, "\n") {
		if i := strings.Index(line, code[1]); i >= 0 && len([]rune(line[:i])) < 60 {
			t.Fatalf("the code is drawn in the kiosk's 60 columns:\n%s", shown)
		}
	}
	s.text(code[1])
	s.keys("Enter")
	s.waitFor("Reset Smartcard Passcode", 10*time.Second)
	s.text(e2eNewPIN)
	s.keys("Tab")
	s.text(e2eNewPIN)
	s.keys("Enter")
	s.waitFor("Your Smartcard has been successfully unlocked.", 20*time.Second)
}

// answerInTurn answers the security questions one at a time, each when
// its field has the cursor (the thick border), as on a screen too short to
// show them all; Enter on the last one sends them.
func (s *screen) answerInTurn(answers map[string]string) {
	s.t.Helper()
	s.waitFor("Security questions", 10*time.Second)
	done := map[string]bool{}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		shown := s.capture()
		if !strings.Contains(shown, "Security questions") {
			if len(done) < 2 {
				s.t.Fatalf("%d questions answered, want 2–4:\n%s", len(done), shown)
			}
			return
		}
		q := tuitest.FocusedQuestion(shown, answers)
		if q == "" || done[q] || len(done) == 4 {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		done[q] = true
		s.text(answers[q])
		s.keys("Enter")
	}
	s.t.Fatalf("the questions were not all answered; the screen shows:\n%s", s.capture())
}

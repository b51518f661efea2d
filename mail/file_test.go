package mail

import (
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/mail/smtptest"
)

func TestFileTransport(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outgoing", "mail")
	at := time.Date(2026, 3, 14, 9, 26, 53, 589793000, time.UTC)
	f, err := NewFile(FileConfig{Dir: dir, Clock: newFakeClock(at)})
	if err != nil {
		t.Fatal(err)
	}
	m := codeMail("jane.bloggs@nhs.net", at.Add(-time.Minute))
	m.ID = 42
	m.Subject = "Smartcard Unlock Code\r\nBcc: attacker@example.org"
	if err := f.Deliver(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	// Again: the same mail replaces its file.
	if err := f.Deliver(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "20260314T092553.589793Z-42.eml" {
		t.Fatalf("directory holds %v, want one file named after the mail", entries)
	}
	for p, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, entries[0].Name()): 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), want)
		}
	}

	raw, err := os.ReadFile(filepath.Join(dir, entries[0].Name()))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "\r\n") || strings.Contains(strings.ReplaceAll(string(raw), "\r\n", ""), "\n") {
		t.Error("lines do not all end in CRLF")
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if got := decodeHeader(t, msg.Header.Get("Subject")); got != "Smartcard Unlock Code Bcc: attacker@example.org" {
		t.Errorf("Subject %q: a line break must not start a new header", got)
	}
	if msg.Header.Get("Bcc") != "" {
		t.Error("header injected through the subject")
	}
	if got := msg.Header.Get("To"); got != "<jane.bloggs@nhs.net>" {
		t.Errorf("To %q", got)
	}
	if got, err := msg.Header.Date(); err != nil || !got.Equal(at.Truncate(time.Second)) {
		t.Errorf("Date %v (%v), want %v", got, err, at)
	}
	body, err := smtptest.DecodeBody(msg)
	if err != nil {
		t.Fatal(err)
	}
	if body != m.Body {
		t.Errorf("body %q, want %q", body, m.Body)
	}
}

func TestFileTransportErrors(t *testing.T) {
	if _, err := NewFile(FileConfig{}); err == nil {
		t.Error("no directory accepted")
	}
	if _, err := NewFile(FileConfig{Dir: t.TempDir(), From: "nobody"}); err == nil {
		t.Error("bad From accepted")
	}
	f, err := NewFile(FileConfig{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	err = f.Deliver(t.Context(), codeMail("not-an-address", time.Now()))
	if !IsPermanent(err) {
		t.Errorf("invalid recipient: %v, want a permanent error", err)
	}
	// A directory that vanished is a retryable failure, and leaves no
	// temporary file behind.
	dir := t.TempDir()
	f, err = NewFile(FileConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	err = f.Deliver(t.Context(), codeMail("jane.bloggs@nhs.net", time.Now()))
	if err == nil || IsPermanent(err) {
		t.Errorf("missing directory: %v, want a retryable error", err)
	}
}

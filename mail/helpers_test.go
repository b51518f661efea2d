package mail

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"mime"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/storage/sqlite"
)

// decodeHeader undoes RFC 2047 encoding.
func decodeHeader(t *testing.T, v string) string {
	t.Helper()
	s, err := new(mime.WordDecoder).DecodeHeader(v)
	if err != nil {
		t.Fatalf("decode header %q: %v", v, err)
	}
	return s
}

// codeMail is an unlock-code mail as the domain would enqueue it.
func codeMail(to string, created time.Time) domain.Mail {
	return domain.Mail{
		To:      to,
		Subject: "Smartcard Unlock Code",
		Body: "Your Smartcard Unlock Code is 493027.\n\nThis code is valid for 15 minutes.\n\n" +
			"If you did not request a Smartcard Unlock Code please inform your organisation's Registration Authority.\n",
		CreatedAt: created,
		NotAfter:  created.Add(15 * time.Minute),
	}
}

// fakeClock is a settable clock, safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// openSQLite is a fresh embedded store in a temporary file.
func openSQLite(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "kiosk.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// logBuffer collects a sender's log for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// transportFunc adapts a function to Transport.
type transportFunc func(ctx context.Context, m domain.Mail) error

func (f transportFunc) Deliver(ctx context.Context, m domain.Mail) error { return f(ctx, m) }

// getMail finds one mail in the store.
func getMail(t *testing.T, s domain.Outbox, id int64) domain.Mail {
	t.Helper()
	all, err := s.ListMail(t.Context(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range all {
		if m.ID == id {
			return m
		}
	}
	t.Fatalf("mail %d not in the outbox", id)
	return domain.Mail{}
}

func enqueue(t *testing.T, s domain.Outbox, m domain.Mail) domain.Mail {
	t.Helper()
	m, err := s.EnqueueMail(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

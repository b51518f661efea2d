package mail

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/secret"
	"github.com/smartcard-service-centre/kiosk/mail/smtptest"
)

var t0 = time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)

func half() float64 { return 0.5 } // no jitter

func TestBackoff(t *testing.T) {
	s, err := NewSender(SenderConfig{Outbox: openSQLite(t), Transport: transportFunc(nil),
		MinBackoff: 5 * time.Second, MaxBackoff: time.Minute, Rand: half})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{
		{0, 5 * time.Second}, {1, 5 * time.Second}, {2, 10 * time.Second}, {3, 20 * time.Second},
		{4, 40 * time.Second}, {5, time.Minute}, {6, time.Minute}, {1 << 30, time.Minute},
	} {
		if got := s.Backoff(tc.n); got != tc.want {
			t.Errorf("Backoff(%d) = %v, want %v", tc.n, got, tc.want)
		}
	}
	// Jitter stays within ±20%.
	for _, tc := range []struct {
		r    float64
		want time.Duration
	}{{0, 8 * time.Second}, {0.25, 9 * time.Second}, {0.75, 11 * time.Second}, {0.999999, 12 * time.Second}} {
		s.cfg.Rand = func() float64 { return tc.r }
		if got := s.Backoff(2); got < tc.want-time.Millisecond || got > tc.want {
			t.Errorf("Backoff(2) with rand %v = %v, want %v", tc.r, got, tc.want)
		}
	}
}

func TestNewSenderChecksConfig(t *testing.T) {
	store := openSQLite(t)
	tr := transportFunc(nil)
	for _, tc := range []struct {
		name string
		cfg  SenderConfig
		err  string
	}{
		{"no outbox", SenderConfig{Transport: tr}, "no outbox"},
		{"no transport", SenderConfig{Outbox: store}, "no transport"},
		{"lease too short", SenderConfig{Outbox: store, Transport: tr, Timeout: time.Minute, Lease: time.Minute}, "lease"},
		{"default lease below timeout", SenderConfig{Outbox: store, Transport: tr, Timeout: time.Hour}, "lease"},
		{"backoff upside down", SenderConfig{Outbox: store, Transport: tr, MinBackoff: time.Hour, MaxBackoff: time.Minute}, "backoff"},
		{"negative", SenderConfig{Outbox: store, Transport: tr, MaxAttempts: -1}, "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewSender(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want %q", err, tc.err)
			}
		})
	}
	s, err := NewSender(SenderConfig{Outbox: store, Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	c := s.cfg
	if c.Timeout != DefaultTimeout || c.Lease != DefaultLease || c.MinBackoff != DefaultMinBackoff ||
		c.MaxBackoff != DefaultMaxBackoff || c.MaxAttempts != DefaultMaxAttempts || c.PollInterval != DefaultPollInterval {
		t.Fatalf("defaults not applied: %+v", c)
	}
}

func newMailbox(t *testing.T) *Mailbox {
	t.Helper()
	b, err := NewMailbox(MailboxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newSender(t *testing.T, cfg SenderConfig) *Sender {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = newLogger(tWriter{t})
	}
	s, err := NewSender(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// tWriter sends a sender's log to the test's log.
type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// run starts s.Run and returns a function that stops it and checks that
// it returned nil.
func run(t *testing.T, s *Sender) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run returned %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("Run did not return after its context ended")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func TestSendDue(t *testing.T) {
	store := openSQLite(t)
	box := newMailbox(t)
	clock := newFakeClock(t0)
	var logs logBuffer
	s := newSender(t, SenderConfig{Outbox: store, Transport: box, Clock: clock, Logger: newLogger(&logs)})

	a := enqueue(t, store, codeMail("jane.bloggs@nhs.net", t0.Add(-time.Minute)))
	b := enqueue(t, store, domain.Mail{To: "john.smith@nhs.net", Subject: "Your Smartcard has been unlocked",
		Body: "Your Smartcard was unlocked at the kiosk.", CreatedAt: t0})
	later := enqueue(t, store, domain.Mail{To: "x@nhs.net", Subject: "later", CreatedAt: t0, NextAttemptAt: t0.Add(time.Hour)})
	n, err := s.SendDue(t.Context())
	if err != nil || n != 2 {
		t.Fatalf("SendDue = %d, %v; want 2 delivered", n, err)
	}
	got := box.Messages()
	if len(got) != 2 || got[1].ID != a.ID || got[0].ID != b.ID || got[1].Body != a.Body {
		t.Fatalf("mailbox holds %+v, want a then b", got)
	}
	for _, m := range []domain.Mail{a, b} {
		if m := getMail(t, store, m.ID); m.SentAt != t0 || m.Attempts != 0 {
			t.Errorf("mail %d: sent %v attempts %d", m.ID, m.SentAt, m.Attempts)
		}
	}
	if getMail(t, store, later.ID).Sent() {
		t.Error("mail not yet due was sent")
	}
	if n, err := s.SendDue(t.Context()); err != nil || n != 0 {
		t.Fatalf("second SendDue = %d, %v; want nothing", n, err)
	}
	// The log names the mail but never the code or the full address.
	l := logs.String()
	if !strings.Contains(l, "mail delivered") || !strings.Contains(l, "j•••@nhs.net") {
		t.Errorf("log lacks the delivery:\n%s", l)
	}
	for _, secret := range []string{"493027", "jane.bloggs@nhs.net", "john.smith"} {
		if strings.Contains(l, secret) {
			t.Errorf("log contains %q:\n%s", secret, l)
		}
	}
}

// TestRunWakesOnNotify: with an hour between polls, only Notify can make
// the mail go out at once; without it nothing happens (no busy polling).
func TestRunWakesOnNotify(t *testing.T) {
	store := openSQLite(t)
	box := newMailbox(t)
	var claims atomic.Int32
	claimed := make(chan struct{}, 16)
	counting := countingOutbox{Outbox: store, claims: &claims, claimed: claimed}
	s := newSender(t, SenderConfig{Outbox: counting, Transport: box, PollInterval: time.Hour})
	ch, cancel := box.Subscribe()
	defer cancel()
	stop := run(t, s)

	// Run's first pass finds nothing.
	select {
	case <-claimed:
	case <-time.After(5 * time.Second):
		t.Fatal("Run made no first pass")
	}
	m := enqueue(t, store, codeMail("jane.bloggs@nhs.net", time.Now()))
	// Nothing may happen now: this window is what is being tested (an
	// idle sender does not poll), not a wait for something to finish.
	select {
	case got := <-ch:
		t.Fatalf("mail %d delivered without Notify", got.ID)
	case <-claimed:
		t.Fatal("the sender claimed again while idle (busy polling)")
	case <-time.After(300 * time.Millisecond):
	}
	if n := claims.Load(); n != 1 {
		t.Errorf("%d claims while idle, want 1 (the first pass)", n)
	}
	s.Notify()
	s.Notify() // collapses with the first
	select {
	case got := <-ch:
		if got.ID != m.ID {
			t.Fatalf("delivered %d, want %d", got.ID, m.ID)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Notify did not wake the sender")
	}
	stop()
	if !getMail(t, store, m.ID).Sent() {
		t.Error("delivered mail not marked sent")
	}
}

// countingOutbox counts claims and signals each one on claimed (if set,
// without blocking).
type countingOutbox struct {
	domain.Outbox
	claims  *atomic.Int32
	claimed chan<- struct{}
}

func (o countingOutbox) ClaimMail(ctx context.Context, now time.Time, lease time.Duration) (domain.Mail, error) {
	o.claims.Add(1)
	m, err := o.Outbox.ClaimMail(ctx, now, lease)
	if o.claimed != nil {
		select {
		case o.claimed <- struct{}{}:
		default:
		}
	}
	return m, err
}

// signallingOutbox reports on sent each mail marked sent and on failed
// each failed attempt recorded, once the store has it.
type signallingOutbox struct {
	domain.Outbox
	sent, failed chan int64
}

func newSignallingOutbox(o domain.Outbox) signallingOutbox {
	return signallingOutbox{Outbox: o, sent: make(chan int64, 64), failed: make(chan int64, 64)}
}

func (o signallingOutbox) MarkMailSent(ctx context.Context, id int64, at time.Time) error {
	err := o.Outbox.MarkMailSent(ctx, id, at)
	if err == nil {
		o.sent <- id
	}
	return err
}

func (o signallingOutbox) MarkMailFailed(ctx context.Context, id int64, reason string, next time.Time) error {
	err := o.Outbox.MarkMailFailed(ctx, id, reason, next)
	if err == nil {
		o.failed <- id
	}
	return err
}

// waitFor receives n values from ch, or fails the test after d.
func waitFor(t *testing.T, ch <-chan int64, n int, d time.Duration, what string) {
	t.Helper()
	deadline := time.After(d)
	for i := range n {
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("%s: %d of %d seen after %v", what, i, n, d)
		}
	}
}

// TestRunPolls: mail enqueued by another process (no Notify) goes out at
// the next poll.
func TestRunPolls(t *testing.T) {
	store := openSQLite(t)
	box := newMailbox(t)
	ch, cancel := box.Subscribe()
	defer cancel()
	run(t, newSender(t, SenderConfig{Outbox: store, Transport: box, PollInterval: 50 * time.Millisecond}))
	enqueue(t, store, codeMail("jane.bloggs@nhs.net", time.Now()))
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("poll did not deliver")
	}
}

// TestRetriesUntilServerUp: the relay is down, so the mail stays in the
// outbox and is retried with growing waits; once the relay is up it is
// delivered, once.
func TestRetriesUntilServerUp(t *testing.T) {
	store := openSQLite(t)
	port := freePort(t)
	tr, err := NewSMTP(SMTPConfig{URL: "smtp://127.0.0.1:" + port + "?starttls=none", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu       sync.Mutex
		attempts []time.Time
	)
	recording := transportFunc(func(ctx context.Context, m domain.Mail) error {
		mu.Lock()
		attempts = append(attempts, time.Now())
		mu.Unlock()
		return tr.Deliver(ctx, m)
	})
	const minBackoff = 100 * time.Millisecond
	outbox := newSignallingOutbox(store)
	// An hour between polls: only the retry timer can bring it back.
	s := newSender(t, SenderConfig{Outbox: outbox, Transport: recording, MinBackoff: minBackoff,
		MaxBackoff: 400 * time.Millisecond, PollInterval: time.Hour, Rand: half})
	stop := run(t, s)
	m := enqueue(t, store, codeMail("jane.bloggs@nhs.net", time.Now()))
	s.Notify()

	// Three failed attempts: 0, +100ms, +200ms.
	waitFor(t, outbox.failed, 3, 10*time.Second, "failed attempts recorded")
	failed := getMail(t, store, m.ID)
	if failed.Sent() || !strings.Contains(failed.LastError, "connection refused") || failed.NextAttemptAt.IsZero() {
		t.Fatalf("mail after failures: %+v", failed)
	}
	srv := smtptest.Start(t, "127.0.0.1:"+port, smtptest.Options{})
	got := srv.WaitMessages(t, 1, 10*time.Second)
	m.ID = failed.ID
	checkReceived(t, got[0], m)
	waitFor(t, outbox.sent, 1, 5*time.Second, "delivered mail marked sent")
	if !getMail(t, store, m.ID).Sent() {
		t.Fatal("delivered mail not marked sent in the store")
	}
	// Once Run has returned nothing more can be sent: count then.
	stop()
	mu.Lock()
	defer mu.Unlock()
	for i := 1; i < len(attempts) && i <= 3; i++ {
		gap, want := attempts[i].Sub(attempts[i-1]), minBackoff<<(i-1)
		if gap < want {
			t.Errorf("attempt %d came %v after the previous one, want at least %v", i+1, gap, want)
		}
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("server received %d messages, want 1", n)
	}
}

// advancingOutbox moves the clock on after each claim, as if the sender
// had been slow between claiming a mail and sending it.
type advancingOutbox struct {
	domain.Outbox
	clock *fakeClock
	by    time.Duration
}

func (o advancingOutbox) ClaimMail(ctx context.Context, now time.Time, lease time.Duration) (domain.Mail, error) {
	m, err := o.Outbox.ClaimMail(ctx, now, lease)
	if err == nil {
		o.clock.Advance(o.by)
	}
	return m, err
}

func TestExpiredMailIsNeverSent(t *testing.T) {
	mustNotSend := transportFunc(func(ctx context.Context, m domain.Mail) error {
		t.Errorf("mail %d delivered after it expired", m.ID)
		return nil
	})
	t.Run("expired in the outbox", func(t *testing.T) {
		store := openSQLite(t)
		clock := newFakeClock(t0)
		m := enqueue(t, store, codeMail("jane.bloggs@nhs.net", t0.Add(-15*time.Minute)))
		s := newSender(t, SenderConfig{Outbox: store, Transport: mustNotSend, Clock: clock})
		if n, err := s.SendDue(t.Context()); n != 0 || err != nil {
			t.Fatalf("SendDue = %d, %v", n, err)
		}
		if got := getMail(t, store, m.ID); got.Sent() || got.Attempts != 0 {
			t.Fatalf("expired mail touched: %+v", got)
		}
	})
	t.Run("expires between claim and send", func(t *testing.T) {
		store := openSQLite(t)
		clock := newFakeClock(t0)
		m := enqueue(t, store, codeMail("jane.bloggs@nhs.net", t0.Add(-14*time.Minute)))
		s := newSender(t, SenderConfig{Outbox: advancingOutbox{store, clock, 2 * time.Minute}, Transport: mustNotSend, Clock: clock})
		if n, err := s.SendDue(t.Context()); n != 0 || err != nil {
			t.Fatalf("SendDue = %d, %v", n, err)
		}
		got := getMail(t, store, m.ID)
		if got.Sent() || !got.NextAttemptAt.IsZero() || got.LastError != "expired before delivery" {
			t.Fatalf("mail %+v, want given up as expired", got)
		}
	})
	t.Run("delivery may not outlast the code", func(t *testing.T) {
		store := openSQLite(t)
		clock := newFakeClock(t0)
		m := enqueue(t, store, codeMail("jane.bloggs@nhs.net", t0.Add(-14*time.Minute))) // a minute left
		var left time.Duration
		tr := transportFunc(func(ctx context.Context, _ domain.Mail) error {
			dl, _ := ctx.Deadline()
			left = time.Until(dl)
			return errors.New("421 busy")
		})
		s := newSender(t, SenderConfig{Outbox: store, Transport: tr, Clock: clock, MinBackoff: 2 * time.Minute,
			MaxBackoff: 4 * time.Minute, Lease: 3 * time.Minute, Timeout: 2 * time.Minute, Rand: half})
		if _, err := s.SendDue(t.Context()); err != nil {
			t.Fatal(err)
		}
		if left > time.Minute || left < 50*time.Second {
			t.Errorf("delivery given %v, want the minute the code has left", left)
		}
		// The next attempt (in 2 minutes) would come after expiry: given up.
		got := getMail(t, store, m.ID)
		if got.Attempts != 1 || !got.NextAttemptAt.IsZero() || got.LastError != "expires before the next attempt: 421 busy" {
			t.Fatalf("mail %+v, want given up", got)
		}
	})
}

func TestGivesUp(t *testing.T) {
	for _, tc := range []struct {
		name     string
		err      error
		attempts int
		reason   string
	}{
		{"after max attempts", errors.New("dial tcp: connection refused"), 3, "gave up after 3 attempts: dial tcp: connection refused"},
		{"permanent at once", Permanent(errors.New("550 no such user")), 1, "permanent failure: 550 no such user"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := openSQLite(t)
			clock := newFakeClock(t0)
			var calls int
			tr := transportFunc(func(context.Context, domain.Mail) error {
				calls++
				return tc.err
			})
			var logs logBuffer
			s := newSender(t, SenderConfig{Outbox: store, Transport: tr, Clock: clock, MaxAttempts: 3, Logger: newLogger(&logs)})
			// A notification without expiry: only the attempt limit stops it.
			m := enqueue(t, store, domain.Mail{To: "jane.bloggs@nhs.net", Subject: "Unlocked", CreatedAt: t0})
			for range 10 {
				if _, err := s.SendDue(t.Context()); err != nil {
					t.Fatal(err)
				}
				clock.Advance(DefaultMaxBackoff * 2)
			}
			if calls != tc.attempts {
				t.Errorf("%d deliveries tried, want %d", calls, tc.attempts)
			}
			got := getMail(t, store, m.ID)
			if got.Attempts != tc.attempts || got.LastError != tc.reason || !got.NextAttemptAt.IsZero() || got.Sent() {
				t.Errorf("mail %+v, want %d attempts and %q", got, tc.attempts, tc.reason)
			}
			if !strings.Contains(logs.String(), "giving up") {
				t.Errorf("give-up not logged:\n%s", logs.String())
			}
		})
	}
}

// TestRetrySchedule: each failure sets the next attempt by the backoff.
func TestRetrySchedule(t *testing.T) {
	store := openSQLite(t)
	clock := newFakeClock(t0)
	tr := transportFunc(func(context.Context, domain.Mail) error { return errors.New("451 try later") })
	s := newSender(t, SenderConfig{Outbox: store, Transport: tr, Clock: clock, Rand: half})
	m := enqueue(t, store, domain.Mail{To: "jane.bloggs@nhs.net", Subject: "Unlocked", CreatedAt: t0})
	for i, wait := range []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second} {
		if _, err := s.SendDue(t.Context()); err != nil {
			t.Fatal(err)
		}
		got := getMail(t, store, m.ID)
		if got.Attempts != i+1 || got.NextAttemptAt != clock.Now().Add(wait) || got.LastError != "451 try later" {
			t.Fatalf("after attempt %d: %+v, want next in %v", i+1, got, wait)
		}
		// Not due a moment before.
		clock.Advance(wait - time.Microsecond)
		if _, err := s.SendDue(t.Context()); err != nil {
			t.Fatal(err)
		}
		if getMail(t, store, m.ID).Attempts != i+1 {
			t.Fatal("retried before the backoff ended")
		}
		clock.Advance(time.Microsecond)
	}
}

// TestShutdownDuringDelivery: stopping Run mid-delivery records the
// attempt and leaves the mail due at once for the next sender.
func TestShutdownDuringDelivery(t *testing.T) {
	store := openSQLite(t)
	started := make(chan struct{})
	tr := transportFunc(func(ctx context.Context, _ domain.Mail) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	})
	s := newSender(t, SenderConfig{Outbox: store, Transport: tr})
	stop := run(t, s)
	m := enqueue(t, store, codeMail("jane.bloggs@nhs.net", time.Now()))
	s.Notify()
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("delivery did not start")
	}
	stop()
	got := getMail(t, store, m.ID)
	if got.Sent() || got.Attempts != 1 || !strings.HasPrefix(got.LastError, "interrupted") ||
		got.NextAttemptAt.After(time.Now()) {
		t.Fatalf("mail after shutdown: %+v", got)
	}
}

// flakyOutbox fails the first claims, like a database that is restarting.
type flakyOutbox struct {
	domain.Outbox
	fails *atomic.Int32
}

func (o flakyOutbox) ClaimMail(ctx context.Context, now time.Time, lease time.Duration) (domain.Mail, error) {
	if o.fails.Add(-1) >= 0 {
		return domain.Mail{}, errors.New("connection reset by peer")
	}
	return o.Outbox.ClaimMail(ctx, now, lease)
}

func TestRunSurvivesOutboxErrors(t *testing.T) {
	store := openSQLite(t)
	box := newMailbox(t)
	ch, cancel := box.Subscribe()
	defer cancel()
	var fails atomic.Int32
	fails.Store(2)
	var logs logBuffer
	s := newSender(t, SenderConfig{Outbox: flakyOutbox{store, &fails}, Transport: box, Logger: newLogger(&logs),
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 40 * time.Millisecond, PollInterval: time.Hour})
	enqueue(t, store, codeMail("jane.bloggs@nhs.net", time.Now()))
	run(t, s)
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("not delivered after the outbox recovered")
	}
	if !strings.Contains(logs.String(), "connection reset by peer") {
		t.Errorf("outbox error not logged:\n%s", logs.String())
	}
}

// TestTwoSendersDeliverOnce: two kiosks, each with its own connection to
// one store and its own sender, deliver every mail exactly once.
func TestTwoSendersDeliverOnce(t *testing.T) {
	for _, db := range testStores {
		t.Run(db.name, func(t *testing.T) {
			open := db.open(t)
			stores := []domain.Store{open(t), open(t)}
			srv := smtptest.Start(t, "127.0.0.1:0", smtptest.Options{})
			const mails = 30
			var (
				senders []*Sender
				stops   []func()
			)
			for i, store := range stores {
				tr, err := NewSMTP(SMTPConfig{URL: "smtp://127.0.0.1:" + srv.Port() + "?starttls=none", HELO: fmt.Sprintf("kiosk-%d", i)})
				if err != nil {
					t.Fatal(err)
				}
				s := newSender(t, SenderConfig{Outbox: store, Transport: tr, PollInterval: 20 * time.Millisecond})
				senders = append(senders, s)
			}
			// Enqueued from both kiosks while both senders run.
			for _, s := range senders {
				stops = append(stops, run(t, s))
			}
			for i := range mails {
				enqueue(t, stores[i%2], codeMail(fmt.Sprintf("user%02d@nhs.net", i), time.Now()))
				senders[i%2].Notify()
			}
			srv.WaitMessages(t, mails, 20*time.Second)
			// A duplicate could only come from a sender still running:
			// stop both (Run returns once its delivery is done), then count.
			for _, stop := range stops {
				stop()
			}
			got := srv.Messages()
			seen := map[string]int{}
			for _, r := range got {
				seen[r.Header.Get("Message-Id")]++
			}
			if len(got) != mails || len(seen) != mails {
				t.Fatalf("server received %d messages with %d distinct ids, want %d of each", len(got), len(seen), mails)
			}
			all, err := stores[0].ListMail(t.Context(), 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range all {
				if !m.Sent() || m.Attempts != 0 {
					t.Errorf("mail %d: sent %v after %d failures", m.ID, m.SentAt, m.Attempts)
				}
			}
		})
	}
}

// TestSealedMail: a code mail waits in the outbox sealed; the sender opens
// it right before delivery, and gives it up, never sending it sealed,
// when it has no key or another key.
func TestSealedMail(t *testing.T) {
	keys, err := secret.NewKeys([]byte("mail test key-encryption key 32B"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := secret.NewKeys([]byte("another key-encryption key, 32B."))
	if err != nil {
		t.Fatal(err)
	}
	plain := codeMail("jane.bloggs@nhs.net", t0)
	sealed, err := keys.SealMail(plain)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		opener domain.MailOpener
		sent   bool
		reason string
	}{
		{"opened with the key", keys, true, ""},
		{"no key", nil, false, "no key"},
		{"another key", other, false, "another key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := openSQLite(t)
			box := newMailbox(t)
			s := newSender(t, SenderConfig{Outbox: store, Transport: box, Opener: tc.opener, Clock: newFakeClock(t0)})
			m := enqueue(t, store, sealed)
			if _, err := s.SendDue(t.Context()); err != nil {
				t.Fatal(err)
			}
			got := getMail(t, store, m.ID)
			if tc.sent {
				msgs := box.Messages()
				if len(msgs) != 1 || msgs[0].Body != plain.Body || !got.Sent() {
					t.Fatalf("delivered %+v, stored %+v; want the opened body, sent", msgs, got)
				}
				return
			}
			if len(box.Messages()) != 0 || !got.GaveUp() || !strings.Contains(got.LastError, tc.reason) {
				t.Fatalf("delivered %d, stored %+v; want given up (%s)", len(box.Messages()), got, tc.reason)
			}
		})
	}
}

package mail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"regexp"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/smartcard-service-centre/kiosk/domain"
)

// Sender defaults.
const (
	DefaultTimeout      = 30 * time.Second
	DefaultLease        = 2 * time.Minute
	DefaultMinBackoff   = 5 * time.Second
	DefaultMaxBackoff   = 10 * time.Minute
	DefaultMaxAttempts  = 12
	DefaultPollInterval = 30 * time.Second
)

// jitter spreads retries by ±20% so that kiosks that failed together do
// not retry in lockstep.
const jitter = 0.2

// maxReason caps the error text stored with a failed mail.
const maxReason = 1000

// storeTimeout bounds the bookkeeping after a delivery, which runs even
// when Run's context has ended so that a delivered mail is recorded.
const storeTimeout = 10 * time.Second

// SenderConfig configures a Sender. Zero durations and counts take the
// defaults above.
type SenderConfig struct {
	// Outbox is where mail waits: the store (a domain.Store will do).
	Outbox domain.Outbox
	// Transport delivers a mail.
	Transport Transport
	// Opener opens the sealed bodies of mails that carry codes, right
	// before delivery (the key-encryption key's keys). A sealed mail this
	// sender cannot open is given up, never sent sealed.
	Opener domain.MailOpener
	// Logger receives one record per delivery, failure and give-up; mail
	// bodies (which carry codes) and full addresses are never logged.
	// Nil discards.
	Logger *slog.Logger
	// Clock tells the time for claims, expiry checks and retry times; nil
	// is the system clock. Waiting uses real timers, for the difference
	// between now and the next retry.
	Clock domain.Clock
	// Timeout bounds one delivery. A mail that expires sooner is given
	// only until its NotAfter.
	Timeout time.Duration
	// Lease is how long a claimed mail is reserved for this sender; it
	// must exceed Timeout so that no other sender takes over a delivery
	// still in progress.
	Lease time.Duration
	// After the n-th failed attempt the mail is retried after
	// MinBackoff·2^(n-1), at most MaxBackoff, ±20% jitter.
	MinBackoff, MaxBackoff time.Duration
	// MaxAttempts is how many failed attempts make the sender give up.
	MaxAttempts int
	// PollInterval is how often Run looks for mail nobody told it about
	// (enqueued by another process, or left by a sender that died).
	PollInterval time.Duration
	// Rand returns a number in [0, 1) for the jitter; nil uses math/rand.
	Rand func() float64
	// Audit, if set, records each mail delivered or given up (an expired
	// code among them) in the audit trail, naming the mail, its subject
	// and the masked address: never the body or the full address.
	Audit domain.AuditLog
	// Terminal names this kiosk in the audit trail.
	Terminal string
}

// Sender delivers the outbox's mail. Run it in one goroutine; several
// senders (in one process or on several kiosks) may share a store, as a
// claim gives each mail to one of them.
type Sender struct {
	cfg  SenderConfig
	log  *slog.Logger
	wake chan struct{}

	mu sync.Mutex // one drain at a time
	// retries are the times this sender scheduled retries for, so Run
	// wakes for them instead of waiting for the next poll.
	retries []time.Time
}

// NewSender checks cfg and applies its defaults.
func NewSender(cfg SenderConfig) (*Sender, error) {
	if cfg.Outbox == nil {
		return nil, errors.New("mail sender: no outbox")
	}
	if cfg.Transport == nil {
		return nil, errors.New("mail sender: no transport")
	}
	if cfg.Clock == nil {
		cfg.Clock = domain.SystemClock{}
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	setDefault(&cfg.Timeout, DefaultTimeout)
	setDefault(&cfg.Lease, DefaultLease)
	setDefault(&cfg.MinBackoff, DefaultMinBackoff)
	setDefault(&cfg.MaxBackoff, DefaultMaxBackoff)
	setDefault(&cfg.MaxAttempts, DefaultMaxAttempts)
	setDefault(&cfg.PollInterval, DefaultPollInterval)
	switch {
	case cfg.Timeout < 0 || cfg.Lease < 0 || cfg.MinBackoff < 0 || cfg.MaxBackoff < 0 || cfg.MaxAttempts < 0 || cfg.PollInterval < 0:
		return nil, errors.New("mail sender: durations and attempts must not be negative")
	case cfg.Lease <= cfg.Timeout:
		return nil, fmt.Errorf("mail sender: lease %v must exceed the delivery timeout %v", cfg.Lease, cfg.Timeout)
	case cfg.MaxBackoff < cfg.MinBackoff:
		return nil, fmt.Errorf("mail sender: maximum backoff %v is below the minimum %v", cfg.MaxBackoff, cfg.MinBackoff)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Sender{cfg: cfg, log: log, wake: make(chan struct{}, 1)}, nil
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}

// Notify tells Run that mail was enqueued, so it goes out at once rather
// than at the next poll. It never blocks; calls while Run is busy collapse
// into one more pass.
func (s *Sender) Notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run delivers mail until ctx ends, then returns nil. It sends what is due,
// then sleeps until Notify, the earliest retry it scheduled, or the poll
// interval, whichever comes first. Store and transport errors are logged
// and retried, never returned.
func (s *Sender) Run(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		wait := s.cfg.PollInterval
		if _, err := s.SendDue(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.log.Error("mail outbox unavailable", "error", err, "retry_in", s.cfg.MinBackoff)
			wait = s.cfg.MinBackoff
		}
		if next, ok := s.nextRetry(); ok {
			wait = max(0, min(wait, next.Sub(s.cfg.Clock.Now())))
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
			timer.Stop()
		case <-timer.C:
		}
	}
}

// nextRetry is the earliest scheduled retry.
func (s *Sender) nextRetry() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.retries) == 0 {
		return time.Time{}, false
	}
	return slices.MinFunc(s.retries, time.Time.Compare), true
}

// SendDue delivers every mail that is due now, one at a time, and reports
// how many were delivered. It returns early only when the outbox fails or
// ctx ends; a failed delivery is recorded and the next mail tried. (Run
// calls it; tests and one-shot commands may call it directly.)
func (s *Sender) SendDue(ctx context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Retries due by now are about to be claimed: forget them.
	start := s.cfg.Clock.Now()
	s.retries = slices.DeleteFunc(s.retries, func(t time.Time) bool { return !t.After(start) })
	sent := 0
	for ctx.Err() == nil {
		// Expired mail is reported before the claim (at the same time)
		// would give it up unseen.
		now := s.cfg.Clock.Now()
		if err := s.expire(ctx, now); err != nil {
			return sent, err
		}
		m, err := s.cfg.Outbox.ClaimMail(ctx, now, s.cfg.Lease)
		if errors.Is(err, domain.ErrNotFound) {
			return sent, nil
		}
		if err != nil {
			return sent, fmt.Errorf("claim mail: %w", err)
		}
		ok, err := s.deliver(ctx, m)
		if ok {
			sent++
		}
		if err != nil {
			return sent, err
		}
	}
	return sent, ctx.Err()
}

// expire gives up the mail whose code expired before anyone could
// deliver it (senders down, outbox unreachable), each with a warning and
// an audit row: the holder waited for a code that never came.
func (s *Sender) expire(ctx context.Context, now time.Time) error {
	gone, err := s.cfg.Outbox.ExpireMail(ctx, now)
	if err != nil {
		return fmt.Errorf("expire mail: %w", err)
	}
	for _, m := range gone {
		s.log.Warn("mail expired before delivery; not sent", "mail_id", m.ID, "to", domain.MaskEmail(m.To),
			"attempts", m.Attempts, "not_after", m.NotAfter)
		s.audit(ctx, m, m.LastError)
	}
	return nil
}

// audit records what became of m: delivered when reason is "", else
// given up for reason. A failure to record is logged, never returned: the
// delivery itself stands.
func (s *Sender) audit(ctx context.Context, m domain.Mail, reason string) {
	if s.cfg.Audit == nil {
		return
	}
	e := domain.AuditEvent{
		At: s.cfg.Clock.Now(), Action: domain.AuditMailDelivery, Outcome: domain.OutcomeSuccess,
		Terminal: s.cfg.Terminal,
		Detail:   fmt.Sprintf("mail %d %q to %s", m.ID, domain.CleanText(m.Subject), domain.MaskEmail(m.To)),
	}
	if reason != "" {
		e.Outcome, e.Detail = domain.OutcomeFailure, e.Detail+": "+reason
	}
	// Written even while the sender shuts down, but not for long.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	if _, err := s.cfg.Audit.AppendAudit(actx, e); err != nil {
		s.log.Error("audit mail delivery", "mail_id", m.ID, "error", err)
	}
}

// redact replaces the recipient's address in a relay's error text with
// its masked form: the text goes to the log, the audit trail and the
// outbox, and relays quote addresses ("550 <jane@nhs.net>: no such user").
func redact(text, addr string) string {
	if addr == "" {
		return text
	}
	return regexp.MustCompile(`(?i)`+regexp.QuoteMeta(addr)).ReplaceAllLiteralString(text, domain.MaskEmail(addr))
}

// deliver sends one claimed mail and records the outcome; the error is
// the store's, when recording failed.
func (s *Sender) deliver(ctx context.Context, m domain.Mail) (bool, error) {
	log := s.log.With("mail_id", m.ID, "to", domain.MaskEmail(m.To), "attempt", m.Attempts+1)
	// Bookkeeping must survive a shutdown that interrupts the delivery.
	storeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()

	// The claim excluded expired mail, but time passed since: check again
	// right before sending, so a code is never sent after it expired.
	now := s.cfg.Clock.Now()
	if m.Expired(now) {
		log.Warn("mail expired before delivery; not sent", "not_after", m.NotAfter)
		return false, s.giveUp(storeCtx, m, "expired before delivery")
	}
	if m.BodySealed {
		if s.cfg.Opener == nil {
			log.Error("sealed mail and no key to open it; giving up")
			return false, s.giveUp(storeCtx, m, "sealed, and this sender has no key to open it")
		}
		opened, err := s.cfg.Opener.OpenMail(m)
		if err != nil {
			log.Error("sealed mail cannot be opened with this kiosk's key; giving up", "error", err)
			return false, s.giveUp(storeCtx, m, "sealed with another key")
		}
		m = opened
	}
	timeout := s.cfg.Timeout
	if !m.NotAfter.IsZero() {
		timeout = min(timeout, m.NotAfter.Sub(now))
	}
	dctx, dcancel := context.WithTimeout(ctx, timeout)
	err := s.cfg.Transport.Deliver(dctx, m)
	dcancel()
	now = s.cfg.Clock.Now()
	if err == nil {
		if err := s.cfg.Outbox.MarkMailSent(storeCtx, m.ID, now); err != nil {
			log.Error("mail delivered but not recorded as sent; it may be sent again", "error", err)
			return true, fmt.Errorf("mark mail %d sent: %w", m.ID, err)
		}
		log.Info("mail delivered")
		s.audit(storeCtx, m, "")
		return true, nil
	}

	reason := truncate(redact(err.Error(), m.To), maxReason)
	attempts := m.Attempts + 1
	switch {
	case ctx.Err() != nil:
		// Shutting down: make it due again at once for the next sender.
		log.Warn("mail delivery interrupted", "error", reason)
		return false, s.markFailed(storeCtx, m, "interrupted: "+reason, now)
	case IsPermanent(err):
		log.Error("mail rejected; giving up", "error", reason)
		return false, s.giveUp(storeCtx, m, "permanent failure: "+reason)
	case attempts >= s.cfg.MaxAttempts:
		log.Error("mail delivery failed; giving up", "error", reason, "attempts", attempts)
		return false, s.giveUp(storeCtx, m, fmt.Sprintf("gave up after %d attempts: %s", attempts, reason))
	}
	next := now.Add(s.Backoff(attempts))
	if !m.NotAfter.IsZero() && !next.Before(m.NotAfter) {
		log.Error("mail delivery failed and the mail expires before the next attempt; giving up", "error", reason)
		return false, s.giveUp(storeCtx, m, "expires before the next attempt: "+reason)
	}
	log.Warn("mail delivery failed; will retry", "error", reason, "next_attempt", next)
	if err := s.markFailed(storeCtx, m, reason, next); err != nil {
		return false, err
	}
	s.retries = append(s.retries, next)
	return false, nil
}

// giveUp records the last failure with no next attempt: the outbox never
// offers the mail again. It is audited once the outbox has it.
func (s *Sender) giveUp(ctx context.Context, m domain.Mail, reason string) error {
	if err := s.markFailed(ctx, m, reason, time.Time{}); err != nil {
		return err
	}
	s.audit(ctx, m, reason)
	return nil
}

func (s *Sender) markFailed(ctx context.Context, m domain.Mail, reason string, next time.Time) error {
	if err := s.cfg.Outbox.MarkMailFailed(ctx, m.ID, reason, next); err != nil {
		return fmt.Errorf("mark mail %d failed: %w", m.ID, err)
	}
	return nil
}

// Backoff is the wait after the n-th failed attempt (n ≥ 1).
func (s *Sender) Backoff(n int) time.Duration {
	d := s.cfg.MinBackoff
	// Doubling stops at the cap, so it cannot overflow for large n.
	for i := 1; i < n && d < s.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.cfg.MaxBackoff)
	spread := (s.cfg.Rand()*2 - 1) * jitter
	return d + time.Duration(float64(d)*spread)
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

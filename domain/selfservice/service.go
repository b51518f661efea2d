// Package selfservice holds the card holder's workflows at the walk-up
// kiosk (seed 004): Smartcard Unlock, registration for it, change passcode
// and certificate renewal. Every rule is enforced here; screens only show
// the outcome. Each card insertion gets a Session, an explicit state
// machine: a method called out of turn fails with ErrOutOfTurn.
package selfservice

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/cardwrite"
	"github.com/smartcard-service-centre/kiosk/domain/secret"
)

// MaxFailedAttempts is how many wrong sets of answers lock a user out of
// self-service (seed 004: "after 3 failed attempts").
const MaxFailedAttempts = 3

// ErrOutOfTurn means a step was attempted before the steps it depends on,
// or after the session ended; the screen should start again.
var ErrOutOfTurn = errors.New("this step is not available now; please start again")

// ErrTooManyCodes means the user has had as many codes as the code
// policy allows for now (*CodeLimitError says until when).
var ErrTooManyCodes = errors.New("too many codes requested; please try again later")

// CodeLimitError refuses a new code: the user has had Max codes of the
// purpose within Window (counted from the store, so over every visit and
// kiosk). It matches ErrTooManyCodes, and Code too when set.
type CodeLimitError struct {
	Max     int
	Window  time.Duration
	RetryAt time.Time // when a code can be sent again
	// LiveUntil is when the latest code sent, which still works, expires;
	// zero when no code works, and then an unlock session has ended.
	LiveUntil time.Time
	// Code is why the code just entered no longer works, if one was.
	Code error
}

func (e *CodeLimitError) Error() string {
	s := fmt.Sprintf("%v: %d codes in %v; the next can be sent from %s", ErrTooManyCodes, e.Max, e.Window, e.RetryAt.UTC().Format(time.RFC3339))
	if e.Code != nil {
		s = e.Code.Error() + "; " + s
	}
	return s
}

func (e *CodeLimitError) Unwrap() []error {
	if e.Code != nil {
		return []error{ErrTooManyCodes, e.Code}
	}
	return []error{ErrTooManyCodes}
}

// ErrSamePasscode means the new passcode equals the current one.
var ErrSamePasscode = errors.New("the new passcode must be different from the current one")

// AnswerError is a wrong set of answers with the attempts left before the
// user is locked out. It matches domain.ErrWrongAnswer.
type AnswerError struct{ AttemptsLeft int }

func (e *AnswerError) Error() string {
	return fmt.Sprintf("%v: %d attempts left", domain.ErrWrongAnswer, e.AttemptsLeft)
}
func (e *AnswerError) Unwrap() error { return domain.ErrWrongAnswer }

// CodeError is a wrong code with the tries left. It matches
// domain.ErrCodeInvalid.
type CodeError struct{ TriesLeft int }

func (e *CodeError) Error() string {
	return fmt.Sprintf("%v: %d tries left", domain.ErrCodeInvalid, e.TriesLeft)
}
func (e *CodeError) Unwrap() error { return domain.ErrCodeInvalid }

// Config wires the service to its ports and policies.
type Config struct {
	Store domain.Store
	Keys  *secret.Keys
	CA    domain.CertificateAuthority
	Clock domain.Clock
	Rand  io.Reader // nil: crypto/rand
	// Notify, if set, is called after mail was enqueued so a sender
	// delivers it at once.
	Notify func()
	Log    *slog.Logger

	Passcodes domain.PasscodePolicy
	Emails    domain.EmailPolicy
	Codes     domain.CodePolicy
	Renewal   domain.RenewalPolicy
	// Argon2 hashes new answers. MinArgon2 is the least a stored hash
	// may cost to be checked at all (so a database writer cannot plant
	// cheap ones); zero means Argon2. Raising Argon2 later, keep
	// MinArgon2 at the old value so answers hashed before still work.
	Argon2    secret.Argon2Params
	MinArgon2 secret.Argon2Params
	// Terminal names this kiosk in the audit log.
	Terminal string
	// Journal records card writes write-ahead; production gives it the
	// kiosk's spool. nil: one over Store without a spool (an outcome the
	// store cannot take is then lost, and said so: ErrNotRecorded).
	Journal *cardwrite.Journal
}

// Service runs the workflows; it is safe for concurrent use (one kiosk
// has one holder at a time, but tests and a server may share it).
type Service struct{ cfg Config }

// New returns a Service, filling unset policies with the defaults.
func New(cfg Config) *Service {
	if cfg.Clock == nil {
		cfg.Clock = domain.SystemClock{}
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Passcodes.MinLen == 0 {
		cfg.Passcodes = domain.DefaultPasscodePolicy()
	}
	if len(cfg.Emails.Domains) == 0 {
		cfg.Emails = domain.EmailPolicy{Domains: domain.DefaultApprovedDomains}
	}
	if cfg.Codes.Validity == 0 {
		cfg.Codes.Validity, cfg.Codes.MaxTries = domain.DefaultCodePolicy.Validity, domain.DefaultCodePolicy.MaxTries
	}
	if cfg.Codes.MaxSends == 0 {
		cfg.Codes.MaxSends, cfg.Codes.Window = domain.DefaultCodePolicy.MaxSends, domain.DefaultCodePolicy.Window
	}
	if cfg.Renewal.Validity == 0 {
		cfg.Renewal = domain.DefaultRenewalPolicy
	}
	if cfg.Argon2.Memory == 0 {
		cfg.Argon2 = secret.DefaultArgon2
	}
	if cfg.MinArgon2.Memory == 0 {
		cfg.MinArgon2 = cfg.Argon2
	}
	if cfg.Terminal == "" {
		cfg.Terminal = "kiosk"
	}
	if cfg.Journal == nil {
		cfg.Journal = cardwrite.New(cardwrite.Config{Store: cfg.Store, Clock: cfg.Clock, Rand: cfg.Rand,
			Log: cfg.Log, Notify: cfg.Notify, Terminal: cfg.Terminal})
	}
	return &Service{cfg: cfg}
}

// PasscodePolicy is the policy new passcodes are checked against, for
// screens that explain it and check as the holder types.
func (s *Service) PasscodePolicy() domain.PasscodePolicy { return s.cfg.Passcodes }

// EmailPolicy is the approved-domain policy, for screens that explain it.
func (s *Service) EmailPolicy() domain.EmailPolicy { return s.cfg.Emails }

// CodeValidity is how long emailed codes last.
func (s *Service) CodeValidity() time.Duration { return s.cfg.Codes.Validity }

// Ping reports whether the store answers now, so that the screens can say
// while it is away (and carry on once it is back) without a workflow call.
func (s *Service) Ping(ctx context.Context) error { return domain.PingStore(ctx, s.cfg.Store) }

func (s *Service) now() time.Time { return s.cfg.Clock.Now().UTC() }

// audit appends an audit event; a failure to audit is logged, and for
// successful card changes returned, since the log must be complete.
func (s *Service) audit(ctx context.Context, q domain.Queries, sess *Session, action domain.AuditAction, err error, detail string) error {
	e := domain.AuditEvent{
		At: s.now(), Action: action, ActorID: sess.user.ID, SubjectID: sess.user.ID, CardSerial: sess.card.Serial,
		Terminal: s.cfg.Terminal, Detail: detail,
	}.Result(err)
	if q == nil {
		q = s.cfg.Store
		// The record outlives the visit: a pulled card or a screen that
		// gave up waiting must not lose it.
		var cancel context.CancelFunc
		ctx, cancel = domain.RecordContext(ctx)
		defer cancel()
	}
	if _, aerr := q.AppendAudit(ctx, e); aerr != nil {
		s.cfg.Log.Error("audit", "action", action, "err", aerr)
		return fmt.Errorf("write audit log: %w", aerr)
	}
	return nil
}

// together runs step, a step's state change with its audit rows, in one
// transaction (q): one commit where each row was one. Audit rows go last,
// as they hold the audit chain's lock until the commit. If that
// transaction fails, step runs once more with q nil, each write on its
// own as before the fold, so that what can still be written is: a wrong
// answer is counted even when the audit log refuses its row, and right
// answers stand when their code cannot be stored. step sets what it
// reports afresh on each run; with q set it returns any failure to write
// (which undoes the transaction), with q nil it returns nil.
//
// Only a transaction known to be undone is run again: when its COMMIT
// got no answer (domain.ErrCommitUnknown) it may have been recorded, and
// a second run would count a wrong answer twice or send a second code.
// That error is returned, and the caller reports the store unavailable.
func (s *Service) together(ctx context.Context, what string, step func(q domain.Queries) error) error {
	err := s.cfg.Store.InTx(ctx, func(q domain.Queries) error { return step(q) })
	if err == nil {
		return nil
	}
	if errors.Is(err, domain.ErrCommitUnknown) {
		s.cfg.Log.Error("a step's records may or may not have been written; not writing them again", "step", what, "err", err)
		return fmt.Errorf("%s: %w", what, err)
	}
	s.cfg.Log.Warn("a step's records could not be written in one transaction; writing them one by one", "step", what, "err", err)
	_ = step(nil)
	return nil
}

// queries is q, the transaction a step runs in, or the store itself.
func (s *Service) queries(q domain.Queries) domain.Queries {
	if q == nil {
		return s.cfg.Store
	}
	return q
}

// stepAudit writes an audit row of a step run by together: in its
// transaction (q set) a row that cannot be written undoes the step; on
// its own (q nil) its failure is logged, as audit does.
func (s *Service) stepAudit(ctx context.Context, q domain.Queries, sess *Session, action domain.AuditAction, err error, detail string) error {
	aerr := s.audit(ctx, q, sess, action, err, detail)
	if q == nil {
		return nil
	}
	return aerr
}

// cardKeys opens the card's sealed PUK and management key; the caller
// clears them when done.
func (s *Service) cardKeys(ctx context.Context, serial domain.CardSerial) (domain.CardKeys, error) {
	sealed, err := s.cfg.Store.GetCardSecrets(ctx, serial)
	if err != nil {
		return domain.CardKeys{}, fmt.Errorf("look up card secrets: %w", err)
	}
	return s.cfg.Keys.OpenCardKeys(sealed)
}

// readStatus reads back what the card says of its passcode after it
// accepted one (a sign-in or an unlock), rather than assume its counter.
// If the card cannot say (pulled just now, or the visit's context ended),
// the passcode it has just accepted is enough to know it is not blocked
// and its counter is full, as the card port's conformance suite checks.
// The caller holds sess.mu.
func (s *Service) readStatus(ctx context.Context, sess *Session, card domain.Card) {
	st, err := card.Status(ctx)
	if err == nil && st.Serial == sess.card.Serial {
		sess.status.Blocked, sess.status.PasscodeTriesLeft = st.Blocked, st.PasscodeTriesLeft
		return
	}
	if err == nil {
		err = fmt.Errorf("another card (%s) answered", st.Serial)
	}
	s.cfg.Log.Warn("read the card's status after it accepted the passcode", "serial", sess.card.Serial, "err", err)
	sess.status.Blocked, sess.status.PasscodeTriesLeft = false, domain.PasscodeTries
}

func (s *Service) notify() {
	if s.cfg.Notify != nil {
		s.cfg.Notify()
	}
}

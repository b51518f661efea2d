// Package operator holds the Registration Authority's workflows at the
// operator terminal (seeds 000–002): an operator logs in with their own
// card, passcode and a challenge signed by the card's PIV Authentication
// key, picks a session role, then manages a card holder's card: Unlock,
// Repair, assisted renewal, Cancel, clearing a self-service lock-out and
// viewing the audit trail.
//
// Every rule is enforced here on every call, not only by what the screens
// offer: the session role's activity codes, the card in the holder's
// reader being the one selected, no operator servicing their own card.
// Each log-in gets a Session, an explicit state machine (Step); a call out
// of turn fails with ErrOutOfTurn. Every action and refusal is audited
// with the operator, the session role, the card holder, the card and the
// terminal (not a typing slip the screen asks to correct: a new passcode
// the policy refuses, a cancellation without its reason). Card writes are
// recorded write-ahead (package cardwrite).
package operator

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

// DefaultIdleLock is how long a session may sit idle before it locks and
// asks for the operator's passcode again.
const DefaultIdleLock = 5 * time.Minute

// DefaultAuditPageSize is how many audit events one page shows.
const DefaultAuditPageSize = 20

// SearchLimit caps the users one search returns.
const SearchLimit = 50

// Session outcomes. The screens match them with errors.Is.
var (
	// ErrOutOfTurn: a step was attempted before the steps it depends on.
	ErrOutOfTurn = errors.New("this step is not available now")
	// ErrSessionLocked: the session locked after being idle (or was
	// locked); the operator's passcode resumes it.
	ErrSessionLocked = errors.New("the session is locked: enter your passcode to go on")
	// ErrSessionEnded: logged out, or the operator's card was removed.
	ErrSessionEnded = errors.New("the session has ended: insert your Smartcard to log in")
	// ErrUnknownRole: the position chosen is not one of the operator's.
	ErrUnknownRole = errors.New("that is not one of your roles")
	// ErrNoHolder: no card holder has been found or selected yet.
	ErrNoHolder = errors.New("no card holder selected: insert the card holder's Smartcard or search for them")
	// ErrNoHolderCard: the service needs the card holder's Smartcard in
	// the second reader (inserted and identified).
	ErrNoHolderCard = errors.New("insert the card holder's Smartcard into the second reader")
	// ErrNoCardSelected: the holder has no card selected (none is in
	// date); select one in the Smartcard Details table.
	ErrNoCardSelected = errors.New("select one of the card holder's Smartcards")
)

// NotPermittedText is seed 001's explanation of a service the session role
// does not allow, word for word, for the screens to show.
const NotPermittedText = "If the Repair Smartcard option is not available, you do not have permission to perform this operation or have logged on with the incorrect role profile."

// PermissionError is a service the session role does not allow; it
// matches domain.ErrNotPermitted. Screens show NotPermittedText.
type PermissionError struct {
	Service domain.Service
	Role    string // the session role, e.g. "Sponsor Access Role for A82647"
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("%v: %s is not allowed to %s", domain.ErrNotPermitted, e.Service, e.Role)
}
func (e *PermissionError) Unwrap() error { return domain.ErrNotPermitted }

// Config wires the service to its ports and policies.
type Config struct {
	Store domain.Store
	Keys  *secret.Keys
	CA    domain.CertificateAuthority
	Clock domain.Clock
	Rand  io.Reader // nil: crypto/rand
	Log   *slog.Logger

	Passcodes domain.PasscodePolicy
	Renewal   domain.RenewalPolicy
	// IdleLock: a session idle this long locks (0: DefaultIdleLock).
	IdleLock time.Duration
	// AuditPageSize: events per page of the audit trail (0: the default).
	AuditPageSize int
	// Terminal names this operator terminal in the audit log.
	Terminal string
	// Journal records card writes write-ahead; production gives it the
	// terminal's spool. nil: one over Store without a spool.
	Journal *cardwrite.Journal
}

// Service runs the operator's workflows; it is safe for concurrent use.
type Service struct{ cfg Config }

// New returns a Service, filling unset options with the defaults.
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
	if cfg.Renewal.Validity == 0 {
		cfg.Renewal = domain.DefaultRenewalPolicy
	}
	if cfg.IdleLock <= 0 {
		cfg.IdleLock = DefaultIdleLock
	}
	if cfg.AuditPageSize <= 0 {
		cfg.AuditPageSize = DefaultAuditPageSize
	}
	if cfg.Terminal == "" {
		cfg.Terminal = "operator"
	}
	if cfg.Journal == nil {
		cfg.Journal = cardwrite.New(cardwrite.Config{Store: cfg.Store, Clock: cfg.Clock, Rand: cfg.Rand,
			Log: cfg.Log, Terminal: cfg.Terminal})
	}
	return &Service{cfg: cfg}
}

// PasscodePolicy is the policy the card holder's new passcode is checked
// against, for screens that explain it and check as the holder types.
func (s *Service) PasscodePolicy() domain.PasscodePolicy { return s.cfg.Passcodes }

// Ping reports whether the store answers now, so that the screens can say
// while it is away (and carry on once it is back) without a workflow call.
func (s *Service) Ping(ctx context.Context) error { return domain.PingStore(ctx, s.cfg.Store) }

// IdleLock is how long a session may be idle before it locks, for the
// screens' timer; the session also locks itself on the next call.
func (s *Service) IdleLock() time.Duration { return s.cfg.IdleLock }

func (s *Service) now() time.Time { return s.cfg.Clock.Now().UTC() }

// audit appends e with err's outcome through q, or through the store
// with a context the visit cannot cancel when q is nil. A failure to
// audit is logged and returned.
func (s *Service) audit(ctx context.Context, q domain.Queries, e domain.AuditEvent, err error) error {
	e.At, e.Terminal = s.now(), s.cfg.Terminal
	e = e.Result(err)
	if q == nil {
		q = s.cfg.Store
		var cancel context.CancelFunc
		ctx, cancel = domain.RecordContext(ctx)
		defer cancel()
	}
	if _, aerr := q.AppendAudit(ctx, e); aerr != nil {
		s.cfg.Log.Error("audit", "action", e.Action, "err", aerr)
		return fmt.Errorf("write audit log: %w", aerr)
	}
	return nil
}

// cardKeys opens the card's recorded PUK and management key; the caller
// clears them when done.
func (s *Service) cardKeys(ctx context.Context, serial domain.CardSerial) (domain.CardKeys, error) {
	sealed, err := s.cfg.Store.GetCardSecrets(ctx, serial)
	if err != nil {
		return domain.CardKeys{}, fmt.Errorf("look up card secrets: %w", err)
	}
	return s.open(sealed)
}

func (s *Service) open(sealed domain.CardSecrets) (domain.CardKeys, error) {
	return s.cfg.Keys.OpenCardKeys(sealed)
}

func clearKeys(k domain.CardKeys) {
	clear(k.PUK)
	clear(k.MgmtKey)
}

package domain

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Clock tells the time; tests pass a fixed one.
type Clock interface{ Now() time.Time }

// SystemClock is the real clock, in UTC.
type SystemClock struct{}

func (SystemClock) Now() time.Time { return time.Now().UTC() }

// Store is the service's persistent state. Two implementations (PostgreSQL
// and the embedded SQLite store) pass one conformance suite.
type Store interface {
	Queries
	// InTx runs fn in one transaction: committed if fn returns nil, rolled
	// back otherwise. The Queries handed to fn must not escape it.
	InTx(ctx context.Context, fn func(q Queries) error) error
	// Ping reports whether the store can be reached.
	Ping(ctx context.Context) error
	Close() error
}

// PingStore is what a service's Ping reports: whether st answers now,
// so that the screens can say while it is away (and carry on once it is
// back) without a workflow call.
func PingStore(ctx context.Context, st Store) error {
	if st == nil {
		return errors.New("no store configured")
	}
	if err := st.Ping(ctx); err != nil {
		return fmt.Errorf("ping store: %w", err)
	}
	return nil
}

// Queries are the store's operations, composed of one small port per
// aggregate so that a decorator or a test double implements only what it
// changes. Missing rows give ErrNotFound; duplicate keys give ErrConflict.
type Queries interface {
	UserStore
	CardStore
	RegistrationStore
	CodeStore
	Outbox
	AuditLog
	CardWriteLog
}

// UserStore holds users and their positions (roles in organisations).
type UserStore interface {
	PutUser(ctx context.Context, u User) error // insert or update by ID
	GetUser(ctx context.Context, id UserID) (User, error)
	// SearchUsers finds up to limit users (a store default if limit ≤ 0)
	// by user ID or by name, each with its cards and registration, in
	// one query (a list of results costs no query per user):
	//   - a whole 12-digit ID (spaces or dashes allowed) finds that user;
	//   - fewer digits find the IDs that start with them, in ID order;
	//   - text of 3 characters or more finds the users whose "given
	//     family" name contains it, ignoring case (no accent folding),
	//     in name order (family, then given name);
	//   - shorter text finds the family names that start with it, in
	//     name order (too short to look for anywhere in a name).
	// The query is only ever matched as literal text.
	SearchUsers(ctx context.Context, query string, limit int) ([]UserMatch, error)
	// ListUsers returns up to limit users in name order (for listings),
	// shaped as SearchUsers' results.
	ListUsers(ctx context.Context, limit int) ([]UserMatch, error)
	AddPosition(ctx context.Context, p Position) (Position, error)
	ListPositions(ctx context.Context, id UserID) ([]Position, error)
	DeletePositions(ctx context.Context, id UserID) error
}

// UserMatch is one user a search or listing found, with what a list of
// results shows, read in the same query as the user.
type UserMatch struct {
	// User is the user's record without Photo, which only the one user's
	// details page draws.
	User User
	// Cards are the user's cards, oldest issue first (as ListSmartcards),
	// without their certificates: look a card up before trusting it.
	Cards []Smartcard
	// Registration is the user's self-service registration; nil if the
	// user has not registered.
	Registration *RegistrationStatus
}

// RegistrationStatus is what a search result tells of a registration:
// never the answers or the registered address.
type RegistrationStatus struct {
	RegisteredAt   time.Time
	FailedAttempts int
	LockedOutAt    time.Time
}

// LockedOut reports whether self-service is closed to the user.
func (r RegistrationStatus) LockedOut() bool { return !r.LockedOutAt.IsZero() }

// CardStore holds issued smartcards and their sealed secrets.
type CardStore interface {
	PutSmartcard(ctx context.Context, c Smartcard) error // insert or update by serial
	GetSmartcard(ctx context.Context, serial CardSerial) (Smartcard, error)
	ListSmartcards(ctx context.Context, id UserID) ([]Smartcard, error)
	PutCardSecrets(ctx context.Context, s CardSecrets) error
	GetCardSecrets(ctx context.Context, serial CardSerial) (CardSecrets, error)
	// KEKFingerprints lists the distinct fingerprints of the keys that
	// sealed the stored card secrets (at most a handful), so a kiosk with
	// the wrong key finds out at start-up, not at a card holder's last step.
	KEKFingerprints(ctx context.Context) ([]string, error)
	// RecordRenewal sets the new certificates and their expiry, counts
	// the renewal (or starts the count again, r.Operator) and clears
	// NeedsRepair; ErrCardCancelled if the card has been cancelled. It
	// does not adopt pending secrets (see AdoptPendingSecrets).
	RecordRenewal(ctx context.Context, serial CardSerial, r RenewalRecord) error
	// MarkNeedsRepair sets the card's NeedsRepair.
	MarkNeedsRepair(ctx context.Context, serial CardSerial) error
	// CancelSmartcard cancels an active card at at, for reason;
	// ErrCardCancelled if it was cancelled already (never undone or
	// overwritten).
	CancelSmartcard(ctx context.Context, serial CardSerial, at time.Time, reason string) error
}

// RegistrationStore holds self-service registrations, their failed
// attempts and question draws, and registrations awaiting their code.
type RegistrationStore interface {
	PutRegistration(ctx context.Context, r Registration) error // insert or replace
	GetRegistration(ctx context.Context, id UserID) (Registration, error)
	// RecordFailedAttempt adds one failed attempt atomically (two kiosks
	// cannot race it) and locks the user out at now once limit is reached.
	RecordFailedAttempt(ctx context.Context, id UserID, limit int, now time.Time) (Registration, error)
	// ResetFailedAttempts clears the count, the lock-out and the challenge
	// (an operator's action).
	ResetFailedAttempts(ctx context.Context, id UserID) error
	// DrawChallenge stores proposed as the user's unlock questions unless
	// some are stored already, and returns the stored ones: a draw stands
	// until it is answered (RecordFailedAttempt or PassChallenge clear it,
	// as does PutRegistration).
	DrawChallenge(ctx context.Context, id UserID, proposed []QuestionID) ([]QuestionID, error)
	// PassChallenge clears the count and the challenge after right
	// answers; ErrLockedOut if the user is locked out, even if only since
	// the answers were checked.
	PassChallenge(ctx context.Context, id UserID) error
	PutPendingRegistration(ctx context.Context, p PendingRegistration) error
	GetPendingRegistration(ctx context.Context, id UserID) (PendingRegistration, error)
	DeletePendingRegistration(ctx context.Context, id UserID) error
}

// CodeStore holds one-time codes (stored only as hashes).
type CodeStore interface {
	// CreateCode stores a new code and marks older unused codes of the same
	// user and purpose used at c.CreatedAt, so only the newest one works.
	CreateCode(ctx context.Context, c OneTimeCode) (OneTimeCode, error)
	// LatestCode returns the newest code of the user for the purpose.
	LatestCode(ctx context.Context, id UserID, purpose CodePurpose) (OneTimeCode, error)
	// CodesCreatedAfter returns the creation times, oldest first, of the
	// user's codes for the purpose created strictly after since, used or
	// not: what counts against CodePolicy.MaxSends.
	CodesCreatedAfter(ctx context.Context, id UserID, purpose CodePurpose, since time.Time) ([]time.Time, error)
	// RecordCodeFailure adds one wrong entry atomically and returns the code.
	RecordCodeFailure(ctx context.Context, codeID int64) (OneTimeCode, error)
	// UseCode marks the code used at now, once: a second use gives ErrCodeUsed.
	UseCode(ctx context.Context, codeID int64, now time.Time) error
}

// AuditLog is the append-only audit trail. The store chains each event
// to the one before with its AuditChain, under a lock, so that kiosks
// appending at once still make one chain.
type AuditLog interface {
	AppendAudit(ctx context.Context, e AuditEvent) (AuditEvent, error)
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditEvent, error)
	// WalkAudit calls fn with every event in chain order, oldest first.
	WalkAudit(ctx context.Context, fn func(AuditEvent) error) error
	// UnchainedThrough is the highest ID of the rows written before the
	// chain began, the only rows that may lack a MAC.
	UnchainedThrough(ctx context.Context) (int64, error)
}

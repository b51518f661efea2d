package domain

import (
	"context"
	"errors"
	"time"
)

// A card write changes two systems that fail apart, the card and the
// store, so it is recorded write-ahead (package domain/cardwrite): an
// intent is committed before the card is touched, and the outcome, its
// audit row and its emails are committed together once the card has
// answered. These are the records and the two ports that keep them.

// CardWriteOp names a kind of card write. Each is audited under the
// audit action of the same name.
type CardWriteOp string

const (
	CardWriteSelfUnlock      CardWriteOp = CardWriteOp(AuditSelfUnlock)
	CardWriteSelfRenew       CardWriteOp = CardWriteOp(AuditSelfRenew)
	CardWriteChangePasscode  CardWriteOp = CardWriteOp(AuditChangePasscode)
	CardWriteOperatorUnlock  CardWriteOp = CardWriteOp(AuditOperatorUnlock)
	CardWriteOperatorRepair  CardWriteOp = CardWriteOp(AuditOperatorRepair)
	CardWriteAssistedRenewal CardWriteOp = CardWriteOp(AuditAssistedRenewal)
)

// ChangesKeys reports whether the write replaces the card's keys, so that
// a write stopped part-way leaves a card the genuine-card check refuses.
func (op CardWriteOp) ChangesKeys() bool {
	return op == CardWriteSelfRenew || op == CardWriteAssistedRenewal || op == CardWriteOperatorRepair
}

// Action is the audit action the write's outcome is recorded under.
func (op CardWriteOp) Action() AuditAction { return AuditAction(op) }

// CardWriteIntent says that a card is about to be changed. It is in the
// store before the card is touched, so no change can be made that the
// service does not know may have been made; it is settled with the
// outcome once known.
type CardWriteIntent struct {
	// ID is chosen at random by the terminal, so that the outcome (and a
	// copy of it waiting on the terminal's disk) can name its intent.
	ID        string
	Op        CardWriteOp
	Serial    CardSerial
	SubjectID UserID // whose card
	ActorID   UserID // who asked: the card holder, or the operator
	Role      string // the operator's session role, if any
	Visit     string // the visit (card insertion) that made the write
	Terminal  string
	StartedAt time.Time

	// Zero until settled.
	SettledAt time.Time
	Outcome   AuditOutcome
	Detail    string
}

// Settled reports whether the intent's outcome is recorded.
func (w CardWriteIntent) Settled() bool { return !w.SettledAt.IsZero() }

// RenewalRecord is what a renewal or a repair changes in the card's
// record. It clears the card's NeedsRepair.
type RenewalRecord struct {
	CertExpiry   time.Time
	CardAuthCert []byte // DER; certificates are public
	PIVAuthCert  []byte
	// Operator: an operator renewed or repaired the card, so the count of
	// self-renewals starts again; else it goes up by one.
	Operator bool
	// Rekeyed: the card took the new PUK and management key committed
	// with the intent (a repair), which become the card's secrets.
	Rekeyed bool
}

// CardWriteOutcome is what a card write did, with everything the store
// takes with it in one transaction. It may wait in a file on the
// terminal, so it never holds a secret: no PUK, passcode, code or key,
// and no mail that carries a code.
type CardWriteOutcome struct {
	Intent  CardWriteIntent
	At      time.Time
	Outcome AuditOutcome
	Detail  string
	Audit   AuditEvent
	Mails   []Mail
	Renewal *RenewalRecord // a renewal's new record, if the card was renewed
	// NeedsRepair marks the card's record: the write stopped part-way and
	// may have left keys or secrets the record does not match.
	NeedsRepair bool
}

// CardWriteLog is the store's record of card-write intents (part of
// Queries). Settling is conditional, so an outcome is recorded once
// however many times it is replayed.
type CardWriteLog interface {
	// BeginCardWrite stores an open intent; ErrConflict if the ID is taken.
	BeginCardWrite(ctx context.Context, w CardWriteIntent) error
	// SettleCardWrite records the intent's outcome once: ErrConflict if
	// it is settled already, ErrNotFound if there is no such intent.
	SettleCardWrite(ctx context.Context, id string, outcome AuditOutcome, detail string, at time.Time) error
	GetCardWrite(ctx context.Context, id string) (CardWriteIntent, error)
	// OpenCardWrites lists the unsettled intents of one card, or of all
	// cards when serial is "", oldest first.
	OpenCardWrites(ctx context.Context, serial CardSerial) ([]CardWriteIntent, error)
	// PutPendingSecrets keeps the sealed secrets a write is about to give
	// its card (a repair), under the write's ID: committed with the
	// intent, so a card never holds secrets the store has not got.
	PutPendingSecrets(ctx context.Context, writeID string, s CardSecrets) error
	// PendingSecrets lists the pending secrets of a card, newest first:
	// those of writes that may have reached the card but were never
	// adopted.
	PendingSecrets(ctx context.Context, serial CardSerial) ([]CardSecrets, error)
	// AdoptPendingSecrets makes the write's pending secrets the card's
	// and forgets the card's other pending ones; ErrNotFound if the write
	// has none.
	AdoptPendingSecrets(ctx context.Context, writeID string) error
}

// OutcomeSpool keeps, on the terminal's own disk, outcomes the store could
// not take when they happened, until they are written to it. Its methods
// take no context: a local file write cannot be usefully abandoned
// half-way.
type OutcomeSpool interface {
	// Put keeps o durably: when it returns, o survives a crash. A second
	// Put for the same intent replaces the first.
	Put(o CardWriteOutcome) error
	// List returns the kept outcomes, oldest first.
	List() ([]CardWriteOutcome, error)
	// Remove forgets the outcome of the intent; one not kept is no error.
	Remove(intentID string) error
	// Reject sets the kept outcome of the intent aside for staff, with
	// why the store refused it: it is never listed or replayed again, and
	// never lost. Files List cannot read are set aside the same way.
	Reject(intentID, why string) error
}

// ErrSpoolDamaged is reported by an OutcomeSpool's List with the outcomes
// it could read, when it set aside files it could not.
var ErrSpoolDamaged = errors.New("damaged spool files were set aside")

// Outcomes of a card write whose card was changed but whose record is not
// (yet) in the store. Screens must say the card was changed.
var (
	// ErrRecordDelayed: the store could not be reached, so the record
	// waits on this terminal and is written as soon as the store answers,
	// before the next visit is served.
	ErrRecordDelayed = errors.New("the smartcard was changed, but the service could not record it yet")
	// ErrNotRecorded: neither the store nor the terminal's spool could
	// keep the record; staff must be told (it is logged as an error).
	ErrNotRecorded = errors.New("the smartcard was changed, but the service could not record it")
)

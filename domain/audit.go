package domain

import (
	"encoding/binary"
	"time"
)

// AuditAction names a transaction written to the append-only audit log.
type AuditAction string

const (
	AuditSelfUnlock        AuditAction = "self_unlock"
	AuditSelfRegister      AuditAction = "self_register"
	AuditChangePasscode    AuditAction = "change_passcode"
	AuditSelfRenew         AuditAction = "self_renew"
	AuditOperatorLogin     AuditAction = "operator_login"
	AuditOperatorRole      AuditAction = "operator_role"   // session role chosen or changed
	AuditOperatorLock      AuditAction = "operator_lock"   // session locked (idle) or resumed
	AuditOperatorLogout    AuditAction = "operator_logout" // Logout, or the operator's card pulled
	AuditUserSearch        AuditAction = "user_search"     // an operator searched for users
	AuditUserViewed        AuditAction = "user_viewed"     // an operator opened a user's details
	AuditOperatorUnlock    AuditAction = "operator_unlock"
	AuditOperatorRepair    AuditAction = "operator_repair"
	AuditAssistedRenewal   AuditAction = "assisted_renewal"
	AuditCardCancelled     AuditAction = "card_cancelled"
	AuditLockOutCleared    AuditAction = "lockout_cleared"
	AuditTrailViewed       AuditAction = "audit_viewed"
	AuditServiceRefused    AuditAction = "service_refused" // a service the session role does not allow
	AuditQuestionsAnswered AuditAction = "questions_answered"
	AuditCodeIssued        AuditAction = "code_issued"
	AuditCodeEntered       AuditAction = "code_entered"
	AuditCardIssued        AuditAction = "card_issued"
	AuditCardChecked       AuditAction = "card_checked"
	AuditSignIn            AuditAction = "sign_in"
	AuditUnlockStarted     AuditAction = "unlock_started"
	// AuditMailDelivery: the mail sender delivered an email (success) or
	// gave it up (failure: undeliverable, or its code expired first).
	AuditMailDelivery AuditAction = "mail_delivery"
)

// AuditOutcome is "success" or "failure".
type AuditOutcome string

const (
	OutcomeSuccess AuditOutcome = "success"
	OutcomeFailure AuditOutcome = "failure"
)

// AuditEvent is one line of the audit log. Every transaction, successful or
// not, is recorded; events are never updated or deleted.
type AuditEvent struct {
	ID         int64
	At         time.Time
	Action     AuditAction
	Outcome    AuditOutcome
	ActorID    UserID // who did it: the card holder or the operator
	SubjectID  UserID // whose card it concerned
	CardSerial CardSerial
	Role       string // operator's session role, if any
	Terminal   string // kiosk or operator terminal name
	Detail     string
	// MAC chains the event to the one before it (see AuditChain); set by
	// the store when the event is appended. Nil on events written before
	// the chain existed.
	MAC []byte
}

// ChainBytes is the event's content as the audit chain authenticates it:
// every field a reader relies on, each length-prefixed so no two events
// encode alike. The ID is left out: order is proved by the chain itself.
func (e AuditEvent) ChainBytes() []byte {
	var b []byte
	field := func(s string) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	b = append(b, "audit-v1"...)
	b = binary.BigEndian.AppendUint64(b, uint64(e.At.UTC().UnixMicro()))
	for _, s := range []string{string(e.Action), string(e.Outcome), string(e.ActorID), string(e.SubjectID),
		string(e.CardSerial), e.Role, e.Terminal, e.Detail} {
		field(s)
	}
	return b
}

// Result is e with the outcome of err: success when nil, else failure
// with err's text after e's own detail.
func (e AuditEvent) Result(err error) AuditEvent {
	e.Outcome = OutcomeSuccess
	if err != nil {
		e.Outcome = OutcomeFailure
		if e.Detail == "" {
			e.Detail = err.Error()
		} else {
			e.Detail += ": " + err.Error()
		}
	}
	return e
}

// AuditMACSize is the length of an audit row's MAC (HMAC-SHA-256).
const AuditMACSize = 32

// AuditChain computes an event's MAC from the previous event's MAC (nil
// for the first) under a key the database does not hold, so a database
// user can neither forge, change, insert nor delete a row unnoticed.
type AuditChain interface {
	AuditMAC(prev []byte, e AuditEvent) []byte
}

// AuditFilter narrows ListAudit; zero fields match everything.
type AuditFilter struct {
	SubjectID  UserID
	CardSerial CardSerial
	// SubjectOrCard matches events of SubjectID or of CardSerial (a card
	// holder's trail with their card's), instead of events of both; an
	// empty one of the two then matches nothing.
	SubjectOrCard bool
	Action        AuditAction
	// BeforeID keeps only events older than that one: the next page
	// starts after the last event of the one before (0: the newest).
	BeforeID int64
	Limit    int
}

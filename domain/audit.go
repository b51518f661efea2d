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
	AuditOperatorUnlock    AuditAction = "operator_unlock"
	AuditOperatorRepair    AuditAction = "operator_repair"
	AuditAssistedRenewal   AuditAction = "assisted_renewal"
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
	Action     AuditAction
	Limit      int
}

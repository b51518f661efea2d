package domain

import "time"

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
}

// AuditFilter narrows ListAudit; zero fields match everything.
type AuditFilter struct {
	SubjectID  UserID
	CardSerial CardSerial
	Action     AuditAction
	Limit      int
}

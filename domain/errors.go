package domain

import "errors"

// Outcomes a store reports; adapters translate driver errors into these.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("already exists or was changed meanwhile")
	// ErrStoreUnavailable: the store could not be reached or could not
	// answer now (connection lost, server shutting down, file busy); the
	// same request may work later, unlike one the store refused.
	ErrStoreUnavailable = errors.New("the database is not available")
	// ErrCommitUnknown: a transaction's COMMIT got no answer (the
	// connection went, or its deadline passed), so it may or may not have
	// been recorded. What it wrote must not be written again blindly. It
	// comes with ErrStoreUnavailable.
	ErrCommitUnknown = errors.New("the database may or may not have recorded this")
)

// Outcomes of the workflows. Screens match them with errors.Is to choose what
// to tell the person in front of the kiosk.
var (
	ErrUserNotFound       = errors.New("user not found")
	ErrCardNotFound       = errors.New("smartcard not known to the service")
	ErrCardCancelled      = errors.New("smartcard has been cancelled")
	ErrCardNotGenuine     = errors.New("smartcard could not be proved genuine")
	ErrCardBlocked        = errors.New("smartcard passcode is blocked")
	ErrCardNotBlocked     = errors.New("smartcard passcode is not blocked")
	ErrWrongPasscode      = errors.New("wrong passcode")
	ErrNotRegistered      = errors.New("not registered for the Smartcard Unlock Service")
	ErrAlreadyRegistered  = errors.New("already registered for the Smartcard Unlock Service")
	ErrWrongAnswer        = errors.New("security answers did not match")
	ErrLockedOut          = errors.New("locked out of self-service after too many failed attempts")
	ErrCodeInvalid        = errors.New("code is not correct")
	ErrCodeExpired        = errors.New("code has expired")
	ErrCodeUsed           = errors.New("code has already been used")
	ErrCodeTriesExhausted = errors.New("too many wrong codes")
	ErrPasscodePolicy     = errors.New("passcode does not meet the passcode policy")
	ErrEmailNotApproved   = errors.New("email address is not from an approved domain")
	ErrInvalidEmail       = errors.New("email address is not valid")
	ErrQuestions          = errors.New("security questions are not valid")
	ErrRenewalTooEarly    = errors.New("certificates are not yet due for renewal")
	ErrCertificateExpired = errors.New("certificates have expired")
	ErrNeedsOperator      = errors.New("this renewal needs a Registration Authority operator")
	// ErrCardNeedsRepair: the card may hold keys the service has no record
	// of (a renewal stopped part-way); only an operator's Repair fixes it,
	// and trying again at the kiosk must not be suggested.
	ErrCardNeedsRepair = errors.New("the smartcard needs repair by a Registration Authority")
	ErrNotPermitted    = errors.New("not permitted for this role")
	ErrOwnCard         = errors.New("operators cannot service their own smartcard")
	// ErrNotOperator: none of the user's positions carries an activity
	// that grants a smartcard service (B1300, B0263, B0267).
	ErrNotOperator = errors.New("no Registration Authority role: you cannot use the operator terminal")
	// ErrWrongCard: the card in the holder's reader is not the one the
	// operator selected (or not the selected user's).
	ErrWrongCard       = errors.New("this is not the smartcard selected")
	ErrRepairNotNeeded = errors.New("the smartcard does not need repair: its certificates are in date and it can still be renewed")
	ErrNotLockedOut    = errors.New("not locked out of self-service")
	ErrCancelReason    = errors.New("a reason is needed to cancel a smartcard")
)

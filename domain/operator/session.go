package operator

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/cardwrite"
)

// Step is where a session stands: Passcode → (ChooseRole →) Ready, with
// Locked in between while idle, and Ended for good.
type Step int

const (
	// StepPasscode: the operator's card is known; the passcode is next.
	StepPasscode Step = iota
	// StepChooseRole: logged in with several roles; one must be chosen.
	StepChooseRole
	// StepReady: logged in with a session role.
	StepReady
	// StepLocked: idle too long; the passcode resumes the session.
	StepLocked
	// StepEnded: logged out, refused, or the operator's card removed.
	StepEnded
)

// Role is one of an operator's positions, as a session role.
type Role struct {
	PositionID int64
	Name       string // e.g. "Sponsor Access Role"
	OrgCode    string
	OrgName    string
	// Services are those the role's activity codes allow, in menu order.
	Services []domain.Service
}

// String is the role as the header shows it (seed 000 Fig 10):
// "Clerical Access Role for A82647".
func (r Role) String() string {
	if r.Name == "" {
		return ""
	}
	return r.Name + " for " + r.OrgCode
}

// roleOf describes a position, its text cleaned for the terminal.
func roleOf(p domain.Position) Role {
	return Role{PositionID: p.ID, Name: domain.CleanText(p.RoleName), OrgCode: domain.CleanText(p.OrgCode),
		OrgName: domain.CleanText(p.OrgName), Services: p.Services()}
}

// Operator is what the screens show of the logged-in operator.
type Operator struct {
	Name   string
	UserID domain.UserID
	Serial domain.CardSerial
	Role   Role   // the session role; zero until chosen
	Roles  []Role // the positions that grant a service
}

// Session is one operator's log-in, from their card's insertion to its
// removal or Logout. Its methods are on Service and take its lock.
type Session struct {
	mu sync.Mutex
	// gone is set first thing when the session ends, so a call waiting
	// for mu behind a long card operation is refused once it gets it.
	gone     atomic.Bool
	step     Step
	lockedAt Step // the step Resume returns to
	id       string
	card     domain.Card // the operator's own card
	rec      domain.Smartcard
	op       domain.User
	roles    []domain.Position
	role     domain.Position
	active   time.Time // the last call, for the idle lock
	holder   *holder
}

// Step reports where the session stands.
func (sess *Session) Step() Step {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.gone.Load() {
		return StepEnded
	}
	return sess.step
}

// Operator describes the logged-in operator for the header.
func (s *Service) Operator(sess *Session) Operator {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	o := Operator{Name: domain.CleanText(sess.op.DisplayName()), UserID: sess.op.ID, Serial: sess.rec.Serial}
	if sess.role.ID != 0 {
		o.Role = roleOf(sess.role)
	}
	for _, p := range sess.roles {
		o.Roles = append(o.Roles, roleOf(p))
	}
	return o
}

// event is an audit row of this session: the operator acts, in their
// session role, on the card holder and card in hand (if any).
func (sess *Session) event(action domain.AuditAction, detail string) domain.AuditEvent {
	e := domain.AuditEvent{Action: action, ActorID: sess.op.ID, Detail: detail}
	if sess.role.ID != 0 {
		e.Role = roleOf(sess.role).String()
	}
	if h := sess.holder; h != nil {
		e.SubjectID, e.CardSerial = h.user.ID, h.selected
	}
	return e
}

// own is an audit row about the operator's own card (log-in, lock).
func (sess *Session) own(action domain.AuditAction, detail string) domain.AuditEvent {
	e := sess.event(action, detail)
	e.SubjectID, e.CardSerial = sess.op.ID, sess.rec.Serial
	return e
}

// Begin starts a session for the card in the operator's reader: it must
// be known to the service, active, in date, not blocked and its holder
// known. The passcode (LogIn) is next.
func (s *Service) Begin(ctx context.Context, card domain.Card) (*Session, error) {
	// Card changes this terminal could not record while the store was
	// away are recorded before anyone is served.
	if _, err := s.cfg.Journal.Replay(ctx); err != nil {
		return nil, fmt.Errorf("write the card changes this terminal kept while the service was away: %w", err)
	}
	st, err := card.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("read smartcard: %w", err)
	}
	sess := &Session{card: card, rec: domain.Smartcard{Serial: st.Serial}, step: StepPasscode}
	refuse := func(err error) (*Session, error) {
		s.audit(ctx, nil, sess.own(domain.AuditOperatorLogin, ""), err)
		return nil, err
	}
	rec, err := s.cfg.Store.GetSmartcard(ctx, st.Serial)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return refuse(fmt.Errorf("%w: %s", domain.ErrCardNotFound, st.Serial))
	case err != nil:
		return refuse(fmt.Errorf("look up smartcard: %w", err))
	}
	sess.rec, sess.op = rec, domain.User{ID: rec.UserID}
	switch {
	case !rec.Active():
		return refuse(&domain.CancelledError{Reason: domain.CleanText(rec.CancelReason)})
	case rec.NeedsRepair:
		return refuse(domain.ErrCardNeedsRepair)
	case rec.Expired(s.now()):
		return refuse(domain.ErrCertificateExpired)
	case st.Blocked:
		return refuse(domain.ErrCardBlocked)
	}
	u, err := s.cfg.Store.GetUser(ctx, rec.UserID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return refuse(fmt.Errorf("%w: card %s", domain.ErrUserNotFound, st.Serial))
	case err != nil:
		return refuse(fmt.Errorf("look up user: %w", err))
	}
	if sess.id, err = cardwrite.NewID(s.cfg.Rand); err != nil {
		return nil, err
	}
	sess.op = u
	return sess, nil
}

// LogIn checks the operator's passcode and proves the card is the one the
// service issued: the card signs a fresh random challenge with its PIV
// Authentication key (9A), which needs the passcode, and the signature is
// checked against the 9A certificate recorded for the card, so neither a
// copied serial nor another card can log in. Then the operator's
// positions decide: none that grants a service is refused
// (domain.ErrNotOperator); one becomes the session role (StepReady);
// several wait for ChooseRole (StepChooseRole).
//
// A wrong passcode is a *domain.PasscodeError with the tries left; the try
// that blocks the card, and any refusal, ends the session.
func (s *Service) LogIn(ctx context.Context, sess *Session, passcode string) error {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if err := sess.at(StepPasscode); err != nil {
		return err
	}
	if err := s.challenge(ctx, sess, passcode); err != nil {
		s.audit(ctx, nil, sess.own(domain.AuditOperatorLogin, ""), err)
		return s.failedPasscode(sess, err)
	}
	ps, err := s.cfg.Store.ListPositions(ctx, sess.op.ID)
	if err != nil {
		err = fmt.Errorf("look up positions: %w", err)
		s.audit(ctx, nil, sess.own(domain.AuditOperatorLogin, ""), err)
		return err
	}
	for _, p := range ps {
		if p.IsOperator() {
			sess.roles = append(sess.roles, p)
		}
	}
	switch len(sess.roles) {
	case 0:
		sess.end()
		s.audit(ctx, nil, sess.own(domain.AuditOperatorLogin, ""), domain.ErrNotOperator)
		return domain.ErrNotOperator
	case 1:
		sess.role, sess.step = sess.roles[0], StepReady
		s.audit(ctx, nil, sess.own(domain.AuditOperatorLogin, ""), nil)
	default:
		sess.step = StepChooseRole
		s.audit(ctx, nil, sess.own(domain.AuditOperatorLogin, fmt.Sprintf("%d roles to choose from", len(sess.roles))), nil)
	}
	sess.active = s.now()
	return nil
}

// challenge has the operator's card sign a fresh challenge with its 9A
// key behind the passcode, and checks the signature against the 9A
// certificate the service recorded for the card. The caller holds mu.
func (s *Service) challenge(ctx context.Context, sess *Session, passcode string) error {
	if len(sess.rec.PIVAuthCert) == 0 {
		return fmt.Errorf("%w: no PIV Authentication certificate recorded for card %s", domain.ErrCardNotGenuine, sess.rec.Serial)
	}
	cert, err := s.cfg.CA.Verify(sess.rec.PIVAuthCert, sess.rec.UserID, sess.rec.Serial, domain.KeyPIVAuth)
	if err != nil {
		return fmt.Errorf("%w: %w", domain.ErrCardNotGenuine, err)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return fmt.Errorf("%w: certificate key is not ECDSA", domain.ErrCardNotGenuine)
	}
	nonce := make([]byte, 32)
	if _, err := io.ReadFull(s.cfg.Rand, nonce); err != nil {
		return fmt.Errorf("draw challenge: %w", err)
	}
	digest := sha256.Sum256(nonce)
	sig, err := sess.card.SignWithPasscode(ctx, passcode, digest[:])
	if err != nil {
		return err
	}
	if !ecdsa.VerifyASN1(pub, digest[:], sig) {
		return fmt.Errorf("%w: the challenge was not signed by the certified PIV Authentication key", domain.ErrCardNotGenuine)
	}
	return nil
}

// failedPasscode decides what a failed challenge leaves: a wrong passcode
// with tries left keeps the step; a blocked card or any other refusal ends
// the session (the card pulled too: its removal ends it anyway). The
// caller holds mu.
func (s *Service) failedPasscode(sess *Session, err error) error {
	var pe *domain.PasscodeError
	if errors.As(err, &pe) && pe.TriesLeft > 0 && !errors.Is(err, domain.ErrCardBlocked) {
		return err
	}
	sess.end()
	if errors.Is(err, domain.ErrCardBlocked) || errors.As(err, &pe) {
		return domain.ErrCardBlocked
	}
	return err
}

// ChooseRole makes one of the operator's positions the session role, at
// log-in or later ("Change" in the header). A service is checked against
// the role in force when it is called.
func (s *Service) ChooseRole(ctx context.Context, sess *Session, positionID int64) error {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if err := s.guard(ctx, sess, StepChooseRole, StepReady); err != nil {
		return err
	}
	for _, p := range sess.roles {
		if p.ID == positionID {
			sess.role, sess.step = p, StepReady
			s.audit(ctx, nil, sess.own(domain.AuditOperatorRole, ""), nil)
			return nil
		}
	}
	s.audit(ctx, nil, sess.own(domain.AuditOperatorRole, fmt.Sprint("position ", positionID)), ErrUnknownRole)
	return ErrUnknownRole
}

// Lock locks the session (the screens' idle timer): the card holder in
// hand is put away and the passcode is asked again (Resume). A session
// also locks itself when called after IdleLock without a call.
func (s *Service) Lock(ctx context.Context, sess *Session) error {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if err := sess.live(); err != nil {
		return err
	}
	if err := sess.at(StepChooseRole, StepReady); err != nil {
		return err
	}
	s.lock(ctx, sess, "locked")
	return nil
}

// lock locks the session; the caller holds mu.
func (s *Service) lock(ctx context.Context, sess *Session, why string) {
	sess.lockedAt, sess.step, sess.holder = sess.step, StepLocked, nil
	s.audit(ctx, nil, sess.own(domain.AuditOperatorLock, why), nil)
}

// Resume unlocks a locked session with the operator's passcode, checked
// as at log-in (the 9A challenge): a wrong passcode leaves it locked with
// the tries left; the blocking try ends it.
func (s *Service) Resume(ctx context.Context, sess *Session, passcode string) error {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if err := sess.live(); err != nil {
		return err
	}
	if err := sess.at(StepLocked); err != nil {
		return err
	}
	if err := s.challenge(ctx, sess, passcode); err != nil {
		s.audit(ctx, nil, sess.own(domain.AuditOperatorLock, "resume"), err)
		return s.failedPasscode(sess, err)
	}
	sess.step, sess.active = sess.lockedAt, s.now()
	s.audit(ctx, nil, sess.own(domain.AuditOperatorLock, "resumed"), nil)
	return nil
}

// LogOut ends the session (Logout in the header).
func (s *Service) LogOut(ctx context.Context, sess *Session) {
	s.finish(ctx, sess, "logged out")
}

// OperatorCardRemoved ends the session at once: the screens call it when
// the operator's own card leaves its reader (seed 002: removing it logs
// you out). A card write under way on the holder's card finishes and is
// recorded first; nothing else is done after.
func (s *Service) OperatorCardRemoved(ctx context.Context, sess *Session) {
	s.finish(ctx, sess, "the operator's Smartcard was removed")
}

func (s *Service) finish(ctx context.Context, sess *Session, why string) {
	sess.gone.Store(true)
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.step == StepEnded {
		return
	}
	loggedIn := sess.step != StepPasscode
	sess.end()
	if loggedIn {
		s.audit(ctx, nil, sess.own(domain.AuditOperatorLogout, why), nil)
	}
}

// end wipes the session; the caller holds mu.
func (sess *Session) end() {
	sess.gone.Store(true)
	sess.step, sess.holder = StepEnded, nil
}

// live refuses a session that has ended; the caller holds mu.
func (sess *Session) live() error {
	if sess.gone.Load() || sess.step == StepEnded {
		sess.step, sess.holder = StepEnded, nil
		return ErrSessionEnded
	}
	return nil
}

// at checks the session is at one of the steps; the caller holds mu.
func (sess *Session) at(steps ...Step) error {
	if err := sess.live(); err != nil {
		return err
	}
	for _, st := range steps {
		if sess.step == st {
			return nil
		}
	}
	if sess.step == StepLocked {
		return ErrSessionLocked
	}
	return ErrOutOfTurn
}

// guard admits a call of a logged-in session at one of the steps: an
// ended session is refused, a locked one too, and one idle too long
// locks now. An admitted call counts as activity. The caller holds mu.
func (s *Service) guard(ctx context.Context, sess *Session, steps ...Step) error {
	if err := sess.live(); err != nil {
		return err
	}
	if sess.step != StepLocked && sess.step != StepPasscode && !s.now().Before(sess.active.Add(s.cfg.IdleLock)) {
		s.lock(ctx, sess, "locked after "+domain.Period(s.cfg.IdleLock)+" idle")
		return ErrSessionLocked
	}
	if err := sess.at(steps...); err != nil {
		return err
	}
	sess.active = s.now()
	return nil
}

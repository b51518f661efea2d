package selfservice

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
)

// Step is where a session stands. Unlock runs Identified → Questions →
// CodeSent → NewPasscode → Unlocked; My Profile runs Identified →
// SignedIn (→ RegistrationCodeSent → SignedIn).
type Step int

const (
	StepIdentified Step = iota
	StepQuestions
	StepCodeSent
	StepNewPasscode
	StepUnlocked
	StepSignedIn
	StepRegistrationCodeSent
	StepEnded
)

// Question is a security question put to the holder.
type Question struct {
	ID   domain.QuestionID
	Text string
}

// Holder is what the screens may show about the person whose card is in
// the reader: nothing secret, text already cleaned of control sequences.
type Holder struct {
	Name        string // e.g. "Mr Test Person"
	UserID      domain.UserID
	Serial      domain.CardSerial
	CertExpiry  time.Time
	Blocked     bool
	TriesLeft   int
	Registered  bool
	LockedOut   bool
	MaskedEmail string // registered address, masked; "" when not registered
	// RenewalDue is true inside the renewal window (or after expiry).
	RenewalDue bool
	// CertsExpired is true once the certificates have expired.
	CertsExpired bool
}

// Session is one card holder's visit, from card insertion to removal. It
// is not safe to share between goroutines without its own lock, which the
// methods take.
type Session struct {
	mu     sync.Mutex
	user   domain.User
	card   domain.Smartcard
	status domain.CardStatus
	reg    *domain.Registration
	step   Step
	visit  string // names the visit in its card-write intents; set at the first write

	questions   []Question
	codeMail    int64     // the outbox ID of the latest code's email
	grantExpiry time.Time // the unlock code was accepted; new passcode until then
	pending     string    // masked email of a registration awaiting its code
}

// Step reports where the session stands.
func (sess *Session) Step() Step {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	return sess.step
}

// End wipes what the session holds (card pulled, idle timeout).
func (sess *Session) End() {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	sess.step = StepEnded
	sess.questions = nil
	sess.grantExpiry = time.Time{}
	sess.pending = ""
}

// Abandon leaves a workflow part-way (the holder pressed Back): an unlock
// returns to the start, a registration awaiting its code to the signed-in
// profile. Attempts already counted stay counted, and a code already sent
// stops being asked for.
func (s *Service) Abandon(sess *Session) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	switch sess.step {
	case StepQuestions, StepCodeSent, StepNewPasscode:
		sess.step = StepIdentified
	case StepRegistrationCodeSent:
		sess.step = StepSignedIn
	default:
		return
	}
	sess.questions = nil
	sess.grantExpiry = time.Time{}
	sess.pending = ""
	sess.codeMail = 0
}

// Questions returns the questions of the current unlock attempt.
func (sess *Session) Questions() []Question {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	return append([]Question(nil), sess.questions...)
}

// Serial is the card's serial.
func (sess *Session) Serial() domain.CardSerial { return sess.card.Serial }

// Holder describes the card holder for the screens.
func (s *Service) Holder(sess *Session) Holder {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	h := Holder{
		Name:         domain.CleanText(sess.user.DisplayName()),
		UserID:       sess.user.ID,
		Serial:       sess.card.Serial,
		CertExpiry:   sess.card.CertExpiry,
		Blocked:      sess.status.Blocked,
		TriesLeft:    sess.status.PasscodeTriesLeft,
		RenewalDue:   s.cfg.Renewal.DueSoon(sess.card, s.now()),
		CertsExpired: sess.card.Expired(s.now()),
	}
	if sess.reg != nil {
		h.Registered = true
		h.LockedOut = sess.reg.LockedOut()
		h.MaskedEmail = domain.MaskEmail(domain.CleanText(sess.reg.Email))
	}
	return h
}

// at checks the session is at one of the steps; the caller holds mu.
func (sess *Session) at(steps ...Step) error {
	for _, st := range steps {
		if sess.step == st {
			return nil
		}
	}
	return ErrOutOfTurn
}

// Identify starts a session for the card in the reader: the card must be
// known to the service, active, proved genuine by its Card Authentication
// key, and belong to a known user.
func (s *Service) Identify(ctx context.Context, card domain.Card) (*Session, error) {
	// Card changes this kiosk could not record while the store was away
	// are recorded before the next visit is served.
	if err := s.replaySpool(ctx); err != nil {
		return nil, err
	}
	st, err := card.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("read smartcard: %w", err)
	}
	rec, err := s.cfg.Store.GetSmartcard(ctx, st.Serial)
	if errors.Is(err, domain.ErrNotFound) {
		err = fmt.Errorf("%w: %s", domain.ErrCardNotFound, st.Serial)
		s.audit(ctx, nil, &Session{card: domain.Smartcard{Serial: st.Serial}}, domain.AuditCardChecked, err, "")
		return nil, err
	}
	if err != nil {
		err = fmt.Errorf("look up smartcard: %w", err)
		s.audit(ctx, nil, &Session{card: domain.Smartcard{Serial: st.Serial}}, domain.AuditCardChecked, err, "")
		return nil, err
	}
	sess := &Session{card: rec, status: st, user: domain.User{ID: rec.UserID}}
	if !rec.Active() {
		// A cancelled (lost, stolen) card being used is what the
		// Registration Authority needs to know.
		err := &domain.CancelledError{Reason: domain.CleanText(rec.CancelReason)}
		s.audit(ctx, nil, sess, domain.AuditCardChecked, err, "")
		return nil, err
	}
	if err := domain.ProveGenuine(ctx, card, rec, s.cfg.CA, s.cfg.Rand); err != nil {
		// Also a check that could not finish (card pulled): the card was
		// in the reader under this serial.
		s.audit(ctx, nil, sess, domain.AuditCardChecked, err, "")
		if errors.Is(err, domain.ErrCardNotGenuine) {
			s.cfg.Log.Warn("card not genuine", "serial", st.Serial, "err", err)
			// A renewal stopped part-way leaves a card like this.
			if serr := s.settleLeftOver(ctx, sess, err); serr != nil {
				return nil, serr
			}
		}
		return nil, err
	}
	s.audit(ctx, nil, sess, domain.AuditCardChecked, nil, "genuine")
	// What earlier visits left unfinished on this card is settled from
	// the card's own state, now that it is proved genuine.
	if err := s.settleLeftOver(ctx, sess, nil); err != nil {
		return nil, err
	}
	u, err := s.cfg.Store.GetUser(ctx, rec.UserID)
	if errors.Is(err, domain.ErrNotFound) {
		err = fmt.Errorf("%w: card %s", domain.ErrUserNotFound, st.Serial)
		s.audit(ctx, nil, sess, domain.AuditCardChecked, err, "")
		return nil, err
	}
	if err != nil {
		err = fmt.Errorf("look up card holder: %w", err)
		s.audit(ctx, nil, sess, domain.AuditCardChecked, err, "")
		return nil, err
	}
	sess.user = u
	if err := s.refreshRegistration(ctx, sess); err != nil {
		return nil, err
	}
	return sess, nil
}

// refreshRegistration re-reads the registration; the caller holds mu or
// owns sess exclusively.
func (s *Service) refreshRegistration(ctx context.Context, sess *Session) error {
	r, err := s.cfg.Store.GetRegistration(ctx, sess.user.ID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		sess.reg = nil
	case err != nil:
		return fmt.Errorf("look up registration: %w", err)
	default:
		sess.reg = &r
	}
	return nil
}

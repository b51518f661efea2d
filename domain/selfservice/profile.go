package selfservice

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"strings"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/secret"
)

// SignIn opens My Profile: the card itself verifies the passcode. Wrong:
// *domain.PasscodeError with tries left; the third blocks the card
// (domain.ErrCardBlocked), which Smartcard Unlock then resolves.
func (s *Service) SignIn(ctx context.Context, sess *Session, card domain.Card, passcode string) error {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if err := sess.at(StepIdentified, StepSignedIn); err != nil {
		return err
	}
	err := card.VerifyPasscode(ctx, passcode)
	var pe *domain.PasscodeError
	switch {
	case errors.As(err, &pe):
		sess.status.PasscodeTriesLeft = pe.TriesLeft
		sess.status.Blocked = pe.TriesLeft == 0
	case errors.Is(err, domain.ErrCardBlocked):
		sess.status.Blocked, sess.status.PasscodeTriesLeft = true, 0
	}
	s.audit(ctx, nil, sess, domain.AuditSignIn, err, "")
	if err != nil {
		if sess.status.Blocked {
			// A blocked card cannot stay signed in.
			sess.step = StepIdentified
			return domain.ErrCardBlocked
		}
		return err
	}
	s.readStatus(ctx, sess, card)
	sess.step = StepSignedIn
	return nil
}

// QuestionAnswer is one chosen question and the holder's answer.
type QuestionAnswer struct {
	Question domain.QuestionID
	Answer   string
}

// CheckAnswers applies the answer rules (domain.CheckAnswers) to the
// answers as typed, normalised as they are hashed. It reads nothing, so a
// screen may call it before the holder goes on; StartRegistration applies
// it again. The error is a *domain.AnswersError (matching
// domain.ErrQuestions), or nil.
func CheckAnswers(qas []QuestionAnswer) error {
	texts := make([]string, len(qas))
	for i, qa := range qas {
		texts[i] = qa.Answer
	}
	return domain.CheckAnswers(texts, secret.NormaliseAnswer)
}

// RegisteredEmail is the holder's registered address in full, to start a
// new registration from, or "" when not registered. Only the signed-in
// holder (the card has verified their passcode) may see it: elsewhere the
// address is shown masked.
func (s *Service) RegisteredEmail(sess *Session) (string, error) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if err := sess.at(StepSignedIn, StepRegistrationCodeSent); err != nil {
		return "", err
	}
	if sess.reg == nil {
		return "", nil
	}
	return domain.CleanText(sess.reg.Email), nil
}

// StartRegistration registers (or re-registers) the signed-in holder for
// the Smartcard Unlock Service: 4 distinct questions with answers that
// pass CheckAnswers, and an approved-domain email address. The
// registration takes effect only when the code emailed to that address is
// entered; the masked address is returned.
func (s *Service) StartRegistration(ctx context.Context, sess *Session, qas []QuestionAnswer, email string) (string, error) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if err := sess.at(StepSignedIn, StepRegistrationCodeSent); err != nil {
		return "", err
	}
	if !sess.card.Active() {
		return "", domain.ErrCardCancelled
	}
	// Checked before anything is hashed or stored.
	lim, err := s.codeLimit(ctx, nil, sess, domain.PurposeRegistration)
	if err != nil {
		return "", err
	}
	if lim != nil {
		s.refuseCode(sess, lim)
		s.audit(ctx, nil, sess, domain.AuditCodeIssued, lim, string(domain.PurposeRegistration)+" refused")
		return "", lim
	}
	addr, err := s.cfg.Emails.Normalise(email)
	if err != nil {
		return "", err
	}
	// The shape is checked before paying for argon2id.
	ids := make([]domain.QuestionID, len(qas))
	answers := make(map[domain.QuestionID]string, len(qas))
	for i, qa := range qas {
		ids[i], answers[qa.Question] = qa.Question, qa.Answer
	}
	if err := domain.ValidateQuestions(ids); err != nil {
		return "", err
	}
	if err := CheckAnswers(qas); err != nil {
		return "", err
	}
	sets, err := secret.HashAnswerSets(s.cfg.Argon2, answers, s.cfg.Rand)
	if err != nil {
		return "", err
	}
	// The pending registration, its code and the email go together or not
	// at all: a code always confirms the address it was sent to.
	err = s.sendCode(ctx, sess, domain.PurposeRegistration, addr, func(q domain.Queries) error {
		if err := q.PutPendingRegistration(ctx, domain.PendingRegistration{
			UserID: sess.user.ID, Email: addr, Sets: sets, CreatedAt: s.now(),
		}); err != nil {
			return fmt.Errorf("store registration: %w", err)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	sess.step = StepRegistrationCodeSent
	sess.pending = domain.MaskEmail(domain.CleanText(addr))
	return sess.pending, nil
}

// ConfirmRegistration checks the registration code and makes the pending
// registration the holder's registration (replacing any earlier one, and
// clearing failed attempts and any lock-out).
func (s *Service) ConfirmRegistration(ctx context.Context, sess *Session, code string) error {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if err := sess.at(StepRegistrationCodeSent); err != nil {
		return err
	}
	p, err := s.cfg.Store.GetPendingRegistration(ctx, sess.user.ID)
	if errors.Is(err, domain.ErrNotFound) {
		sess.step = StepSignedIn
		return ErrOutOfTurn
	}
	if err != nil {
		return fmt.Errorf("look up pending registration: %w", err)
	}
	c, right, err := s.matchCode(ctx, sess, domain.PurposeRegistration, p.Email, code)
	if err == nil && !right {
		// Counted and audited together.
		err = s.wrongCode(ctx, sess, domain.PurposeRegistration, c)
	} else if err != nil {
		err = s.deadCode(ctx, sess, domain.PurposeRegistration, err)
		s.audit(ctx, nil, sess, domain.AuditCodeEntered, err, string(domain.PurposeRegistration))
	}
	if err != nil {
		if codeClosed(err) {
			sess.step = StepSignedIn
		}
		return err
	}
	now := s.now()
	// The code is spent in the same transaction that registers, so a
	// failure leaves both as they were.
	err = s.cfg.Store.InTx(ctx, func(q domain.Queries) error {
		if err := q.UseCode(ctx, c.ID, now); err != nil {
			return fmt.Errorf("use code: %w", err)
		}
		if err := q.PutRegistration(ctx, domain.Registration{
			UserID: sess.user.ID, Email: p.Email, Answers: p.Answers, Sets: p.Sets, RegisteredAt: now,
		}); err != nil {
			return fmt.Errorf("store registration: %w", err)
		}
		if err := q.DeletePendingRegistration(ctx, sess.user.ID); err != nil {
			return fmt.Errorf("clear pending registration: %w", err)
		}
		m := registeredMail(p.Email, now)
		m.CreatedAt = now
		if _, err := q.EnqueueMail(ctx, m); err != nil {
			return fmt.Errorf("queue email: %w", err)
		}
		// The old address hears of the change too: a registration moved
		// to someone else's address must not go unnoticed.
		if sess.reg != nil && !strings.EqualFold(sess.reg.Email, p.Email) {
			old := registrationChangedMail(sess.reg.Email, now)
			old.CreatedAt = now
			if _, err := q.EnqueueMail(ctx, old); err != nil {
				return fmt.Errorf("queue email: %w", err)
			}
		}
		return s.audit(ctx, q, sess, domain.AuditSelfRegister, nil, "")
	})
	if err != nil {
		s.audit(ctx, nil, sess, domain.AuditSelfRegister, err, "")
		return err
	}
	s.notify()
	sess.pending = ""
	sess.step = StepSignedIn
	if err := s.refreshRegistration(ctx, sess); err != nil {
		// Registered all the same: show what was just stored.
		s.cfg.Log.Warn("re-read registration", "err", err)
		sess.reg = &domain.Registration{UserID: sess.user.ID, Email: p.Email, Answers: p.Answers, Sets: p.Sets, RegisteredAt: now}
	}
	return nil
}

// codeClosed says whether err means the code can no longer be used, so
// the registration must be started again. A wrong code with tries left
// closes nothing, nor does a fault (the store not answering): the holder
// keeps the questions and address they gave, and the code they were sent.
func codeClosed(err error) bool {
	return errors.Is(err, domain.ErrCodeExpired) || errors.Is(err, domain.ErrCodeTriesExhausted) ||
		errors.Is(err, domain.ErrCodeUsed) || errors.Is(err, ErrOutOfTurn)
}

// ChangePasscode changes the passcode of the signed-in holder's card: the
// card checks the current one; the new one must meet the policy, twice.
func (s *Service) ChangePasscode(ctx context.Context, sess *Session, card domain.Card, current, newPasscode, confirm string) error {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if err := sess.at(StepSignedIn); err != nil {
		return err
	}
	if err := s.cfg.Passcodes.CheckConfirm(newPasscode, confirm); err != nil {
		return err
	}
	if newPasscode == current {
		return ErrSamePasscode
	}
	// A new passcode is a change to the card: written ahead like the
	// others, so it is never made unrecorded.
	w, err := s.beginWrite(ctx, sess, domain.CardWriteChangePasscode)
	if err != nil {
		return fmt.Errorf("change passcode: %w", err)
	}
	err = card.ChangePasscode(ctx, current, newPasscode)
	if outcomeUnknown(err) {
		s.leaveWrite(ctx, sess, w, err)
	} else if ferr := s.finishWrite(ctx, w, err, "", nil, nil); err == nil && ferr != nil {
		// The card has the new passcode, which is what the holder must
		// know; its record follows from the spool, or staff are told.
		s.cfg.Log.Error("passcode changed but not yet recorded", "serial", sess.card.Serial, "err", ferr)
	}
	var pe *domain.PasscodeError
	if errors.As(err, &pe) && pe.TriesLeft == 0 || errors.Is(err, domain.ErrCardBlocked) {
		sess.status.Blocked, sess.status.PasscodeTriesLeft = true, 0
		sess.step = StepIdentified
		return domain.ErrCardBlocked
	}
	if err != nil {
		return fmt.Errorf("change passcode: %w", err)
	}
	return nil
}

// CanRenew says why the holder may not renew the certificates here now
// (too early, expired, cancelled, or an operator is due), or nil.
func (s *Service) CanRenew(sess *Session) error {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	return s.cfg.Renewal.CheckSelfRenewal(sess.card, s.now())
}

// Renew re-issues the signed-in holder's certificates: the card generates
// new keys, the service CA certifies them for two years, and the new Card
// Authentication certificate is recorded. The PUK and management key are
// kept, so a failure to record leaves a card the service can still manage.
//
// The renewal is written ahead (package cardwrite), like an unlock. If
// the card was renewed but the store could not be reached, the new record
// waits on this kiosk and the error is domain.ErrRecordDelayed: the
// session has the new certificates all the same. If it cannot be kept at
// all, or the store refuses it, the card holds keys the service has no
// record of: domain.ErrCardNeedsRepair.
func (s *Service) Renew(ctx context.Context, sess *Session, card domain.Card) error {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if err := sess.at(StepSignedIn); err != nil {
		return err
	}
	now := s.now()
	// Fresh from the store: an operator may have cancelled the card or
	// serviced it since it was inserted.
	rec, err := s.cfg.Store.GetSmartcard(ctx, sess.card.Serial)
	if err != nil {
		return fmt.Errorf("look up smartcard: %w", err)
	}
	sess.card = rec
	if err := s.cfg.Renewal.CheckSelfRenewal(rec, now); err != nil {
		s.audit(ctx, nil, sess, domain.AuditSelfRenew, err, "")
		return err
	}
	keys, err := s.cardKeys(ctx, sess.card.Serial)
	if err != nil {
		// The card was not touched, but the holder was turned away.
		s.audit(ctx, nil, sess, domain.AuditSelfRenew, err, "")
		return err
	}
	defer clear(keys.PUK)
	defer clear(keys.MgmtKey)
	w, err := s.beginWrite(ctx, sess, domain.CardWriteSelfRenew)
	if err != nil {
		// The card was not touched: the holder may try again.
		return fmt.Errorf("renew certificates: %w", err)
	}
	expiry := s.cfg.Renewal.Expiry(now)
	var pivAuth, cardAuth []byte
	err = card.Personalise(ctx, domain.PersonaliseRequest{
		Serial: sess.card.Serial, CHUIDExpiry: expiry, Current: keys, New: keys,
		Certify: func(slot domain.KeySlot, pub crypto.PublicKey) ([]byte, error) {
			der, err := s.cfg.CA.Issue(pub, sess.user.ID, sess.card.Serial, slot, now, expiry)
			switch slot {
			case domain.KeyPIVAuth:
				pivAuth = der
			case domain.KeyCardAuth:
				cardAuth = der
			}
			return der, err
		},
	})
	if err != nil {
		// Whether a new key was made tells how far it got, so the outcome
		// is known even if the card was pulled.
		if pivAuth == nil && cardAuth == nil {
			s.finishWrite(ctx, w, err, "", nil, nil)
			return fmt.Errorf("renew certificates: %w", err)
		}
		// New keys may be on the card without their record: the genuine
		// check would now fail, so send the holder to the booth.
		s.finishPartWay(ctx, w, err, "stopped part-way, so the card needs repair")
		return fmt.Errorf("renew certificates: %w (%w)", err, domain.ErrCardNeedsRepair)
	}
	err = s.finishWrite(ctx, w, nil, "certificates valid until "+expiry.Format("2 January 2006"), nil,
		&domain.RenewalRecord{CertExpiry: expiry, CardAuthCert: cardAuth, PIVAuthCert: pivAuth})
	if err != nil && !errors.Is(err, domain.ErrRecordDelayed) {
		s.cfg.Log.Error("record renewal", "serial", rec.Serial, "err", err)
		return fmt.Errorf("the card was renewed but the service could not record it: %w (%w)", err, domain.ErrCardNeedsRepair)
	}
	rec.CertExpiry, rec.CardAuthCert, rec.PIVAuthCert = expiry, cardAuth, pivAuth
	rec.RenewalsSinceOperator++
	sess.card = rec
	return err // nil, or recorded once the store is back
}

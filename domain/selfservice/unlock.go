package selfservice

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/secret"
)

// StartUnlock begins Smartcard Unlock: the holder must be registered and
// not locked out. It returns 2–4 of the holder's 4 questions, chosen and
// ordered at random.
func (s *Service) StartUnlock(ctx context.Context, sess *Session) ([]Question, error) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if err := sess.at(StepIdentified, StepQuestions); err != nil {
		return nil, err
	}
	// Asking again gives the same questions: drawing new ones would let
	// someone fish for the questions they can answer.
	if sess.step == StepQuestions {
		return append([]Question(nil), sess.questions...), nil
	}
	// Fresh from the store: another kiosk may have locked the user out.
	if err := s.refreshRegistration(ctx, sess); err != nil {
		return nil, err
	}
	if sess.reg == nil {
		return nil, domain.ErrNotRegistered
	}
	if sess.reg.LockedOut() {
		return nil, domain.ErrLockedOut
	}
	answers := append([]domain.Answer(nil), sess.reg.Answers...)
	n, err := s.intn(3)
	if err != nil {
		return nil, err
	}
	n += 2
	if n > len(answers) {
		n = len(answers)
	}
	// Partial Fisher–Yates: the first n are a uniform random choice.
	for i := 0; i < n; i++ {
		j, err := s.intn(len(answers) - i)
		if err != nil {
			return nil, err
		}
		answers[i], answers[i+j] = answers[i+j], answers[i]
	}
	qs := make([]Question, 0, n)
	for _, a := range answers[:n] {
		text, err := domain.QuestionText(a.Question)
		if err != nil {
			return nil, err
		}
		qs = append(qs, Question{ID: a.Question, Text: text})
	}
	sess.questions = qs
	sess.step = StepQuestions
	return append([]Question(nil), qs...), nil
}

func (s *Service) intn(n int) (int, error) {
	v, err := rand.Int(s.cfg.Rand, big.NewInt(int64(n)))
	if err != nil {
		return 0, fmt.Errorf("draw random number: %w", err)
	}
	return int(v.Int64()), nil
}

// AnswerQuestions checks the answers (in the order of the questions). All
// right: the failure count is reset and an unlock code is emailed; the
// masked address is returned. Any wrong: one failed attempt is recorded
// (*AnswerError), and the third locks the user out (domain.ErrLockedOut).
// The holder is never told which answer was wrong.
func (s *Service) AnswerQuestions(ctx context.Context, sess *Session, answers []string) (string, error) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if err := sess.at(StepQuestions); err != nil {
		return "", err
	}
	if len(answers) != len(sess.questions) {
		return "", fmt.Errorf("%w: %d answers for %d questions", domain.ErrQuestions, len(answers), len(sess.questions))
	}
	// Another kiosk may have locked the user out since the questions were
	// drawn; right answers must not then clear the lock-out.
	if err := s.refreshRegistration(ctx, sess); err != nil {
		return "", err
	}
	if sess.reg == nil {
		sess.step = StepEnded
		return "", domain.ErrNotRegistered
	}
	if sess.reg.LockedOut() {
		sess.step = StepEnded
		return "", domain.ErrLockedOut
	}
	// Check every answer, not stopping at the first wrong one, so timing
	// does not say which was wrong.
	ok := true
	for i, q := range sess.questions {
		right := false
		for _, a := range sess.reg.Answers {
			if a.Question == q.ID {
				m, err := secret.VerifyAnswer(a.Hash, answers[i])
				if err != nil {
					return "", fmt.Errorf("check answer: %w", err)
				}
				right = m
			}
		}
		ok = ok && right
	}
	if !ok {
		reg, err := s.cfg.Store.RecordFailedAttempt(ctx, sess.user.ID, MaxFailedAttempts, s.now())
		if err != nil {
			return "", fmt.Errorf("record failed attempt: %w", err)
		}
		sess.reg = &reg
		if reg.LockedOut() {
			sess.step = StepEnded
			s.audit(ctx, nil, sess, domain.AuditQuestionsAnswered, domain.ErrLockedOut, "")
			return "", domain.ErrLockedOut
		}
		e := &AnswerError{AttemptsLeft: MaxFailedAttempts - reg.FailedAttempts}
		s.audit(ctx, nil, sess, domain.AuditQuestionsAnswered, e, "")
		return "", e
	}
	if err := s.cfg.Store.ResetFailedAttempts(ctx, sess.user.ID); err != nil {
		return "", fmt.Errorf("reset failed attempts: %w", err)
	}
	sess.reg.FailedAttempts = 0
	s.audit(ctx, nil, sess, domain.AuditQuestionsAnswered, nil, "")
	sess.questions = nil
	if err := s.sendCode(ctx, sess, domain.PurposeUnlock, sess.reg.Email); err != nil {
		// The answers stand; the holder may ask for the code again.
		sess.step = StepCodeSent
		return "", err
	}
	sess.step = StepCodeSent
	return domain.MaskEmail(sess.reg.Email), nil
}

// ResendCode emails a new code for the step the session is at (unlock or
// registration); the previous code stops working.
func (s *Service) ResendCode(ctx context.Context, sess *Session) (string, error) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if err := sess.at(StepCodeSent, StepRegistrationCodeSent); err != nil {
		return "", err
	}
	if sess.step == StepCodeSent {
		if err := s.sendCode(ctx, sess, domain.PurposeUnlock, sess.reg.Email); err != nil {
			return "", err
		}
		return domain.MaskEmail(sess.reg.Email), nil
	}
	p, err := s.cfg.Store.GetPendingRegistration(ctx, sess.user.ID)
	if err != nil {
		return "", fmt.Errorf("look up pending registration: %w", err)
	}
	if err := s.sendCode(ctx, sess, domain.PurposeRegistration, p.Email); err != nil {
		return "", err
	}
	return domain.MaskEmail(p.Email), nil
}

// codeContext binds a code's hash to its purpose, user and card.
func codeContext(purpose domain.CodePurpose, id domain.UserID, serial domain.CardSerial) string {
	return string(purpose) + ":" + string(id) + ":" + string(serial)
}

// sendCode stores a new code and its email in one transaction; the caller
// holds mu.
func (s *Service) sendCode(ctx context.Context, sess *Session, purpose domain.CodePurpose, to string) error {
	if sess.codeSends >= MaxCodeSends {
		return ErrTooManyCodes
	}
	code, err := domain.NewCode(s.cfg.Rand)
	if err != nil {
		return err
	}
	now := s.now()
	expires := now.Add(s.cfg.Codes.Validity)
	var m domain.Mail
	switch purpose {
	case domain.PurposeUnlock:
		m = unlockCodeMail(to, code, s.cfg.Codes.Validity)
	default:
		m = registrationCodeMail(to, code, s.cfg.Codes.Validity)
	}
	m.CreatedAt, m.NotAfter = now, expires
	err = s.cfg.Store.InTx(ctx, func(q domain.Queries) error {
		if _, err := q.CreateCode(ctx, domain.OneTimeCode{
			UserID: sess.user.ID, Purpose: purpose, CardSerial: sess.card.Serial,
			Hash:      s.cfg.Keys.CodeHash(codeContext(purpose, sess.user.ID, sess.card.Serial), code),
			CreatedAt: now, ExpiresAt: expires, MaxTries: s.cfg.Codes.MaxTries,
		}); err != nil {
			return fmt.Errorf("store code: %w", err)
		}
		if _, err := q.EnqueueMail(ctx, m); err != nil {
			return fmt.Errorf("queue email: %w", err)
		}
		return s.audit(ctx, q, sess, domain.AuditCodeIssued, nil, string(purpose))
	})
	if err != nil {
		return fmt.Errorf("send %s code: %w", purpose, err)
	}
	sess.codeSends++
	s.notify()
	return nil
}

// checkCode checks a typed code against the newest code of the purpose
// and consumes it when right; the caller holds mu.
func (s *Service) checkCode(ctx context.Context, sess *Session, purpose domain.CodePurpose, typed string) error {
	now := s.now()
	c, err := s.cfg.Store.LatestCode(ctx, sess.user.ID, purpose)
	if errors.Is(err, domain.ErrNotFound) {
		return ErrOutOfTurn
	}
	if err != nil {
		return fmt.Errorf("look up code: %w", err)
	}
	if err := c.Usable(now); err != nil {
		return err
	}
	if c.CardSerial != sess.card.Serial ||
		!s.cfg.Keys.CodeMatches(c.Hash, codeContext(purpose, sess.user.ID, sess.card.Serial), normaliseCode(typed)) {
		c, err := s.cfg.Store.RecordCodeFailure(ctx, c.ID)
		if err != nil {
			return fmt.Errorf("record wrong code: %w", err)
		}
		if c.Tries >= c.MaxTries {
			return domain.ErrCodeTriesExhausted
		}
		return &CodeError{TriesLeft: c.MaxTries - c.Tries}
	}
	if err := s.cfg.Store.UseCode(ctx, c.ID, now); err != nil {
		return fmt.Errorf("use code: %w", err)
	}
	return nil
}

// normaliseCode drops the spaces and dashes people type inside codes.
func normaliseCode(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if r != ' ' && r != '-' {
			out = append(out, r)
		}
	}
	return string(out)
}

// EnterUnlockCode checks the emailed unlock code. Wrong: *CodeError with
// tries left, or domain.ErrCodeTriesExhausted; late: domain.ErrCodeExpired.
// Right: the holder may set a new passcode while the code would still
// have been valid.
func (s *Service) EnterUnlockCode(ctx context.Context, sess *Session, code string) error {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if err := sess.at(StepCodeSent); err != nil {
		return err
	}
	err := s.checkCode(ctx, sess, domain.PurposeUnlock, code)
	s.audit(ctx, nil, sess, domain.AuditCodeEntered, err, string(domain.PurposeUnlock))
	if err != nil {
		return err
	}
	sess.grantExpiry = s.now().Add(s.cfg.Codes.Validity)
	sess.step = StepNewPasscode
	return nil
}

// CompleteUnlock sets the new passcode on the card with the card's PUK
// (which never leaves the kiosk's memory) and verifies it took; the holder
// is then emailed a notification. A policy failure leaves the step open.
func (s *Service) CompleteUnlock(ctx context.Context, sess *Session, card domain.Card, newPasscode, confirm string) error {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if err := sess.at(StepNewPasscode); err != nil {
		return err
	}
	if !s.now().Before(sess.grantExpiry) {
		sess.step = StepEnded
		return domain.ErrCodeExpired
	}
	if err := s.cfg.Passcodes.CheckConfirm(newPasscode, confirm); err != nil {
		return err
	}
	sealed, err := s.cfg.Store.GetCardSecrets(ctx, sess.card.Serial)
	if err != nil {
		return fmt.Errorf("look up card secrets: %w", err)
	}
	puk, _, err := s.cfg.Keys.OpenCard(sealed)
	if err != nil {
		return fmt.Errorf("open card secrets: %w", err)
	}
	defer clear(puk)
	if err := card.Unlock(ctx, puk, newPasscode); err != nil {
		s.audit(ctx, nil, sess, domain.AuditSelfUnlock, err, "")
		return fmt.Errorf("unlock smartcard: %w", err)
	}
	sess.step = StepUnlocked
	sess.grantExpiry = time.Time{}
	sess.status.Blocked, sess.status.PasscodeTriesLeft = false, 3
	m := unlockedMail(sess.reg.Email, s.now())
	m.CreatedAt = s.now()
	err = s.cfg.Store.InTx(ctx, func(q domain.Queries) error {
		if _, err := q.EnqueueMail(ctx, m); err != nil {
			return fmt.Errorf("queue email: %w", err)
		}
		return s.audit(ctx, q, sess, domain.AuditSelfUnlock, nil, "")
	})
	if err != nil {
		// The card is unlocked; only the record of it failed. Say so in
		// the log rather than tell the holder it did not work.
		s.cfg.Log.Error("record unlock", "serial", sess.card.Serial, "err", err)
		return nil
	}
	s.notify()
	return nil
}

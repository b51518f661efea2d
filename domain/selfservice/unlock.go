package selfservice

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/secret"
)

// MinQuestions and MaxQuestions bound how many of the holder's questions
// an unlock asks (seed 004: "2-4 security questions").
const (
	MinQuestions = domain.MinDrawn
	MaxQuestions = domain.MaxDrawn
)

// StartUnlock begins Smartcard Unlock: the holder must be registered and
// not locked out. It returns 2–4 of the holder's 4 questions, chosen and
// ordered at random. The draw is kept in the store until it is answered,
// so going back, pulling the card or another kiosk gets the same
// questions: nobody can fish for the ones they know.
func (s *Service) StartUnlock(ctx context.Context, sess *Session) ([]Question, error) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if err := sess.at(StepIdentified, StepQuestions); err != nil {
		return nil, err
	}
	// Fresh from the store: another kiosk may have locked the user out.
	if err := s.refreshRegistration(ctx, sess); err != nil {
		return nil, err
	}
	var refused error
	switch {
	case sess.reg == nil:
		refused = domain.ErrNotRegistered
	case sess.reg.LockedOut():
		refused = domain.ErrLockedOut
	default:
		// A registration stored by other means must not mean fewer questions.
		if err := domain.ValidateAnswers(sess.reg.Answers, sess.reg.Sets); err != nil {
			refused = fmt.Errorf("%w: the registration is incomplete; please register again", err)
		}
	}
	if refused == nil {
		// No code could be sent once the questions are answered, and none
		// sent before works: this visit can only end, saying until when.
		lim, err := s.codeLimit(ctx, nil, sess, domain.PurposeUnlock)
		if err != nil {
			return nil, err
		}
		if lim != nil && lim.LiveUntil.IsZero() {
			sess.step = StepEnded
			refused = lim
		}
	}
	if refused != nil {
		s.audit(ctx, nil, sess, domain.AuditUnlockStarted, refused, "")
		return nil, refused
	}
	registered := sess.reg.Questions()
	proposed, err := s.drawQuestions(registered)
	if err != nil {
		return nil, err
	}
	ids, err := s.cfg.Store.DrawChallenge(ctx, sess.user.ID, proposed)
	if err != nil {
		return nil, fmt.Errorf("draw questions: %w", err)
	}
	qs := make([]Question, 0, len(ids))
	for _, id := range ids {
		if !slices.Contains(registered, id) {
			return nil, fmt.Errorf("%w: stored question %d is not among the registered ones", domain.ErrQuestions, id)
		}
		text, err := domain.QuestionText(id)
		if err != nil {
			return nil, err
		}
		qs = append(qs, Question{ID: id, Text: text})
	}
	if len(qs) < MinQuestions || len(qs) > MaxQuestions {
		return nil, fmt.Errorf("%w: %d questions drawn", domain.ErrQuestions, len(qs))
	}
	// A stored draw is the store's to keep, not to make: one asking a
	// question twice would let one answer stand for two.
	if len(slices.Compact(slices.Sorted(slices.Values(ids)))) != len(ids) {
		return nil, fmt.Errorf("%w: a question drawn twice", domain.ErrQuestions)
	}
	sess.questions = qs
	sess.step = StepQuestions
	return slices.Clone(qs), nil
}

// drawQuestions picks 2–4 of the registered questions in random order.
func (s *Service) drawQuestions(registered []domain.QuestionID) ([]domain.QuestionID, error) {
	ids := slices.Clone(registered)
	n, err := s.intn(MaxQuestions - MinQuestions + 1)
	if err != nil {
		return nil, err
	}
	n = min(n+MinQuestions, len(ids))
	// Partial Fisher–Yates: the first n are a uniform random choice.
	for i := 0; i < n; i++ {
		j, err := s.intn(len(ids) - i)
		if err != nil {
			return nil, err
		}
		ids[i], ids[i+j] = ids[i+j], ids[i]
	}
	return ids[:n], nil
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
	if len(sess.questions) < MinQuestions || len(answers) != len(sess.questions) {
		return "", fmt.Errorf("%w: %d answers for %d questions", domain.ErrQuestions, len(answers), len(sess.questions))
	}
	// Another kiosk may have locked the user out since the questions were
	// drawn.
	if err := s.refreshRegistration(ctx, sess); err != nil {
		return "", err
	}
	if sess.reg == nil || sess.reg.LockedOut() {
		sess.step = StepEnded
		err := domain.ErrLockedOut
		if sess.reg == nil {
			err = domain.ErrNotRegistered
		}
		s.audit(ctx, nil, sess, domain.AuditQuestionsAnswered, err, "")
		return "", err
	}
	ok, err := s.checkAnswers(sess, answers)
	if err != nil {
		// A stored hash weaker than ours, or not a hash (or none): someone
		// wrote to the database who should not have.
		err = fmt.Errorf("check answers: %w", err)
		s.cfg.Log.Error("stored security answer refused; the database may have been tampered with",
			"user", sess.user.ID, "err", err)
		s.audit(ctx, nil, sess, domain.AuditQuestionsAnswered, err, "stored answer refused")
		return "", err
	}
	if !ok {
		return "", s.wrongAnswers(ctx, sess)
	}
	return s.rightAnswers(ctx, sess)
}

// checkAnswers checks the answers to the drawn questions, all of them
// at once, saying only whether all are right: against the answer set of
// exactly those questions (one argon2id computation), or, for a
// registration made before answer sets, against each answer's hash, every
// one checked so that timing does not say which was wrong. A drawn
// question the registration lacks (the holder registered anew on another
// kiosk since) makes the answers wrong. The caller holds mu.
func (s *Service) checkAnswers(sess *Session, answers []string) (bool, error) {
	// Read afresh since the draw: checked again as StartUnlock did.
	if err := domain.ValidateAnswers(sess.reg.Answers, sess.reg.Sets); err != nil {
		return false, err
	}
	given := make(map[domain.QuestionID]string, len(answers))
	ids := make([]domain.QuestionID, len(sess.questions))
	for i, q := range sess.questions {
		ids[i], given[q.ID] = q.ID, answers[i]
	}
	if len(given) != len(ids) {
		return false, fmt.Errorf("%w: a question asked twice", domain.ErrQuestions)
	}
	if len(sess.reg.Sets) > 0 {
		i := domain.FindSet(sess.reg.Sets, ids)
		if i < 0 {
			return false, nil
		}
		return secret.VerifyAnswerSet(s.cfg.MinArgon2, sess.reg.Sets[i], given)
	}
	var hashes, typed []string
	for _, id := range ids {
		for _, a := range sess.reg.Answers {
			if a.Question == id {
				hashes, typed = append(hashes, a.Hash), append(typed, given[id])
			}
		}
	}
	match, err := secret.VerifyAnswers(s.cfg.MinArgon2, hashes, typed)
	if err != nil {
		return false, err
	}
	return len(match) == len(ids) && !slices.Contains(match, false), nil
}

// wrongAnswers records a failed attempt with its audit row in one
// transaction, and returns what the holder is told: *AnswerError, or
// domain.ErrLockedOut (this attempt locked them out, or another kiosk had
// already). The caller holds mu.
func (s *Service) wrongAnswers(ctx context.Context, sess *Session) error {
	// Recorded even if the holder pulls the card right now.
	rctx, cancel := domain.RecordContext(ctx)
	defer cancel()
	var (
		reg               domain.Registration
		verdict           error
		recorded, refused bool // refused: another kiosk reached the limit first
	)
	unknown := s.together(rctx, "wrong answers", func(q domain.Queries) error {
		reg, verdict, recorded, refused = domain.Registration{}, nil, false, false
		r, err := s.queries(q).RecordFailedAttempt(rctx, sess.user.ID, MaxFailedAttempts, s.now())
		switch {
		case errors.Is(err, domain.ErrLockedOut):
			// This try is refused, not counted as one more failure.
			reg, verdict, recorded, refused = r, domain.ErrLockedOut, true, true
			return s.stepAudit(rctx, q, sess, domain.AuditQuestionsAnswered, err, "refused: already locked out of self-service")
		case err != nil && q != nil:
			return err
		case err != nil:
			verdict = fmt.Errorf("record failed attempt: %w", err)
			return nil
		case r.LockedOut():
			reg, verdict, recorded = r, domain.ErrLockedOut, true
		default:
			// The holder may try the same questions again; the stored draw
			// is spent, so going back draws afresh at the cost of this
			// attempt.
			reg, verdict, recorded = r, &AnswerError{AttemptsLeft: MaxFailedAttempts - r.FailedAttempts}, true
		}
		return s.stepAudit(rctx, q, sess, domain.AuditQuestionsAnswered, verdict, "")
	})
	if unknown != nil {
		return unknown
	}
	if !recorded {
		return verdict // the store failed
	}
	sess.reg = &reg
	if refused || reg.LockedOut() {
		sess.questions = nil
		sess.step = StepEnded
	}
	return verdict
}

// rightAnswers clears the failure count and sends the unlock code: the
// count, the code, its email and both audit rows in one transaction. The
// answers stand even if the code cannot be stored or sent: the holder may
// ask for it again. It returns the masked address. The caller holds mu.
func (s *Service) rightAnswers(ctx context.Context, sess *Session) (string, error) {
	const purpose = domain.PurposeUnlock
	// What the code's part will be, found before the transaction.
	var send error // why no code can be sent, if so
	lim, err := s.codeLimit(ctx, nil, sess, purpose)
	var code pendingCode
	switch {
	case err != nil:
		send = fmt.Errorf("send %s code: %w", purpose, err)
	case lim != nil:
		send = lim
	default:
		if code, err = s.newCode(sess, purpose, sess.reg.Email); err != nil {
			send = fmt.Errorf("send %s code: %w", purpose, err)
		}
	}
	var (
		locked, passed bool
		passErr        error
		sent           error // why no code was sent, if none was
		mailID         int64
	)
	unknown := s.together(ctx, "right answers", func(q domain.Queries) error {
		locked, passed, passErr, sent, mailID = false, false, nil, send, 0
		err := s.queries(q).PassChallenge(ctx, sess.user.ID)
		switch {
		case errors.Is(err, domain.ErrLockedOut):
			// Locked out since the answers were checked (another kiosk).
			locked = true
			return s.stepAudit(ctx, q, sess, domain.AuditQuestionsAnswered, err, "")
		case err != nil && q != nil:
			return err
		case err != nil:
			passErr = fmt.Errorf("record right answers: %w", err)
			return nil
		}
		passed = true
		if send == nil && q != nil {
			// The code before the audit rows: they hold the chain's lock.
			if mailID, err = s.storeCode(ctx, q, code); err != nil {
				return fmt.Errorf("send %s code: %w", purpose, err)
			}
		}
		if err := s.stepAudit(ctx, q, sess, domain.AuditQuestionsAnswered, nil, ""); err != nil {
			return err
		}
		switch {
		case send == nil && q != nil:
			return s.audit(ctx, q, sess, domain.AuditCodeIssued, nil, string(purpose))
		case send == nil:
			// On its own, as sendCode stores it: code, email and audit row.
			if mailID, err = s.issueCode(ctx, sess, code, nil); err != nil {
				sent = fmt.Errorf("send %s code: %w", purpose, err)
			}
			if sent == nil {
				return nil
			}
		}
		detail := string(purpose)
		if lim != nil {
			detail += " refused"
		}
		return s.stepAudit(ctx, q, sess, domain.AuditCodeIssued, sent, detail)
	})
	if unknown != nil {
		return "", unknown
	}
	if locked {
		sess.step = StepEnded
		return "", domain.ErrLockedOut
	}
	if !passed {
		return "", passErr
	}
	sess.reg.FailedAttempts = 0
	sess.questions = nil
	sess.step = StepCodeSent
	if sent != nil {
		if lim != nil {
			s.refuseCode(sess, lim)
		}
		return "", sent
	}
	sess.codeMail = mailID
	s.notify()
	return domain.MaskEmail(domain.CleanText(sess.reg.Email)), nil
}

// ResendCode emails a new code for the step the session is at (unlock or
// registration); the previous code stops working.
func (s *Service) ResendCode(ctx context.Context, sess *Session) (string, error) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if err := sess.at(StepCodeSent, StepRegistrationCodeSent); err != nil {
		return "", err
	}
	var to string
	purpose := domain.PurposeUnlock
	if sess.step == StepCodeSent {
		to = sess.reg.Email
	} else {
		p, err := s.cfg.Store.GetPendingRegistration(ctx, sess.user.ID)
		if err != nil {
			return "", fmt.Errorf("look up pending registration: %w", err)
		}
		to, purpose = p.Email, domain.PurposeRegistration
	}
	if err := s.sendCode(ctx, sess, purpose, to, nil); err != nil {
		return "", err
	}
	return domain.MaskEmail(domain.CleanText(to)), nil
}

// codeContext binds a code's hash to its purpose, user, card and the
// address it was sent to, so a code proves that very address.
func codeContext(purpose domain.CodePurpose, id domain.UserID, serial domain.CardSerial, to string) string {
	return string(purpose) + ":" + string(id) + ":" + string(serial) + ":" + to
}

// sendCode stores a new code and its email in one transaction, after
// first (if set) writing what the code will confirm; the caller holds mu.
// Only a code stored with its email counts against the user's codes: a
// send that failed (the store did not answer) may be asked for again.
// Refusals and failures are audited like the codes sent.
func (s *Service) sendCode(ctx context.Context, sess *Session, purpose domain.CodePurpose, to string, first func(q domain.Queries) error) error {
	lim, err := s.codeLimit(ctx, nil, sess, purpose)
	if err != nil {
		err = fmt.Errorf("send %s code: %w", purpose, err)
		s.audit(ctx, nil, sess, domain.AuditCodeIssued, err, string(purpose))
		return err
	}
	if lim != nil {
		s.refuseCode(sess, lim)
		s.audit(ctx, nil, sess, domain.AuditCodeIssued, lim, string(purpose)+" refused")
		return lim
	}
	code, err := s.newCode(sess, purpose, to)
	var mailID int64
	if err == nil {
		mailID, err = s.issueCode(ctx, sess, code, first)
	}
	if err != nil {
		err = fmt.Errorf("send %s code: %w", purpose, err)
		s.audit(ctx, nil, sess, domain.AuditCodeIssued, err, string(purpose))
		return err
	}
	sess.codeMail = mailID
	s.notify()
	return nil
}

// codeLimit says whether the policy lets another code of purpose be sent
// to the session's user now: nil if so, else the refusal, with when one
// can be sent and whether the latest code sent still works. The codes are
// counted from the store (through q, a transaction, if set), so no new
// visit resets them. The caller holds mu.
func (s *Service) codeLimit(ctx context.Context, q domain.Queries, sess *Session, purpose domain.CodePurpose) (*CodeLimitError, error) {
	now, p, st := s.now(), s.cfg.Codes, s.queries(q)
	sent, err := st.CodesCreatedAfter(ctx, sess.user.ID, purpose, now.Add(-p.Window))
	if err != nil {
		return nil, fmt.Errorf("count codes sent: %w", err)
	}
	retry := p.NextSend(sent)
	if retry.IsZero() {
		return nil, nil
	}
	e := &CodeLimitError{Max: p.MaxSends, Window: p.Window, RetryAt: retry}
	c, err := st.LatestCode(ctx, sess.user.ID, purpose)
	switch {
	case errors.Is(err, domain.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("look up code: %w", err)
	case c.Usable(now) == nil && c.CardSerial == sess.card.Serial:
		e.LiveUntil = c.ExpiresAt
	}
	return e, nil
}

// refuseCode moves the session on from a refused code when no code it
// was sent works any more: an unlock can only end (nothing else a locked
// card can do here), a registration goes back to My Profile. The caller
// holds mu.
func (s *Service) refuseCode(sess *Session, lim *CodeLimitError) {
	if !lim.LiveUntil.IsZero() {
		return // the latest code still works: the holder may enter it
	}
	switch sess.step {
	case StepQuestions, StepCodeSent:
		sess.step = StepEnded
	case StepRegistrationCodeSent:
		sess.step, sess.pending = StepSignedIn, ""
	}
}

// codeDead says whether err means the code entered can no longer be used.
func codeDead(err error) bool {
	return errors.Is(err, domain.ErrCodeExpired) || errors.Is(err, domain.ErrCodeTriesExhausted) ||
		errors.Is(err, domain.ErrCodeUsed)
}

// deadCode turns err, a code that no longer works, into a *CodeLimitError
// when no new code can be sent either, moving the session on as
// refuseCode does; otherwise it returns err. The caller holds mu.
func (s *Service) deadCode(ctx context.Context, sess *Session, purpose domain.CodePurpose, err error) error {
	lim, verdict := s.codeVerdict(ctx, nil, sess, purpose, err)
	if lim != nil {
		s.refuseCode(sess, lim)
	}
	return verdict
}

// codeVerdict is deadCode without moving the session on, reading through
// q if set: it returns what the holder is told (verdict) and, when that
// is a refusal, the refusal itself (lim) for refuseCode. The caller holds
// mu.
func (s *Service) codeVerdict(ctx context.Context, q domain.Queries, sess *Session, purpose domain.CodePurpose, err error) (lim *CodeLimitError, verdict error) {
	if !codeDead(err) {
		return nil, err
	}
	lim, lerr := s.codeLimit(ctx, q, sess, purpose)
	if lerr != nil || lim == nil {
		// Not known: the holder may ask for a new code, which checks again.
		return nil, err
	}
	lim.Code = err // LiveUntil: a newer code, sent from another kiosk meanwhile
	return lim, lim
}

// pendingCode is a new code ready to be stored: its row (the code only as
// a hash) and its email, sealed.
type pendingCode struct {
	row  domain.OneTimeCode
	mail domain.Mail
}

// newCode draws a code of purpose for the session's user, to be emailed
// to the address to; it writes nothing. The caller holds mu.
func (s *Service) newCode(sess *Session, purpose domain.CodePurpose, to string) (pendingCode, error) {
	code, err := domain.NewCode(s.cfg.Rand)
	if err != nil {
		return pendingCode{}, err
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
	// The code leaves the kiosk only sealed: a stolen database, or a
	// reader of the outbox, does not learn it.
	if m, err = s.cfg.Keys.SealMail(m); err != nil {
		return pendingCode{}, err
	}
	return pendingCode{mail: m, row: domain.OneTimeCode{
		UserID: sess.user.ID, Purpose: purpose, CardSerial: sess.card.Serial,
		Hash:      s.cfg.Keys.CodeHash(codeContext(purpose, sess.user.ID, sess.card.Serial, to), code),
		CreatedAt: now, ExpiresAt: expires, MaxTries: s.cfg.Codes.MaxTries,
	}}, nil
}

// storeCode writes a new code and its email through q, the caller's
// transaction, and returns the email's outbox ID.
func (s *Service) storeCode(ctx context.Context, q domain.Queries, c pendingCode) (int64, error) {
	if _, err := q.CreateCode(ctx, c.row); err != nil {
		return 0, fmt.Errorf("store code: %w", err)
	}
	m, err := q.EnqueueMail(ctx, c.mail)
	if err != nil {
		return 0, fmt.Errorf("queue email: %w", err)
	}
	return m.ID, nil
}

// issueCode is sendCode's transaction: first (if set), the code, its email
// and its audit row. It returns the outbox ID of the code's email.
func (s *Service) issueCode(ctx context.Context, sess *Session, c pendingCode, first func(q domain.Queries) error) (int64, error) {
	var mailID int64
	err := s.cfg.Store.InTx(ctx, func(q domain.Queries) error {
		if first != nil {
			if err := first(q); err != nil {
				return err
			}
		}
		var err error
		if mailID, err = s.storeCode(ctx, q, c); err != nil {
			return err
		}
		return s.audit(ctx, q, sess, domain.AuditCodeIssued, nil, string(c.row.Purpose))
	})
	if err != nil {
		return 0, err
	}
	return mailID, nil
}

// matchCode looks up the newest code of the purpose and says whether
// typed is it, sent to this card for the address to. It writes nothing:
// the error is why no code can be checked (none sent, expired, used up,
// or the store not answering). The caller holds mu.
func (s *Service) matchCode(ctx context.Context, sess *Session, purpose domain.CodePurpose, to, typed string) (c domain.OneTimeCode, right bool, err error) {
	c, err = s.cfg.Store.LatestCode(ctx, sess.user.ID, purpose)
	if errors.Is(err, domain.ErrNotFound) {
		return c, false, ErrOutOfTurn
	}
	if err != nil {
		return c, false, fmt.Errorf("look up code: %w", err)
	}
	if err := c.Usable(s.now()); err != nil {
		return c, false, err
	}
	right = c.CardSerial == sess.card.Serial &&
		s.cfg.Keys.CodeMatches(c.Hash, codeContext(purpose, sess.user.ID, sess.card.Serial, to), normaliseCode(typed))
	return c, right, nil
}

// wrongCode counts a wrong entry of code c and audits it, in one
// transaction, and returns what the holder is told: *CodeError with the
// tries left, domain.ErrCodeTriesExhausted, or a *CodeLimitError when no
// code works and none can be sent (the session then moves on as
// refuseCode says). The caller holds mu.
func (s *Service) wrongCode(ctx context.Context, sess *Session, purpose domain.CodePurpose, c domain.OneTimeCode) error {
	// Counted even if the holder pulls the card right now.
	rctx, cancel := domain.RecordContext(ctx)
	defer cancel()
	var (
		verdict error
		lim     *CodeLimitError
	)
	unknown := s.together(rctx, "wrong code", func(q domain.Queries) error {
		counted, err := s.queries(q).RecordCodeFailure(rctx, c.ID)
		switch {
		case errors.Is(err, domain.ErrCodeTriesExhausted):
			// Its last try went on another kiosk meanwhile: refused, not
			// counted (the audit row says so).
			verdict = fmt.Errorf("refused past the limit: %w", err)
		case err != nil && q != nil:
			return err
		case err != nil:
			verdict = fmt.Errorf("record wrong code: %w", err)
		case counted.Tries >= counted.MaxTries:
			verdict = domain.ErrCodeTriesExhausted
		default:
			verdict = &CodeError{TriesLeft: counted.MaxTries - counted.Tries}
		}
		// Read in the transaction, which has just used the code up.
		lim, verdict = s.codeVerdict(rctx, q, sess, purpose, verdict)
		return s.stepAudit(rctx, q, sess, domain.AuditCodeEntered, verdict, string(purpose))
	})
	if unknown != nil {
		return unknown
	}
	if lim != nil {
		s.refuseCode(sess, lim)
	}
	return verdict
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
// Right: the code is spent, and the holder has one code validity (15
// minutes) from now to set a new passcode. The code's use or wrong entry
// and its audit row are written in one transaction.
func (s *Service) EnterUnlockCode(ctx context.Context, sess *Session, code string) error {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if err := sess.at(StepCodeSent); err != nil {
		return err
	}
	const purpose = domain.PurposeUnlock
	c, right, err := s.matchCode(ctx, sess, purpose, sess.reg.Email, code)
	switch {
	case err != nil:
		// Nothing to write but the audit row.
		err = s.deadCode(ctx, sess, purpose, err)
		s.audit(ctx, nil, sess, domain.AuditCodeEntered, err, string(purpose))
		return err
	case !right:
		return s.wrongCode(ctx, sess, purpose, c)
	}
	var (
		verdict error // nil: the code is spent
		lim     *CodeLimitError
	)
	unknown := s.together(ctx, "unlock code", func(q domain.Queries) error {
		verdict, lim = nil, nil
		if err := s.queries(q).UseCode(ctx, c.ID, s.now()); err != nil {
			if q != nil && !codeDead(err) {
				return err // the store failed, not the code
			}
			// Used up, or expired, since it was looked up (another kiosk).
			lim, verdict = s.codeVerdict(ctx, q, sess, purpose, fmt.Errorf("use code: %w", err))
		}
		return s.stepAudit(ctx, q, sess, domain.AuditCodeEntered, verdict, string(purpose))
	})
	if unknown != nil {
		return unknown
	}
	if lim != nil {
		s.refuseCode(sess, lim)
	}
	if verdict != nil {
		return verdict
	}
	sess.grantExpiry = s.now().Add(s.cfg.Codes.Validity)
	sess.step = StepNewPasscode
	return nil
}

// CompleteUnlock sets the new passcode on the card with the card's PUK
// (which never leaves the kiosk's memory) and verifies it took; the holder
// is then emailed a notification. A policy failure leaves the step open.
//
// The unlock is written ahead (package cardwrite): its intent is in the
// store before the card is touched, and its outcome, audit row and
// notification go in together once the card has answered. If the card
// was unlocked but the store could not take the record, the session is
// unlocked all the same and the error says so: domain.ErrRecordDelayed
// (kept on this kiosk until the store is back) or domain.ErrNotRecorded.
func (s *Service) CompleteUnlock(ctx context.Context, sess *Session, card domain.Card, newPasscode, confirm string) error {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if err := sess.at(StepNewPasscode); err != nil {
		return err
	}
	if !s.now().Before(sess.grantExpiry) {
		sess.step = StepEnded
		s.audit(ctx, nil, sess, domain.AuditSelfUnlock, domain.ErrCodeExpired, "too late to set the passcode")
		return domain.ErrCodeExpired
	}
	if err := s.cfg.Passcodes.CheckConfirm(newPasscode, confirm); err != nil {
		return err
	}
	keys, err := s.cardKeys(ctx, sess.card.Serial)
	if err != nil {
		// The card was not touched, but the holder was turned away.
		s.audit(ctx, nil, sess, domain.AuditSelfUnlock, err, "")
		return err
	}
	defer clear(keys.PUK)
	clear(keys.MgmtKey) // not needed to unlock
	w, err := s.beginWrite(ctx, sess, domain.CardWriteSelfUnlock)
	if err != nil {
		// The card was not touched: the holder may try again.
		return fmt.Errorf("unlock smartcard: %w", err)
	}
	if err := card.Unlock(ctx, keys.PUK, newPasscode); err != nil {
		if errors.Is(err, domain.ErrCardSecretRejected) {
			// Trying again would spend the PUK's own tries: stop here.
			sess.step = StepEnded
		}
		if outcomeUnknown(err) {
			// The card may have taken the passcode before it went.
			s.leaveWrite(ctx, sess, w, err)
		} else {
			s.finishWrite(ctx, w, err, "", nil, nil) // a failure the holder is told of either way
		}
		return fmt.Errorf("unlock smartcard: %w", err)
	}
	sess.step = StepUnlocked
	sess.grantExpiry = time.Time{}
	s.readStatus(ctx, sess, card)
	// The holder's notification is also the alarm if it was not them.
	m := unlockedMail(sess.reg.Email, s.now())
	m.CreatedAt = s.now()
	return s.finishWrite(ctx, w, nil, "", []domain.Mail{m}, nil)
}

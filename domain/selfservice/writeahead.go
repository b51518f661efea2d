package selfservice

import (
	"context"
	"errors"
	"fmt"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/cardwrite"
)

// The self-service card writes (unlock, renewal) are recorded write-ahead
// through the service's cardwrite.Journal: beginWrite before the card is
// touched, finishWrite once it has answered. When a card is inserted,
// Identify first writes what this kiosk kept in its spool, then settles
// from the card's own state what earlier visits left open.

// beginWrite commits the intent to change the session's card; the caller
// holds sess.mu. If it fails, the card must not be touched.
func (s *Service) beginWrite(ctx context.Context, sess *Session, op domain.CardWriteOp) (domain.CardWriteIntent, error) {
	if sess.visit == "" {
		id, err := cardwrite.NewID(s.cfg.Rand)
		if err != nil {
			return domain.CardWriteIntent{}, err
		}
		sess.visit = id
	}
	return s.cfg.Journal.Begin(ctx, domain.CardWriteIntent{
		Op: op, Serial: sess.card.Serial, SubjectID: sess.user.ID, ActorID: sess.user.ID,
		Visit: sess.visit, Terminal: s.cfg.Terminal,
	})
}

// finishWrite records what the card did (cardErr nil: what was asked):
// the intent settled, its audit row, mails and renewal record, in one
// transaction the visit cannot cancel. See cardwrite.Journal.Finish for
// what it returns; the caller holds sess.mu.
func (s *Service) finishWrite(ctx context.Context, w domain.CardWriteIntent, cardErr error, detail string,
	mails []domain.Mail, renewal *domain.RenewalRecord) error {
	e := s.writeEvent(w, cardErr, detail)
	return s.cfg.Journal.Finish(ctx, domain.CardWriteOutcome{
		Intent: w, At: e.At, Outcome: e.Outcome, Detail: e.Detail, Audit: e, Mails: mails, Renewal: renewal,
	})
}

// finishPartWay records a write that stopped part-way, leaving keys on
// the card that its record does not match: a failure, and the card
// marked for an operator's repair. The caller holds sess.mu.
func (s *Service) finishPartWay(ctx context.Context, w domain.CardWriteIntent, cardErr error, detail string) error {
	e := s.writeEvent(w, cardErr, detail)
	return s.cfg.Journal.Finish(ctx, domain.CardWriteOutcome{
		Intent: w, At: e.At, Outcome: e.Outcome, Detail: e.Detail, Audit: e, NeedsRepair: true,
	})
}

// writeEvent is the audit row of a write's outcome, written by this kiosk.
func (s *Service) writeEvent(w domain.CardWriteIntent, err error, detail string) domain.AuditEvent {
	return domain.AuditEvent{
		At: s.now(), Action: w.Op.Action(), ActorID: w.ActorID, SubjectID: w.SubjectID, CardSerial: w.Serial, Role: w.Role,
		Terminal: s.cfg.Terminal, Detail: detail,
	}.Result(err)
}

// outcomeUnknown reports whether a card error leaves it unknown whether
// the card was changed: it went (or the kiosk stopped waiting) while the
// change was under way.
func outcomeUnknown(err error) bool {
	return errors.Is(err, domain.ErrCardRemoved) || errors.Is(err, domain.ErrNoCard) ||
		errors.Is(err, domain.ErrReaderUnavailable) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// leaveWrite leaves a write whose outcome is unknown open, for the card's
// state to settle when it is next inserted, and audits why; the caller
// holds sess.mu.
func (s *Service) leaveWrite(ctx context.Context, sess *Session, w domain.CardWriteIntent, err error) {
	s.cfg.Journal.Leave(w)
	s.audit(ctx, nil, sess, w.Op.Action(), err, "outcome unknown until the card is next inserted (intent "+w.ID+")")
}

// replaySpool writes the outcomes this kiosk kept while the store was
// away; no visit is served before they are in the store.
func (s *Service) replaySpool(ctx context.Context) error {
	if _, err := s.cfg.Journal.Replay(ctx); err != nil {
		return fmt.Errorf("write the card changes this kiosk kept while the service was away: %w", err)
	}
	return nil
}

// settleLeftOver settles, from what the card now says, the writes that
// earlier visits left open on this card (a kiosk stopped mid-write, or a
// card pulled during one). genuine is the genuine-card check's verdict;
// sess.status is what the card said of itself. It returns
// domain.ErrCardNeedsRepair if a renewal was left part-way. An outcome
// the store cannot take now is spooled, which is no reason to refuse the
// visit.
func (s *Service) settleLeftOver(ctx context.Context, sess *Session, genuine error) error {
	open, err := s.cfg.Journal.Open(ctx, sess.card.Serial)
	if err != nil {
		return err
	}
	var repair error
	for _, w := range open {
		o, verdict, ok := s.fromCard(ctx, sess, w, genuine)
		if !ok {
			s.cfg.Log.Info("card write left open: the card cannot tell its outcome", "intent", w.ID, "op", w.Op, "serial", w.Serial, "genuine", genuine)
			continue
		}
		if err := s.cfg.Journal.Finish(ctx, o); err != nil && !errors.Is(err, domain.ErrRecordDelayed) {
			return fmt.Errorf("settle an unfinished change to card %s: %w", w.Serial, err)
		}
		s.cfg.Log.Info("card write settled from the card", "intent", w.ID, "op", w.Op, "serial", w.Serial, "outcome", o.Outcome)
		if verdict != nil {
			repair = verdict
		}
	}
	return repair
}

// fromCard judges an open intent's outcome from the card's state; ok is
// false if the card cannot tell. verdict is the error the visit ends with
// (a renewal left part-way), if any.
func (s *Service) fromCard(ctx context.Context, sess *Session, w domain.CardWriteIntent, genuine error) (o domain.CardWriteOutcome, verdict error, ok bool) {
	var (
		failed  error
		because string
		mails   []domain.Mail
	)
	switch w.Op {
	case domain.CardWriteSelfUnlock:
		if genuine != nil {
			return o, nil, false // a card that is not proved genuine is no witness
		}
		if sess.status.Blocked {
			failed, because = errors.New("not done"), "the card is still blocked"
			break
		}
		// Not blocked: the passcode was reset. (A holder who came to set a
		// passcode they had forgotten had a card that was not blocked
		// either; the notification then errs on the side of telling them.)
		because = "the card is no longer blocked"
		if to := s.notifyAddress(ctx, w.SubjectID); to != "" {
			m := unlockedMail(to, w.StartedAt)
			m.CreatedAt = s.now()
			mails = append(mails, m)
		}
	case domain.CardWriteSelfRenew:
		switch {
		case genuine == nil:
			failed, because = errors.New("not done"), "the card still holds the key the service recorded"
		case errors.Is(genuine, domain.ErrCardNotGenuine):
			// The renewal put new keys on the card and stopped before they
			// were recorded: only an operator's repair can fix it.
			verdict = fmt.Errorf("a renewal stopped part-way on card %s: %w", w.Serial, domain.ErrCardNeedsRepair)
			failed, because = errors.New("stopped part-way"), "the card no longer holds the key the service recorded, so it needs repair"
		default:
			return o, nil, false // the card could not be asked
		}
	case domain.CardWriteChangePasscode:
		// A card does not say whether its passcode was changed: record
		// that the outcome is unknown rather than leave it open for ever.
		failed, because = errors.New("outcome unknown"), "the card cannot tell whether its passcode was changed"
	default:
		return o, nil, false // another workflow's write: that workflow settles it
	}
	detail := fmt.Sprintf("settled from the card when it was next inserted (%s; begun at %s, visit %s)", because, w.Terminal, w.Visit)
	e := s.writeEvent(w, failed, detail)
	return domain.CardWriteOutcome{Intent: w, At: e.At, Outcome: e.Outcome, Detail: e.Detail, Audit: e, Mails: mails,
		NeedsRepair: verdict != nil}, verdict, true
}

// notifyAddress is where the holder hears of a change to their card: the
// registered address, else the one on their record; "" if neither (the
// audit row is then the only record).
func (s *Service) notifyAddress(ctx context.Context, id domain.UserID) string {
	if r, err := s.cfg.Store.GetRegistration(ctx, id); err == nil && r.Email != "" {
		return r.Email
	}
	if u, err := s.cfg.Store.GetUser(ctx, id); err == nil {
		return u.Email
	}
	return ""
}

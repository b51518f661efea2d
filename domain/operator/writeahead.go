package operator

import (
	"context"
	"errors"
	"fmt"

	"github.com/smartcard-service-centre/kiosk/domain"
)

// Every operator card write (unlock, repair, assisted renewal) is written
// ahead through the service's cardwrite.Journal, as at the kiosk: the
// intent is committed before the card is touched, and the outcome with
// its audit row in one transaction the visit cannot cancel once the card
// has answered. When a holder's card is identified, what earlier writes
// left open on it is settled from the card's own state.

// intent is the write the session is about to make on the card in hand;
// the caller holds sess.mu.
func (s *Service) intent(sess *Session, op domain.CardWriteOp) domain.CardWriteIntent {
	h := sess.holder
	return domain.CardWriteIntent{Op: op, Serial: h.selected, SubjectID: h.user.ID, ActorID: sess.op.ID,
		Role: roleOf(sess.role).String(), Visit: sess.id, Terminal: s.cfg.Terminal}
}

// writeEvent is the audit row of a write's outcome, written here.
func (s *Service) writeEvent(w domain.CardWriteIntent, err error, detail string) domain.AuditEvent {
	e := domain.AuditEvent{
		At: s.now(), Action: w.Op.Action(), Outcome: domain.OutcomeSuccess,
		ActorID: w.ActorID, SubjectID: w.SubjectID, CardSerial: w.Serial, Role: w.Role,
		Terminal: s.cfg.Terminal, Detail: detail,
	}
	if err != nil {
		e.Outcome = domain.OutcomeFailure
		if e.Detail == "" {
			e.Detail = err.Error()
		} else {
			e.Detail += ": " + err.Error()
		}
	}
	return e
}

// finishWrite records what the card did (cardErr nil: what was asked);
// see cardwrite.Journal.Finish for what it returns.
func (s *Service) finishWrite(ctx context.Context, w domain.CardWriteIntent, cardErr error, detail string,
	renewal *domain.RenewalRecord, needsRepair bool) error {
	e := s.writeEvent(w, cardErr, detail)
	return s.cfg.Journal.Finish(ctx, domain.CardWriteOutcome{
		Intent: w, At: e.At, Outcome: e.Outcome, Detail: e.Detail, Audit: e, Renewal: renewal, NeedsRepair: needsRepair,
	})
}

// outcomeUnknown reports whether a card error leaves it unknown whether
// the card was changed: it went (or the terminal stopped waiting) while
// the change was under way.
func outcomeUnknown(err error) bool {
	return errors.Is(err, domain.ErrCardRemoved) || errors.Is(err, domain.ErrNoCard) ||
		errors.Is(err, domain.ErrReaderUnavailable) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// leaveWrite leaves a write whose outcome is unknown open, for the card's
// state to settle when it is next identified, and audits why.
func (s *Service) leaveWrite(ctx context.Context, w domain.CardWriteIntent, err error) {
	s.cfg.Journal.Leave(w)
	s.audit(ctx, nil, domain.AuditEvent{Action: w.Op.Action(), ActorID: w.ActorID, SubjectID: w.SubjectID, CardSerial: w.Serial,
		Role: w.Role, Detail: "outcome unknown until the card is next inserted (intent " + w.ID + ")"}, err)
}

// settleLeftOver settles, from what the card now says, the writes that
// earlier visits left open on it. genuine is the genuine-card check's
// verdict (nil or domain.ErrCardNotGenuine); st what the card said of
// itself. An outcome the store cannot take now is spooled, which is no
// reason to refuse the card.
func (s *Service) settleLeftOver(ctx context.Context, rec domain.Smartcard, st domain.CardStatus, genuine error) error {
	open, err := s.cfg.Journal.Open(ctx, rec.Serial)
	if err != nil {
		return err
	}
	for _, w := range open {
		o, ok := s.fromCard(w, st, genuine)
		if !ok {
			s.cfg.Log.Info("card write left open: this terminal does not settle it from the card", "intent", w.ID, "op", w.Op, "serial", w.Serial)
			continue
		}
		if err := s.cfg.Journal.Finish(ctx, o); err != nil && !errors.Is(err, domain.ErrRecordDelayed) {
			return fmt.Errorf("settle an unfinished change to card %s: %w", w.Serial, err)
		}
		s.cfg.Log.Info("card write settled from the card", "intent", w.ID, "op", w.Op, "serial", w.Serial, "outcome", o.Outcome)
	}
	return nil
}

// fromCard judges an open intent's outcome from the card's state; ok is
// false if it does not (another workflow's write, or a card that is no
// witness).
func (s *Service) fromCard(w domain.CardWriteIntent, st domain.CardStatus, genuine error) (o domain.CardWriteOutcome, ok bool) {
	var (
		failed      error
		because     string
		needsRepair bool
	)
	switch {
	case w.Op == domain.CardWriteOperatorUnlock:
		if genuine != nil {
			return o, false // a card that is not proved genuine is no witness
		}
		if st.Blocked {
			failed, because = errors.New("not done"), "the card is still blocked"
		} else {
			because = "the card is no longer blocked"
		}
	case w.Op.ChangesKeys():
		if genuine == nil {
			failed, because = errors.New("not done"), "the card still holds the key the service recorded"
		} else {
			failed, because = errors.New("stopped part-way"), "the card no longer holds the key the service recorded, so it needs repair"
			needsRepair = true
		}
	default:
		// The kiosk settles its own unlocks, with the holder's
		// notification.
		return o, false
	}
	detail := fmt.Sprintf("settled from the card when it was next inserted (%s; begun at %s, visit %s)", because, w.Terminal, w.Visit)
	e := s.writeEvent(w, failed, detail)
	return domain.CardWriteOutcome{Intent: w, At: e.At, Outcome: e.Outcome, Detail: e.Detail, Audit: e, NeedsRepair: needsRepair}, true
}

package operator

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/secret"
)

// Check says why the service cannot be done now for the card holder in
// hand, or nil: the screens use it to offer only what would work, and
// say why the rest would not. It reads nothing from the store or the
// card and audits nothing; each service checks again, fresh, when called.
func (s *Service) Check(sess *Session, svc domain.Service) error {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if err := sess.at(StepReady); err != nil {
		return err
	}
	if !sess.role.Allows(svc) {
		return &PermissionError{Service: svc, Role: roleOf(sess.role).String()}
	}
	h := sess.holder
	if h == nil {
		return ErrNoHolder
	}
	rec, _ := h.record()
	return s.ready(sess, h, rec, svc)
}

// ready says why svc cannot be done on the holder in hand, judging the
// selected card by rec; the caller holds mu.
func (s *Service) ready(sess *Session, h *holder, rec domain.Smartcard, svc domain.Service) error {
	if h.user.ID == sess.op.ID {
		return domain.ErrOwnCard
	}
	now := s.now()
	switch svc {
	case domain.ServiceUnlock, domain.ServiceAssistedRenewal, domain.ServiceRepair:
		switch {
		case h.card == nil:
			return ErrNoHolderCard
		case !rec.Active():
			return &domain.CancelledError{Reason: domain.CleanText(rec.CancelReason)}
		case svc == domain.ServiceRepair:
			return s.cfg.Renewal.CheckRepair(rec, now)
		case !h.genuine || rec.NeedsRepair:
			// Its PUK or keys may not be the recorded ones: only Repair
			// knows to try them all.
			return domain.ErrCardNeedsRepair
		case svc == domain.ServiceAssistedRenewal:
			return s.cfg.Renewal.CheckAssistedRenewal(rec, now)
		}
	case domain.ServiceCancel:
		switch {
		case h.selected == "":
			return ErrNoCardSelected
		case !rec.Active():
			return &domain.CancelledError{Reason: domain.CleanText(rec.CancelReason)}
		}
	case domain.ServiceClearLockOut:
		switch {
		case h.reg == nil:
			return domain.ErrNotRegistered
		case !h.reg.LockedOut() && h.reg.FailedAttempts == 0:
			return domain.ErrNotLockedOut
		}
	}
	return nil
}

// start admits a service call: the session logged in with a role, not
// idle too long, and the role allowing the service (a refusal is
// audited). The caller holds mu.
func (s *Service) start(ctx context.Context, sess *Session, svc domain.Service) error {
	if err := s.guard(ctx, sess, StepReady); err != nil {
		return err
	}
	if sess.role.Allows(svc) {
		return nil
	}
	err := &PermissionError{Service: svc, Role: roleOf(sess.role).String()}
	s.audit(ctx, nil, sess.event(domain.AuditServiceRefused, string(svc)), err)
	return err
}

// refuse audits a refused service and returns err.
func (s *Service) refuse(ctx context.Context, sess *Session, action domain.AuditAction, err error) error {
	s.audit(ctx, nil, sess.event(action, ""), err)
	return err
}

// cardReady is the selected card in the holder's reader, fresh from the
// store, if svc can be done on it; a refusal is audited. The caller
// holds mu.
func (s *Service) cardReady(ctx context.Context, sess *Session, svc domain.Service, action domain.AuditAction) (*holder, domain.Smartcard, error) {
	h, rec, err := s.cardInHand(ctx, sess)
	if err == nil {
		err = s.ready(sess, h, rec, svc)
	}
	if err != nil {
		return nil, rec, s.refuse(ctx, sess, action, err)
	}
	return h, rec, nil
}

// readStatus reads back what the card says of its passcode after it took
// a new one, rather than assume its counter; if it cannot say (pulled
// just now), the passcode it has just accepted means it is not blocked
// and its counter is full. The caller holds mu.
func (s *Service) readStatus(ctx context.Context, h *holder) {
	st, err := h.card.Status(ctx)
	if err == nil && st.Serial == h.selected {
		h.status = st
		return
	}
	s.cfg.Log.Warn("read the card's status after it took the passcode", "serial", h.selected, "err", err, "answered", st.Serial)
	h.status = domain.CardStatus{Serial: h.selected, PasscodeTriesLeft: domain.PasscodeTries}
}

// UnlockCard is Unlock Smartcard (seed 000, B1300 or B0263): the card
// holder, handed the keyboard, types their new passcode twice; it is
// checked against the policy and set on the card with the card's PUK,
// which never leaves this terminal's memory, then verified by the card.
// The card must be in the holder's reader, identified and genuine.
//
// The unlock is written ahead. If the card was unlocked but the store
// could not take the record, it is unlocked all the same and the error
// says so (domain.ErrRecordDelayed or domain.ErrNotRecorded).
func (s *Service) UnlockCard(ctx context.Context, sess *Session, newPasscode, confirm string) error {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if err := s.start(ctx, sess, domain.ServiceUnlock); err != nil {
		return err
	}
	h, rec, err := s.cardReady(ctx, sess, domain.ServiceUnlock, domain.AuditOperatorUnlock)
	if err != nil {
		return err
	}
	if err := s.cfg.Passcodes.CheckConfirm(newPasscode, confirm); err != nil {
		return err
	}
	keys, err := s.cardKeys(ctx, rec.Serial)
	if err != nil {
		return s.refuse(ctx, sess, domain.AuditOperatorUnlock, err)
	}
	defer clearKeys(keys)
	w, err := s.cfg.Journal.Begin(ctx, s.intent(sess, domain.CardWriteOperatorUnlock))
	if err != nil {
		// The card was not touched: the operator may try again.
		return fmt.Errorf("unlock smartcard: %w", err)
	}
	if err := h.card.Unlock(ctx, keys.PUK, newPasscode); err != nil {
		if outcomeUnknown(err) {
			// The card may have taken the passcode before it went.
			h.card = nil
			s.leaveWrite(ctx, w, err)
		} else {
			s.finishWrite(ctx, w, err, "", nil, false)
		}
		return fmt.Errorf("unlock smartcard: %w", err)
	}
	s.readStatus(ctx, h)
	return s.finishWrite(ctx, w, nil, "", nil, false)
}

// RenewCard is Assisted renewal (B1300 or B0263): new keys and 2-year
// certificates for a genuine card inside its renewal window, whether or
// not the holder could renew it alone (an operator's renewal starts the
// count of self-renewals again). An expired card needs Repair. The PUK
// and management key are kept.
//
// It is written ahead; a renewal that stopped once the card had new keys
// marks the card for repair and returns domain.ErrCardNeedsRepair.
func (s *Service) RenewCard(ctx context.Context, sess *Session) error {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if err := s.start(ctx, sess, domain.ServiceAssistedRenewal); err != nil {
		return err
	}
	h, rec, err := s.cardReady(ctx, sess, domain.ServiceAssistedRenewal, domain.AuditAssistedRenewal)
	if err != nil {
		return err
	}
	keys, err := s.cardKeys(ctx, rec.Serial)
	if err != nil {
		return s.refuse(ctx, sess, domain.AuditAssistedRenewal, err)
	}
	defer clearKeys(keys)
	w, err := s.cfg.Journal.Begin(ctx, s.intent(sess, domain.CardWriteAssistedRenewal))
	if err != nil {
		return fmt.Errorf("renew certificates: %w", err)
	}
	now := s.now()
	expiry := s.cfg.Renewal.Expiry(now)
	var c certified
	err = h.card.Personalise(ctx, domain.PersonaliseRequest{
		Serial: rec.Serial, CHUIDExpiry: expiry, Current: keys, New: keys,
		Certify: c.by(s.cfg.CA, h.user.ID, rec.Serial, now, expiry),
	})
	if err != nil {
		return s.failedPersonalise(ctx, h, w, c, err, "renew certificates", "")
	}
	return s.personalised(ctx, h, w, rec, c, expiry, false)
}

// RepairCard is Repair Smartcard (seed 001, B0267): for a card whose
// certificates have expired, that is at capacity (its next renewal needs
// an operator) or that a write left part-way (NeedsRepair). The holder
// sets their passcode (typed twice, policy-checked), then the card gets
// new 9A and 9E keys with 2-year certificates from the service CA naming
// its serial, and a new random PUK and management key. The count of
// self-renewals starts again.
//
// The new secrets are sealed into the store with the write's intent
// before the card is touched, so the store has whatever the card ends up
// holding. Because a repair that stopped part-way can leave the card with
// either the recorded secrets or those of that repair, the PUK and
// management key are tried in turn: the recorded ones first, then those
// of unfinished repairs, newest first; never so many PUKs that a wrong
// one would block it. A card admitted without proving itself genuine
// (NeedsRepair) is trusted on the operator's identity check of the person
// in front of them, as a new card would be.
func (s *Service) RepairCard(ctx context.Context, sess *Session, newPasscode, confirm string) error {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if err := s.start(ctx, sess, domain.ServiceRepair); err != nil {
		return err
	}
	h, rec, err := s.cardReady(ctx, sess, domain.ServiceRepair, domain.AuditOperatorRepair)
	if err != nil {
		return err
	}
	if err := s.cfg.Passcodes.CheckConfirm(newPasscode, confirm); err != nil {
		return err
	}
	cands, err := s.candidates(ctx, rec.Serial)
	if err != nil {
		return s.refuse(ctx, sess, domain.AuditOperatorRepair, err)
	}
	defer func() {
		for _, k := range cands {
			clearKeys(k)
		}
	}()
	now := s.now()
	next, sealed, err := s.newSecrets(rec.Serial, now)
	if err != nil {
		return s.refuse(ctx, sess, domain.AuditOperatorRepair, err)
	}
	defer clearKeys(next)
	w, err := s.cfg.Journal.BeginRekey(ctx, s.intent(sess, domain.CardWriteOperatorRepair), sealed)
	if err != nil {
		return fmt.Errorf("repair smartcard: %w", err)
	}

	// 1. The holder's passcode, set with the PUK the card holds (which
	// also tells which candidate's PUK that is).
	i, err := unlockWithAny(ctx, h.card, cands, newPasscode)
	if err != nil {
		if outcomeUnknown(err) {
			h.card = nil
			s.leaveWrite(ctx, w, err)
		} else {
			s.finishWrite(ctx, w, err, "the passcode was not set and nothing was changed", nil, false)
		}
		return fmt.Errorf("repair smartcard: %w", err)
	}
	s.readStatus(ctx, h)

	// 2. New keys, certificates and secrets, authenticated with the
	// management key the card holds: a wrong one changes nothing.
	expiry := s.cfg.Renewal.Expiry(now)
	var c certified
	for _, mk := range mgmtOrder(cands, i) {
		c = certified{}
		err = h.card.Personalise(ctx, domain.PersonaliseRequest{
			Serial: rec.Serial, CHUIDExpiry: expiry,
			Current: domain.CardKeys{MgmtAlg: mk.MgmtAlg, MgmtKey: mk.MgmtKey, PUK: cands[i].PUK}, New: next,
			Certify: c.by(s.cfg.CA, h.user.ID, rec.Serial, now, expiry),
		})
		if !errors.Is(err, domain.ErrCardSecretRejected) || c.keysMade {
			break
		}
	}
	if err != nil {
		return s.failedPersonalise(ctx, h, w, c, err, "repair smartcard", "the passcode was set")
	}
	return s.personalised(ctx, h, w, rec, c, expiry, true)
}

// candidates are the secrets the card may hold, each once: the recorded
// ones, then the pending ones of repairs never adopted, newest first.
func (s *Service) candidates(ctx context.Context, serial domain.CardSerial) ([]domain.CardKeys, error) {
	var sealed []domain.CardSecrets
	recorded, err := s.cfg.Store.GetCardSecrets(ctx, serial)
	switch {
	case err == nil:
		sealed = append(sealed, recorded)
	case !errors.Is(err, domain.ErrNotFound):
		return nil, fmt.Errorf("look up card secrets: %w", err)
	}
	pending, err := s.cfg.Store.PendingSecrets(ctx, serial)
	if err != nil {
		return nil, fmt.Errorf("look up card secrets: %w", err)
	}
	var out []domain.CardKeys
	for _, cs := range append(sealed, pending...) {
		k, err := s.open(cs)
		if err != nil {
			for _, o := range out {
				clearKeys(o)
			}
			return nil, err
		}
		dup := false
		for _, o := range out {
			dup = dup || o.MgmtAlg == k.MgmtAlg && bytes.Equal(o.MgmtKey, k.MgmtKey) && bytes.Equal(o.PUK, k.PUK)
		}
		if dup {
			clearKeys(k)
			continue
		}
		out = append(out, k)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("look up card secrets: %w", domain.ErrNotFound)
	}
	return out, nil
}

// newSecrets draws a new PUK and AES-256 management key and seals them.
func (s *Service) newSecrets(serial domain.CardSerial, now time.Time) (domain.CardKeys, domain.CardSecrets, error) {
	puk, err := secret.NewPUK(s.cfg.Rand)
	if err != nil {
		return domain.CardKeys{}, domain.CardSecrets{}, err
	}
	mk, err := secret.NewManagementKey(s.cfg.Rand)
	if err != nil {
		return domain.CardKeys{}, domain.CardSecrets{}, err
	}
	next := domain.CardKeys{MgmtAlg: "AES256", MgmtKey: mk, PUK: puk}
	sealed, err := s.cfg.Keys.SealCard(serial, puk, next.MgmtAlg, mk, now)
	if err != nil {
		clearKeys(next)
		return domain.CardKeys{}, domain.CardSecrets{}, err
	}
	return next, sealed, nil
}

// unlockWithAny sets the passcode with the first candidate PUK the card
// takes and returns that candidate's index. It stops before a wrong PUK
// could block the card's PUK: a right one resets its counter.
func unlockWithAny(ctx context.Context, card domain.Card, cands []domain.CardKeys, passcode string) (int, error) {
	var (
		err   error
		tried [][]byte
	)
	for i, k := range cands {
		if containsBytes(tried, k.PUK) {
			continue
		}
		if err = card.Unlock(ctx, k.PUK, passcode); !errors.Is(err, domain.ErrCardSecretRejected) {
			return i, err
		}
		if tried = append(tried, k.PUK); len(tried) >= domain.PUKTries-1 {
			break
		}
	}
	return -1, err
}

// mgmtOrder lists the candidates' management keys to try: the one that
// came with the PUK the card took first, then the others, each once.
func mgmtOrder(cands []domain.CardKeys, first int) []domain.CardKeys {
	out := []domain.CardKeys{cands[first]}
	for i, k := range cands {
		if i == first {
			continue
		}
		dup := false
		for _, o := range out {
			dup = dup || o.MgmtAlg == k.MgmtAlg && bytes.Equal(o.MgmtKey, k.MgmtKey)
		}
		if !dup {
			out = append(out, k)
		}
	}
	return out
}

func containsBytes(list [][]byte, b []byte) bool {
	for _, x := range list {
		if bytes.Equal(x, b) {
			return true
		}
	}
	return false
}

// certified collects the certificates a personalisation issued.
type certified struct {
	pivAuth, cardAuth []byte
	// keysMade: Certify was called, so the card had already made a new
	// key, whether or not its certificate could then be issued.
	keysMade bool
}

// by is a PersonaliseRequest.Certify issuing the card's certificates
// from ca, collecting them.
func (c *certified) by(ca domain.CertificateAuthority, user domain.UserID, serial domain.CardSerial, from, to time.Time) func(domain.KeySlot, crypto.PublicKey) ([]byte, error) {
	return func(slot domain.KeySlot, pub crypto.PublicKey) ([]byte, error) {
		c.keysMade = true
		der, err := ca.Issue(pub, user, serial, slot, from, to)
		switch slot {
		case domain.KeyPIVAuth:
			c.pivAuth = der
		case domain.KeyCardAuth:
			c.cardAuth = der
		}
		return der, err
	}
}

// any reports whether the card may hold a new key: one was made, or the
// card went (or stopped answering) before it could say, so it may have
// made one.
func (c certified) any(err error) bool {
	return c.keysMade || outcomeUnknown(err) && !errors.Is(err, domain.ErrCardSecretRejected)
}

// failedPersonalise records a personalisation that failed. Whether a new
// key was made tells how far it got, so the outcome is known even if the
// card was pulled: before, nothing changed; after, the card holds keys
// (and perhaps secrets) its record does not, so it is marked for repair.
// The caller holds mu.
func (s *Service) failedPersonalise(ctx context.Context, h *holder, w domain.CardWriteIntent, c certified, err error, what, done string) error {
	if outcomeUnknown(err) {
		h.card = nil
	}
	if !c.any(err) {
		detail := "no new keys were made"
		if done != "" {
			detail = done + "; " + detail
		}
		s.finishWrite(ctx, w, err, detail, nil, false)
		return fmt.Errorf("%s: %w", what, err)
	}
	detail := "stopped part-way, so the card needs repair"
	if done != "" {
		detail = done + "; " + detail
	}
	s.finishWrite(ctx, w, err, detail, nil, true)
	if rec, ok := h.record(); ok {
		rec.NeedsRepair = true
		h.update(rec)
	}
	h.genuine = false
	return fmt.Errorf("%s: %w (%w)", what, err, domain.ErrCardNeedsRepair)
}

// personalised records a personalisation the card completed: new
// certificates (and, rekeyed, the new secrets adopted). A record the
// store refused, or that could not be kept at all, leaves a card the
// service cannot vouch for: domain.ErrCardNeedsRepair. The caller holds
// mu.
func (s *Service) personalised(ctx context.Context, h *holder, w domain.CardWriteIntent, rec domain.Smartcard, c certified, expiry time.Time, rekeyed bool) error {
	err := s.finishWrite(ctx, w, nil, "certificates valid until "+expiry.Format("2 January 2006"),
		&domain.RenewalRecord{CertExpiry: expiry, CardAuthCert: c.cardAuth, PIVAuthCert: c.pivAuth, Operator: true, Rekeyed: rekeyed}, false)
	if err != nil && !errors.Is(err, domain.ErrRecordDelayed) {
		s.cfg.Log.Error("record card write", "serial", rec.Serial, "op", w.Op, "err", err)
		return fmt.Errorf("the card was changed but the service could not record it: %w (%w)", err, domain.ErrCardNeedsRepair)
	}
	rec.CertExpiry, rec.CardAuthCert, rec.PIVAuthCert = expiry, c.cardAuth, c.pivAuth
	rec.RenewalsSinceOperator, rec.NeedsRepair = 0, false
	h.update(rec)
	h.genuine = true
	return err // nil, or recorded once the store is back
}

// CancelSmartcard is Cancel Smartcard (B1300, B0263 or B0267): the
// selected card is cancelled for reason (with the operator's words, which
// CancelOther needs) and refused everywhere from then on, the kiosk
// included. The card need not be in the reader: a lost or stolen one
// never is.
func (s *Service) CancelSmartcard(ctx context.Context, sess *Session, reason domain.CancelReason, text string) error {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if err := s.start(ctx, sess, domain.ServiceCancel); err != nil {
		return err
	}
	h := sess.holder
	if h == nil {
		return s.refuse(ctx, sess, domain.AuditCardCancelled, ErrNoHolder)
	}
	if h.selected == "" {
		return s.refuse(ctx, sess, domain.AuditCardCancelled, ErrNoCardSelected)
	}
	rec, err := s.cfg.Store.GetSmartcard(ctx, h.selected)
	if err != nil {
		return s.refuse(ctx, sess, domain.AuditCardCancelled, fmt.Errorf("look up smartcard: %w", err))
	}
	h.update(rec)
	if err := s.ready(sess, h, rec, domain.ServiceCancel); err != nil {
		return s.refuse(ctx, sess, domain.AuditCardCancelled, err)
	}
	why, err := reason.Record(text)
	if err != nil {
		return err
	}
	now := s.now()
	err = s.cfg.Store.InTx(ctx, func(q domain.Queries) error {
		if err := q.CancelSmartcard(ctx, rec.Serial, now, why); err != nil {
			return err
		}
		return s.audit(ctx, q, sess.event(domain.AuditCardCancelled, why), nil)
	})
	if err != nil {
		if errors.Is(err, domain.ErrCardCancelled) {
			// Another operator was quicker; theirs stands.
			err = &domain.CancelledError{}
		}
		return s.refuse(ctx, sess, domain.AuditCardCancelled, err)
	}
	rec.CancelledAt, rec.CancelReason = now, why
	h.update(rec)
	if h.card != nil {
		h.card, h.status, h.genuine = nil, domain.CardStatus{}, false
	}
	return nil
}

// ClearLockOut is Clear self-service lock-out (B1300 or B0263): the
// holder's failed self-service attempts and lock-out are cleared, so
// they can use the kiosk again.
func (s *Service) ClearLockOut(ctx context.Context, sess *Session) error {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if err := s.start(ctx, sess, domain.ServiceClearLockOut); err != nil {
		return err
	}
	h := sess.holder
	if h == nil {
		return s.refuse(ctx, sess, domain.AuditLockOutCleared, ErrNoHolder)
	}
	if err := s.loadRegistration(ctx, h); err != nil {
		return s.refuse(ctx, sess, domain.AuditLockOutCleared, err)
	}
	rec, _ := h.record()
	if err := s.ready(sess, h, rec, domain.ServiceClearLockOut); err != nil {
		return s.refuse(ctx, sess, domain.AuditLockOutCleared, err)
	}
	detail := fmt.Sprintf("%d failed attempts", h.reg.FailedAttempts)
	if h.reg.LockedOut() {
		detail += ", locked out since " + h.reg.LockedOutAt.UTC().Format(time.RFC3339)
	}
	err := s.cfg.Store.InTx(ctx, func(q domain.Queries) error {
		if err := q.ResetFailedAttempts(ctx, h.user.ID); err != nil {
			return err
		}
		return s.audit(ctx, q, sess.event(domain.AuditLockOutCleared, detail), nil)
	})
	if err != nil {
		return s.refuse(ctx, sess, domain.AuditLockOutCleared, fmt.Errorf("clear lock-out: %w", err))
	}
	h.reg.FailedAttempts, h.reg.LockedOutAt = 0, time.Time{}
	return nil
}

// AuditPage is one page of a card holder's audit trail, newest first.
type AuditPage struct {
	// Events are cleaned of control sequences, ready to draw.
	Events []domain.AuditEvent
	// Next is what to pass for the following page; 0 if this is the last.
	Next int64
}

// AuditTrail is View audit trail (B1300, B0263 or B0267): the holder's
// events and their selected card's, newest first, a page at a time;
// before is 0 for the first page, then the last page's Next. Opening the
// trail (the first page) is itself audited.
func (s *Service) AuditTrail(ctx context.Context, sess *Session, before int64) (AuditPage, error) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if err := s.start(ctx, sess, domain.ServiceAuditTrail); err != nil {
		return AuditPage{}, err
	}
	h := sess.holder
	if h == nil {
		return AuditPage{}, s.refuse(ctx, sess, domain.AuditTrailViewed, ErrNoHolder)
	}
	if h.user.ID == sess.op.ID {
		// Never reachable through OpenUser or IdentifyHolder, which refuse
		// the operator's own record; checked here too, as every service is.
		return AuditPage{}, s.refuse(ctx, sess, domain.AuditTrailViewed, domain.ErrOwnCard)
	}
	n := s.cfg.AuditPageSize
	evs, err := s.cfg.Store.ListAudit(ctx, domain.AuditFilter{
		SubjectID: h.user.ID, CardSerial: h.selected, SubjectOrCard: true, BeforeID: max(before, 0), Limit: n + 1,
	})
	if before <= 0 {
		s.audit(ctx, nil, sess.event(domain.AuditTrailViewed, ""), err)
	}
	if err != nil {
		return AuditPage{}, fmt.Errorf("read audit trail: %w", err)
	}
	var page AuditPage
	if len(evs) > n {
		evs, page.Next = evs[:n], evs[n-1].ID
	}
	for _, e := range evs {
		e.Role, e.Terminal, e.Detail, e.MAC = domain.CleanText(e.Role), domain.CleanText(e.Terminal), domain.CleanText(e.Detail), nil
		page.Events = append(page.Events, e)
	}
	return page, nil
}

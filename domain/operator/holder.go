package operator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
)

// DateLayout is how the Smartcard Details table writes dates (seed 000
// Fig 7: "1-Nov-2014").
const DateLayout = "2-Jan-2006"

// holder is the card holder in hand: found by their card or by a search,
// with the card selected for service and, once identified in the
// holder's reader, that card.
type holder struct {
	user      domain.User
	positions []domain.Position
	cards     []domain.Smartcard
	reg       *domain.Registration
	selected  domain.CardSerial
	// bySearch: the holder was found by a search, so the card inserted
	// must be theirs (the selected one); else a new card replaces them.
	bySearch bool
	// card is the selected card, in the holder's reader and identified;
	// nil until then, and once it is removed.
	card    domain.Card
	status  domain.CardStatus
	genuine bool // proved by its Card Authentication key; false: Repair only
}

// record is the selected card's record as last read.
func (h *holder) record() (domain.Smartcard, bool) {
	for _, c := range h.cards {
		if c.Serial == h.selected {
			return c, true
		}
	}
	return domain.Smartcard{}, false
}

// update replaces the selected card's cached record.
func (h *holder) update(rec domain.Smartcard) {
	for i, c := range h.cards {
		if c.Serial == rec.Serial {
			h.cards[i] = rec
		}
	}
}

// UserSummary is one user a search found, with what tells people of one
// name apart before either is opened, read in the search's one query.
type UserSummary struct {
	UserID domain.UserID
	Name   string
	// Cards are the user's cards, newest issue first (as HolderDetails).
	Cards      []CardDetails
	Registered bool // for self-service
	LockedOut  bool // out of self-service
}

// CardDetails is one row of the Smartcard Details table (seed 000 Fig 7).
type CardDetails struct {
	Serial     domain.CardSerial
	Type       string
	IssuedAt   time.Time
	CertExpiry time.Time
	// CancelledAt is zero while the card is active ("Active" in the table).
	CancelledAt  time.Time
	CancelReason string
	Expired      bool // the certificates have expired
	NeedsRepair  bool // a write stopped part-way: only Repair fixes it
	Renewals     int  // self-renewals since an operator last serviced it
}

// Active reports whether the card has not been cancelled.
func (c CardDetails) Active() bool { return c.CancelledAt.IsZero() }

// HolderDetails is what the User Details page shows of the card holder in
// hand: nothing secret, text cleaned of control sequences.
type HolderDetails struct {
	UserID    domain.UserID
	Name      string
	Positions []Role
	Photo     []byte // PNG, for "check this is the person in front of you"
	// Cards are the user's cards, newest issue first.
	Cards []CardDetails
	// Selected is the card the services act on: the card inserted, or
	// after a search the latest in-date one ("" if there is none).
	Selected domain.CardSerial
	// CardIn: the selected card is in the holder's reader, identified.
	CardIn bool
	// Genuine: the card in the reader proved itself with its Card
	// Authentication key. A card that could not, but that a write left
	// part-way (NeedsRepair), is admitted for Repair only.
	Genuine   bool
	Blocked   bool // the card in the reader: its passcode is blocked
	TriesLeft int
	// The holder's self-service registration, for Clear self-service
	// lock-out.
	Registered     bool
	LockedOut      bool
	FailedAttempts int
}

// details describes the holder; the caller holds mu.
func (s *Service) details(h *holder) HolderDetails {
	now := s.now()
	d := HolderDetails{
		UserID: h.user.ID, Name: domain.CleanText(h.user.DisplayName()), Photo: h.user.Photo,
		Selected: h.selected, CardIn: h.card != nil,
	}
	for _, p := range h.positions {
		d.Positions = append(d.Positions, roleOf(p))
	}
	for _, c := range h.cards {
		d.Cards = append(d.Cards, cardDetails(c, now))
	}
	if h.card != nil {
		d.Genuine, d.Blocked, d.TriesLeft = h.genuine, h.status.Blocked, h.status.PasscodeTriesLeft
	}
	if h.reg != nil {
		d.Registered, d.LockedOut, d.FailedAttempts = true, h.reg.LockedOut(), h.reg.FailedAttempts
	}
	return d
}

// cardDetails is a card as a row of the Smartcard Details table.
func cardDetails(c domain.Smartcard, now time.Time) CardDetails {
	return CardDetails{
		Serial: c.Serial, Type: domain.CleanText(c.Type), IssuedAt: c.IssuedAt, CertExpiry: c.CertExpiry,
		CancelledAt: c.CancelledAt, CancelReason: domain.CleanText(c.CancelReason), Expired: c.Expired(now),
		NeedsRepair: c.NeedsRepair, Renewals: c.RenewalsSinceOperator,
	}
}

// Holder describes the card holder in hand; false if there is none.
func (s *Service) Holder(sess *Session) (HolderDetails, bool) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.holder == nil || sess.live() != nil {
		return HolderDetails{}, false
	}
	return s.details(sess.holder), true
}

// latestInDate is the card seed 002 tells the operator to pick: active,
// certificates not expired, issued last; "" if there is none.
func latestInDate(cards []domain.Smartcard, now time.Time) domain.CardSerial {
	var best *domain.Smartcard
	for i, c := range cards {
		if c.Active() && !c.Expired(now) && (best == nil || !c.IssuedAt.Before(best.IssuedAt)) {
			best = &cards[i]
		}
	}
	if best == nil {
		return ""
	}
	return best.Serial
}

// load reads a user's details and cards (newest issue first).
func (s *Service) load(ctx context.Context, id domain.UserID) (*holder, error) {
	u, err := s.cfg.Store.GetUser(ctx, id)
	if errors.Is(err, domain.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", domain.ErrUserNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("look up user: %w", err)
	}
	h := &holder{user: u}
	if h.positions, err = s.cfg.Store.ListPositions(ctx, id); err != nil {
		return nil, fmt.Errorf("look up positions: %w", err)
	}
	if h.cards, err = s.cfg.Store.ListSmartcards(ctx, id); err != nil {
		return nil, fmt.Errorf("look up smartcards: %w", err)
	}
	slices.SortStableFunc(h.cards, func(a, b domain.Smartcard) int { return b.IssuedAt.Compare(a.IssuedAt) })
	if err := s.loadRegistration(ctx, h); err != nil {
		return nil, err
	}
	return h, nil
}

func (s *Service) loadRegistration(ctx context.Context, h *holder) error {
	r, err := s.cfg.Store.GetRegistration(ctx, h.user.ID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		h.reg = nil
	case err != nil:
		return fmt.Errorf("look up registration: %w", err)
	default:
		h.reg = &r
	}
	return nil
}

// FindUsers searches users by 12-digit user ID (with or without spaces)
// or by part of a name (seed 002's way in for Local Smartcard
// Administrators).
func (s *Service) FindUsers(ctx context.Context, sess *Session, query string) ([]UserSummary, error) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if err := s.guard(ctx, sess, StepReady); err != nil {
		return nil, err
	}
	us, err := s.cfg.Store.SearchUsers(ctx, query, SearchLimit)
	e := sess.event(domain.AuditUserSearch, fmt.Sprintf("%q: %d found", domain.CleanText(query), len(us)))
	e.SubjectID, e.CardSerial = "", ""
	s.audit(ctx, nil, e, err)
	if err != nil {
		return nil, fmt.Errorf("search users: %w", err)
	}
	now := s.now()
	out := make([]UserSummary, len(us))
	for i, m := range us {
		sum := UserSummary{UserID: m.User.ID, Name: domain.CleanText(m.User.DisplayName())}
		cards := slices.Clone(m.Cards)
		slices.SortStableFunc(cards, func(a, b domain.Smartcard) int { return b.IssuedAt.Compare(a.IssuedAt) })
		for _, c := range cards {
			sum.Cards = append(sum.Cards, cardDetails(c, now))
		}
		if r := m.Registration; r != nil {
			sum.Registered, sum.LockedOut = true, r.LockedOut()
		}
		out[i] = sum
	}
	return out, nil
}

// OpenUser makes a user found by a search the card holder in hand, with
// their latest in-date card selected; the card itself must then be
// inserted (IdentifyHolder) before any service that needs it. An
// operator's own record is refused (domain.ErrOwnCard).
func (s *Service) OpenUser(ctx context.Context, sess *Session, id domain.UserID) (HolderDetails, error) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if err := s.guard(ctx, sess, StepReady); err != nil {
		return HolderDetails{}, err
	}
	sess.holder = nil
	refuse := func(err error) (HolderDetails, error) {
		e := sess.event(domain.AuditUserViewed, "")
		e.SubjectID = id
		s.audit(ctx, nil, e, err)
		return HolderDetails{}, err
	}
	if id == sess.op.ID {
		return refuse(domain.ErrOwnCard)
	}
	h, err := s.load(ctx, id)
	if err != nil {
		return refuse(err)
	}
	h.selected, h.bySearch = latestInDate(h.cards, s.now()), true
	sess.holder = h
	s.audit(ctx, nil, sess.event(domain.AuditUserViewed, ""), nil)
	return s.details(h), nil
}

// SelectCard selects another of the holder's cards (a row of the
// Smartcard Details table); a card in the reader that is not it no longer
// counts as inserted.
func (s *Service) SelectCard(ctx context.Context, sess *Session, serial domain.CardSerial) (HolderDetails, error) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if err := s.guard(ctx, sess, StepReady); err != nil {
		return HolderDetails{}, err
	}
	h := sess.holder
	if h == nil {
		return HolderDetails{}, ErrNoHolder
	}
	if !slices.ContainsFunc(h.cards, func(c domain.Smartcard) bool { return c.Serial == serial }) {
		return s.details(h), fmt.Errorf("%w: %s is not one of %s's cards", domain.ErrWrongCard, serial, h.user.ID)
	}
	if h.selected != serial {
		h.selected, h.card, h.status = serial, nil, domain.CardStatus{}
	}
	return s.details(h), nil
}

// CloseHolder puts the card holder in hand away (back to the dashboard).
func (s *Service) CloseHolder(sess *Session) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	sess.holder = nil
}

// HolderCardRemoved: the card left the holder's reader; the screens call
// it on that event. The holder's details stay; services that need the
// card are refused until it is inserted and identified again. A card
// write under way when it left is recorded as what the card shows next.
func (s *Service) HolderCardRemoved(sess *Session) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if h := sess.holder; h != nil {
		h.card, h.status, h.genuine = nil, domain.CardStatus{}, false
	}
}

// IdentifyHolder takes the card in the holder's reader (Manage
// Smartcard): it must be known to the service, active, not the
// operator's own, proved genuine by its Card Authentication key (9E), and
// — after a search — the card selected. It becomes the selected card and
// its holder the one in hand. A card that cannot prove itself because a
// write left it part-way (NeedsRepair) is admitted for Repair only.
func (s *Service) IdentifyHolder(ctx context.Context, sess *Session, card domain.Card) (HolderDetails, error) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if err := s.guard(ctx, sess, StepReady); err != nil {
		return HolderDetails{}, err
	}
	if _, err := s.cfg.Journal.Replay(ctx); err != nil {
		return HolderDetails{}, fmt.Errorf("write the card changes this terminal kept while the service was away: %w", err)
	}
	prev := sess.holder
	if prev != nil && !prev.bySearch {
		// Manage Smartcard again: the new card decides whose it is.
		sess.holder, prev = nil, nil
	}
	if prev != nil {
		prev.card, prev.status, prev.genuine = nil, domain.CardStatus{}, false
	}
	st, err := card.Status(ctx)
	if err != nil {
		return HolderDetails{}, fmt.Errorf("read smartcard: %w", err)
	}
	refuse := func(subject domain.UserID, err error) (HolderDetails, error) {
		e := sess.event(domain.AuditCardChecked, "holder's reader")
		e.SubjectID, e.CardSerial = subject, st.Serial
		s.audit(ctx, nil, e, err)
		return HolderDetails{}, err
	}
	if st.Serial == sess.rec.Serial {
		return refuse(sess.op.ID, domain.ErrOwnCard)
	}
	rec, err := s.cfg.Store.GetSmartcard(ctx, st.Serial)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return refuse("", fmt.Errorf("%w: %s", domain.ErrCardNotFound, st.Serial))
	case err != nil:
		return refuse("", fmt.Errorf("look up smartcard: %w", err))
	}
	switch {
	case rec.UserID == sess.op.ID:
		return refuse(rec.UserID, domain.ErrOwnCard)
	case prev != nil && prev.selected != "" && rec.Serial != prev.selected:
		return refuse(rec.UserID, fmt.Errorf("%w: %s is in the reader, %s was selected", domain.ErrWrongCard, rec.Serial, prev.selected))
	case prev != nil && rec.UserID != prev.user.ID:
		return refuse(rec.UserID, fmt.Errorf("%w: %s is not one of %s's cards", domain.ErrWrongCard, rec.Serial, prev.user.ID))
	case !rec.Active():
		return refuse(rec.UserID, &domain.CancelledError{Reason: domain.CleanText(rec.CancelReason)})
	}
	genuine := domain.ProveGenuine(ctx, card, rec, s.cfg.CA, s.cfg.Rand)
	if genuine != nil && !errors.Is(genuine, domain.ErrCardNotGenuine) {
		// The card could not be asked (pulled): no verdict either way.
		return refuse(rec.UserID, genuine)
	}
	// What earlier writes left unfinished on this card is settled from
	// its own state; a part-way one marks the record for repair.
	if err := s.settleLeftOver(ctx, rec, st, genuine); err != nil {
		return refuse(rec.UserID, err)
	}
	if genuine != nil {
		if rec, err = s.cfg.Store.GetSmartcard(ctx, rec.Serial); err != nil {
			return refuse(rec.UserID, fmt.Errorf("look up smartcard: %w", err))
		}
		if !rec.NeedsRepair {
			s.cfg.Log.Warn("holder's card not genuine", "serial", rec.Serial, "err", genuine)
			return refuse(rec.UserID, genuine)
		}
	}
	h, err := s.load(ctx, rec.UserID)
	if err != nil {
		return refuse(rec.UserID, err)
	}
	h.selected, h.card, h.status, h.genuine = rec.Serial, card, st, genuine == nil
	h.bySearch = prev != nil
	sess.holder = h
	detail := "holder's reader: genuine"
	if genuine != nil {
		detail = "holder's reader: not proved genuine, needs repair"
	}
	s.audit(ctx, nil, sess.event(domain.AuditCardChecked, detail), nil)
	return s.details(h), nil
}

// cardInHand is the selected card in the holder's reader with its record
// fresh from the store (another terminal may have cancelled or serviced
// it since it was inserted); the caller holds mu.
func (s *Service) cardInHand(ctx context.Context, sess *Session) (*holder, domain.Smartcard, error) {
	h := sess.holder
	if h == nil {
		return nil, domain.Smartcard{}, ErrNoHolder
	}
	if h.card == nil {
		return h, domain.Smartcard{}, ErrNoHolderCard
	}
	rec, err := s.cfg.Store.GetSmartcard(ctx, h.selected)
	if err != nil {
		return h, domain.Smartcard{}, fmt.Errorf("look up smartcard: %w", err)
	}
	h.update(rec)
	if !rec.Active() {
		h.card = nil
		return h, rec, &domain.CancelledError{Reason: domain.CleanText(rec.CancelReason)}
	}
	return h, rec, nil
}

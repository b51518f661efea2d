// Package cardwrite records card writes write-ahead (DESIGN.md, "Card
// writes and records"), for every workflow that changes a card: the
// self-service unlock and renewal, and the operator's unlock, repair and
// assisted renewal. A repair's new secrets are committed with its intent
// (BeginRekey), so the store has whatever the card ends up holding.
//
//  1. Begin commits an intent (what, which card, whose, which visit,
//     terminal, time) before the card is touched.
//  2. Finish commits the outcome, its audit row and its emails (and a
//     renewal's new record) in one transaction that settles the intent.
//  3. If the store cannot take it then, the outcome goes to the spool on
//     the terminal's disk, and Replay writes it as soon as the store is
//     back: before the next visit is served, and every so often (Watch).
//     Settling is conditional, so a replay writes an outcome once.
//  4. An intent left open (the terminal stopped mid-write) is settled by
//     the workflow from the card's own state when the card is next seen;
//     Open lists them.
//
// Outcomes are written with a context the visit cannot cancel: what
// happened to a card is recorded even if the holder pulls it.
package cardwrite

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
)

// DefaultRecordTimeout bounds writing one outcome to the store.
const DefaultRecordTimeout = domain.RecordTimeout

// Config wires a Journal to its ports.
type Config struct {
	Store domain.Store
	// Spool keeps outcomes the store cannot take; nil means such an
	// outcome is lost (ErrNotRecorded), so production always sets it.
	Spool domain.OutcomeSpool
	Clock domain.Clock
	Rand  io.Reader // nil: crypto/rand
	Log   *slog.Logger
	// Notify, if set, is called after mail was committed so a sender
	// delivers it at once.
	Notify func()
	// Terminal names this terminal in the intents it begins.
	Terminal string
	// RecordTimeout bounds each outcome's transaction; 0: the default.
	RecordTimeout time.Duration
}

// Journal runs card writes write-ahead. It is safe for concurrent use.
type Journal struct {
	cfg Config

	mu sync.Mutex
	// inflight are the intents this journal began and has not finished:
	// their outcome is on its way, so the card's state must not settle
	// them meanwhile.
	inflight map[string]struct{}
	// replaying makes replays take turns, so two never write one outcome
	// at once (the store would refuse the second, but it would be logged
	// as a failure).
	replaying sync.Mutex
}

// New returns a Journal, filling unset options with defaults.
func New(cfg Config) *Journal {
	if cfg.Clock == nil {
		cfg.Clock = domain.SystemClock{}
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.RecordTimeout <= 0 {
		cfg.RecordTimeout = DefaultRecordTimeout
	}
	return &Journal{cfg: cfg, inflight: map[string]struct{}{}}
}

// NewID returns a random identifier (128 bits, hex) for an intent or a
// visit.
func NewID(r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	b := make([]byte, 16)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("draw an identifier: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Begin commits the intent to change a card and returns it with its ID
// and start time. Call it before touching the card: if it fails, the card
// must not be changed. ctx may be the visit's, since nothing has happened
// yet.
func (j *Journal) Begin(ctx context.Context, w domain.CardWriteIntent) (domain.CardWriteIntent, error) {
	w, err := j.begin(ctx, j.cfg.Store, w)
	if err != nil {
		return w, err
	}
	j.mu.Lock()
	j.inflight[w.ID] = struct{}{}
	j.mu.Unlock()
	return w, nil
}

// begin writes the intent through q.
func (j *Journal) begin(ctx context.Context, q domain.Queries, w domain.CardWriteIntent) (domain.CardWriteIntent, error) {
	if w.Op == "" || w.Serial == "" || w.SubjectID == "" {
		return w, fmt.Errorf("begin card write: operation, card and card holder are required (got %q, %q, %q)", w.Op, w.Serial, w.SubjectID)
	}
	id, err := NewID(j.cfg.Rand)
	if err != nil {
		return w, fmt.Errorf("begin card write: %w", err)
	}
	w.ID, w.StartedAt = id, j.cfg.Clock.Now().UTC()
	if w.Terminal == "" {
		w.Terminal = j.cfg.Terminal
	}
	w.SettledAt, w.Outcome, w.Detail = time.Time{}, "", ""
	if err := q.BeginCardWrite(ctx, w); err != nil {
		return w, fmt.Errorf("record the intent to change card %s: %w", w.Serial, err)
	}
	return w, nil
}

// BeginRekey is Begin for a write that gives the card new secrets (a
// repair): next, sealed, is committed with the intent, so that whatever
// the card holds from then on the store has. A successful outcome adopts
// them (RenewalRecord.Rekeyed); until then they stay pending, to be tried
// on the card if the write's outcome is unknown.
func (j *Journal) BeginRekey(ctx context.Context, w domain.CardWriteIntent, next domain.CardSecrets) (domain.CardWriteIntent, error) {
	if next.Serial != w.Serial {
		return w, fmt.Errorf("begin card write: secrets for card %s, intent for card %s", next.Serial, w.Serial)
	}
	var begun domain.CardWriteIntent
	err := j.cfg.Store.InTx(ctx, func(q domain.Queries) error {
		var err error
		begun, err = j.begin(ctx, q, w)
		if err != nil {
			return err
		}
		if err := q.PutPendingSecrets(ctx, begun.ID, next); err != nil {
			return fmt.Errorf("record the new secrets for card %s: %w", w.Serial, err)
		}
		return nil
	})
	if err != nil {
		return w, err
	}
	j.mu.Lock()
	j.inflight[begun.ID] = struct{}{}
	j.mu.Unlock()
	return begun, nil
}

// Finish records the outcome of a write: settled intent, audit row, mails
// and renewal record in one transaction, with a context the visit cannot
// cancel. It returns nil once the store holds it, or if it already did
// (a replay, or the card's state settled it first). If the store cannot
// be reached, the outcome goes to the spool: domain.ErrRecordDelayed; if
// that fails too, domain.ErrNotRecorded. Any other error means the store
// refused what the outcome implies (the card was cancelled meanwhile):
// the write was then recorded as a failure with the reason.
//
// Workflows also call it to settle an intent left open by an earlier
// visit, with the outcome the card's state shows.
func (j *Journal) Finish(ctx context.Context, o domain.CardWriteOutcome) error {
	defer j.landed(o.Intent.ID)
	if err := check(o); err != nil {
		// A workflow's bug; the card changed all the same, so say so.
		j.cfg.Log.Error("card write outcome refused", "intent", o.Intent.ID, "serial", o.Intent.Serial, "err", err)
		return fmt.Errorf("%w: %w", domain.ErrNotRecorded, err)
	}
	rctx, cancel := j.recordCtx(ctx)
	defer cancel()
	stored, refused, err := j.commit(rctx, o)
	if err == nil {
		return refused
	}
	log := j.cfg.Log.With("intent", o.Intent.ID, "op", o.Intent.Op, "serial", o.Intent.Serial, "outcome", stored.Outcome)
	if !unavailable(err) {
		// The store answered and refused even the failure record: trying
		// again cannot help. Keep the outcome for staff, set aside.
		log.Error("card changed but the store refused its record; the outcome is kept aside for staff", "err", err)
		if j.cfg.Spool != nil {
			if serr := j.cfg.Spool.Put(stored); serr != nil {
				log.Error("the refused outcome could not be kept either", "spool_err", serr)
			} else if serr := j.cfg.Spool.Reject(stored.Intent.ID, err.Error()); serr != nil {
				log.Error("the refused outcome could not be set aside", "spool_err", serr)
			}
		}
		return fmt.Errorf("%w: %w", domain.ErrNotRecorded, err)
	}
	if j.cfg.Spool == nil {
		log.Error("card changed but not recorded: the store failed and there is no spool", "err", err)
		return fmt.Errorf("%w: %w", domain.ErrNotRecorded, err)
	}
	if serr := j.cfg.Spool.Put(stored); serr != nil {
		log.Error("card changed but not recorded: the store and the spool both failed", "err", err, "spool_err", serr)
		return fmt.Errorf("%w: %w", domain.ErrNotRecorded, errors.Join(err, serr))
	}
	log.Warn("card changed; the store could not record it, so the outcome is spooled until it is back", "err", err)
	return fmt.Errorf("%w: %w", domain.ErrRecordDelayed, err)
}

// Leave gives up a write whose outcome is unknown (the card went while it
// was being changed): its intent stays open, to be settled from the
// card's own state when the card is next seen, here or elsewhere.
func (j *Journal) Leave(w domain.CardWriteIntent) {
	j.cfg.Log.Warn("card write left open: its outcome is unknown until the card is next seen",
		"intent", w.ID, "op", w.Op, "serial", w.Serial)
	j.landed(w.ID)
}

// landed marks a write as no longer in flight.
func (j *Journal) landed(id string) {
	j.mu.Lock()
	delete(j.inflight, id)
	j.mu.Unlock()
}

// check refuses an outcome that could not be recorded as it is, or that
// would put a secret on the terminal's disk.
func check(o domain.CardWriteOutcome) error {
	switch {
	case o.Intent.ID == "":
		return errors.New("outcome names no intent")
	case o.Outcome != domain.OutcomeSuccess && o.Outcome != domain.OutcomeFailure:
		return fmt.Errorf("outcome %q is neither success nor failure", o.Outcome)
	case o.At.IsZero():
		return errors.New("outcome has no time")
	case o.Audit.Action == "":
		return errors.New("outcome has no audit row")
	}
	for _, m := range o.Mails {
		// Only mail that carries a code expires (domain.Outbox).
		if !m.NotAfter.IsZero() {
			return fmt.Errorf("mail %q carries a code, which must never be spooled", m.Subject)
		}
	}
	return nil
}

// recordCtx outlives the visit (a pulled card must not lose the record)
// but not for long.
func (j *Journal) recordCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), j.cfg.RecordTimeout)
}

// errSettled means the intent was settled before: there is nothing to write.
var errSettled = errors.New("card write already settled")

// unavailable reports whether err means the store could not be reached
// or answer in time, so the same write may work later.
func unavailable(err error) bool {
	return errors.Is(err, domain.ErrStoreUnavailable) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, context.Canceled)
}

// refusedError is the store refusing what an outcome implies (a rule,
// not an outage): waiting would not change its answer.
type refusedError struct{ err error }

func (e *refusedError) Error() string { return e.err.Error() }
func (e *refusedError) Unwrap() error { return e.err }

// commit writes o. If the store refuses what o implies, the write itself
// is still recorded, as a failure to record it (the card was changed, and
// that must not be lost). It returns the outcome last tried, and refused
// when that was the fallback; err when the store took neither.
func (j *Journal) commit(ctx context.Context, o domain.CardWriteOutcome) (stored domain.CardWriteOutcome, refused, err error) {
	err = j.tx(ctx, o)
	var re *refusedError
	if !errors.As(err, &re) {
		if errors.Is(err, errSettled) {
			err = nil
		}
		return o, nil, err
	}
	refused = re.err
	why := "the card was changed, but the service refused its record: " + refused.Error()
	o.Outcome, o.Renewal, o.NeedsRepair = domain.OutcomeFailure, nil, false
	o.Detail = joinDetail(o.Detail, why)
	o.Audit.Outcome, o.Audit.Detail = domain.OutcomeFailure, joinDetail(o.Audit.Detail, why)
	j.cfg.Log.Error("card write: the store refused the outcome's record", "intent", o.Intent.ID, "serial", o.Intent.Serial, "err", refused)
	if err = j.tx(ctx, o); errors.Is(err, errSettled) {
		err = nil
	}
	return o, refused, err
}

func joinDetail(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// tx is one transaction: settle the intent, then write what it implies.
// Settling first makes the rest happen at most once: a second writer
// finds the intent settled and rolls back (errSettled).
func (j *Journal) tx(ctx context.Context, o domain.CardWriteOutcome) error {
	var written domain.AuditEvent
	err := j.cfg.Store.InTx(ctx, func(q domain.Queries) error {
		err := q.SettleCardWrite(ctx, o.Intent.ID, o.Outcome, o.Detail, o.At)
		if errors.Is(err, domain.ErrNotFound) {
			// A store without the intent (restored from a backup since):
			// the outcome carries it, so write it and settle it.
			if err = q.BeginCardWrite(ctx, o.Intent); err == nil {
				err = q.SettleCardWrite(ctx, o.Intent.ID, o.Outcome, o.Detail, o.At)
			}
		}
		if errors.Is(err, domain.ErrConflict) {
			return errSettled
		}
		if err != nil {
			return fmt.Errorf("settle card write: %w", err)
		}
		if r := o.Renewal; r != nil {
			err := q.RecordRenewal(ctx, o.Intent.Serial, *r)
			if errors.Is(err, domain.ErrCardCancelled) || errors.Is(err, domain.ErrNotFound) {
				return &refusedError{fmt.Errorf("record renewal: %w", err)}
			}
			if err != nil {
				return fmt.Errorf("record renewal: %w", err)
			}
			if r.Rekeyed {
				err := q.AdoptPendingSecrets(ctx, o.Intent.ID)
				if errors.Is(err, domain.ErrNotFound) {
					return &refusedError{fmt.Errorf("adopt the card's new secrets: %w", err)}
				}
				if err != nil {
					return fmt.Errorf("adopt the card's new secrets: %w", err)
				}
			}
		}
		if o.NeedsRepair {
			err := q.MarkNeedsRepair(ctx, o.Intent.Serial)
			if errors.Is(err, domain.ErrNotFound) {
				return &refusedError{fmt.Errorf("mark the card for repair: %w", err)}
			}
			if err != nil {
				return fmt.Errorf("mark the card for repair: %w", err)
			}
		}
		if written, err = q.AppendAudit(ctx, o.Audit); err != nil {
			return fmt.Errorf("write audit log: %w", err)
		}
		for _, m := range o.Mails {
			if _, err := q.EnqueueMail(ctx, m); err != nil {
				return fmt.Errorf("queue email: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// The terminal's own record of its rows (see kiosk audit verify).
	j.cfg.Log.Info("audit row written", "id", written.ID, "action", written.Action,
		"mac", fmt.Sprintf("%x", written.MAC[:min(8, len(written.MAC))]), "intent", o.Intent.ID)
	if len(o.Mails) > 0 && j.cfg.Notify != nil {
		j.cfg.Notify()
	}
	return nil
}

// Replay writes the spooled outcomes to the store, oldest first, removing
// each once the store holds it. It stops at the first the store cannot
// take because it is still away (so none is skipped), and returns how
// many it wrote. One the store refuses, and a spool file that cannot be
// read, are set aside for staff with an ERROR log line rather than block
// every later visit. Run it before serving a visit.
func (j *Journal) Replay(ctx context.Context) (int, error) {
	if j.cfg.Spool == nil {
		return 0, nil
	}
	j.replaying.Lock()
	defer j.replaying.Unlock()
	kept, err := j.cfg.Spool.List()
	if errors.Is(err, domain.ErrSpoolDamaged) {
		j.cfg.Log.Error("damaged card-write spool files were set aside for staff", "err", err)
	} else if err != nil {
		return 0, fmt.Errorf("read the spool: %w", err)
	}
	n := 0
	for _, o := range kept {
		rctx, cancel := j.recordCtx(ctx)
		_, refused, err := j.commit(rctx, o)
		cancel()
		if err != nil && unavailable(err) {
			return n, fmt.Errorf("write the spooled outcome of a change to card %s: %w", o.Intent.Serial, err)
		}
		if err != nil {
			j.cfg.Log.Error("the store refused a spooled card write; it is set aside for staff", "intent", o.Intent.ID,
				"op", o.Intent.Op, "serial", o.Intent.Serial, "err", err)
			if err := j.cfg.Spool.Reject(o.Intent.ID, err.Error()); err != nil {
				return n, fmt.Errorf("set aside the spooled outcome of a change to card %s: %w", o.Intent.Serial, err)
			}
			continue
		}
		if err := j.cfg.Spool.Remove(o.Intent.ID); err != nil {
			return n, fmt.Errorf("clear the spooled outcome of a change to card %s: %w", o.Intent.Serial, err)
		}
		n++
		j.cfg.Log.Info("spooled card write recorded", "intent", o.Intent.ID, "op", o.Intent.Op, "serial", o.Intent.Serial,
			"outcome", o.Outcome, "refused", refused != nil)
	}
	return n, nil
}

// Pending returns the outcomes waiting in the spool.
func (j *Journal) Pending() ([]domain.CardWriteOutcome, error) {
	if j.cfg.Spool == nil {
		return nil, nil
	}
	kept, err := j.cfg.Spool.List()
	if err != nil {
		return kept, fmt.Errorf("read the spool: %w", err)
	}
	return kept, nil
}

// Open lists the unsettled intents of a card (all cards: serial ""),
// oldest first, leaving out those this journal is still finishing.
func (j *Journal) Open(ctx context.Context, serial domain.CardSerial) ([]domain.CardWriteIntent, error) {
	all, err := j.cfg.Store.OpenCardWrites(ctx, serial)
	if err != nil {
		return nil, fmt.Errorf("list unsettled card writes: %w", err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	out := all[:0]
	for _, w := range all {
		if _, busy := j.inflight[w.ID]; !busy {
			out = append(out, w)
		}
	}
	return out, nil
}

// Watch replays the spool every interval until ctx ends, so outcomes
// reach the store soon after it is back even when no card is inserted.
func (j *Journal) Watch(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := j.Replay(ctx)
		switch {
		case err != nil && !failing:
			// Once per outage, not every tick.
			j.cfg.Log.Warn("spooled card writes still wait for the store", "err", err)
			failing = true
		case err == nil:
			if failing || n > 0 {
				j.cfg.Log.Info("spool replayed", "recorded", n)
			}
			failing = false
		}
	}
}

package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
)

const auditCols = `id, at, action, outcome, actor_id, subject_id, card_serial, role, terminal, detail, mac`

// ErrNoAuditChain means the store was opened without the audit chain's
// key, so it cannot append to the audit trail.
var ErrNoAuditChain = errors.New("no audit chain key: open the store with the key-encryption key")

// AppendAudit writes one event, chained to the last one: under the
// dialect's audit lock (held to the end of the transaction, so appenders
// on other connections queue) it reads the last row's MAC and stores the
// event with its own. It refuses to chain on from a row whose MAC was
// removed or mangled, which would hide that row's break. A zero At is
// taken as now.
func (q *Queries) AppendAudit(ctx context.Context, e domain.AuditEvent) (domain.AuditEvent, error) {
	return q.AppendAuditKeyed(ctx, e, RequestKey{})
}

// AppendAuditKeyed is AppendAudit as one attempt of the logical write k
// names (see RequestKey): a retry first looks, under the audit lock, for
// the row an earlier attempt committed, and returns it instead of
// chaining the event a second time.
func (q *Queries) AppendAuditKeyed(ctx context.Context, e domain.AuditEvent, k RequestKey) (domain.AuditEvent, error) {
	if q.chain == nil {
		return domain.AuditEvent{}, q.fail("append audit", ErrNoAuditChain)
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	e.At = NormTime(e.At)
	err := q.inTx(ctx, func(tq *Queries) error {
		if tq.d.AuditLock != "" {
			if _, err := tq.w.Exec(ctx, tq.d.AuditLock); err != nil {
				return err
			}
		}
		if k.Retry {
			// Under the lock, so an earlier attempt still running on the
			// server has finished: its row is there now or never will be.
			var found domain.AuditEvent
			err := tq.w.QueryRow(ctx, `SELECT id, mac FROM audit_events WHERE request_id = $1`, k.ID).Scan(&found.ID, bytesDest{&found.MAC})
			if err == nil {
				e.ID, e.MAC = found.ID, found.MAC
				if tq.appended != nil {
					*tq.appended = append(*tq.appended, e)
				}
				return nil
			}
			if !errors.Is(tq.d.Translate(err), domain.ErrNotFound) {
				return err
			}
		}
		var (
			lastID int64
			prev   []byte
		)
		err := tq.w.QueryRow(ctx, `SELECT id, mac FROM audit_events ORDER BY id DESC LIMIT 1`).Scan(&lastID, bytesDest{&prev})
		if err != nil && !errors.Is(tq.d.Translate(err), domain.ErrNotFound) {
			return err
		}
		if err == nil && len(prev) != domain.AuditMACSize {
			through, err := tq.unchainedThrough(ctx, tq.w)
			if err != nil {
				return err
			}
			if prev != nil || lastID > through {
				return fmt.Errorf("%w: the newest row (%d) has lost its MAC: run kiosk audit verify", domain.ErrAuditChainBroken, lastID)
			}
		}
		e.MAC = tq.chain.AuditMAC(prev, e)
		args := []any{tq.timeArg(e.At), string(e.Action), string(e.Outcome), string(e.ActorID), string(e.SubjectID),
			string(e.CardSerial), e.Role, e.Terminal, e.Detail, e.MAC}
		insert := `INSERT INTO audit_events (at, action, outcome, actor_id, subject_id, card_serial, role, terminal, detail, mac)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`
		if k.ID != "" {
			args = append(args, k.ID)
			insert = `INSERT INTO audit_events (at, action, outcome, actor_id, subject_id, card_serial, role, terminal, detail, mac, request_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`
		}
		if err := tq.w.QueryRow(ctx, insert, args...).Scan(&e.ID); err != nil {
			return err
		}
		if tq.appended != nil {
			*tq.appended = append(*tq.appended, e) // logged once committed
		}
		return nil
	})
	if err != nil {
		return domain.AuditEvent{}, q.fail("append audit", err)
	}
	return e, nil
}

// UnchainedThrough is the highest ID of the rows from before the chain
// began, as the migration that began it recorded.
func (q *Queries) UnchainedThrough(ctx context.Context) (int64, error) {
	n, err := q.unchainedThrough(ctx, q.r)
	if err != nil {
		return 0, q.fail("audit chain start", err)
	}
	return n, nil
}

func (q *Queries) unchainedThrough(ctx context.Context, db DB) (int64, error) {
	var n int64
	err := db.QueryRow(ctx, `SELECT unchained_through FROM audit_chain`).Scan(&n)
	return n, err
}

func scanAudit(row Row) (domain.AuditEvent, error) {
	var (
		e                                       domain.AuditEvent
		action, outcome, actor, subject, serial string
	)
	err := row.Scan(&e.ID, timeDest{&e.At}, &action, &outcome, &actor, &subject, &serial,
		&e.Role, &e.Terminal, &e.Detail, bytesDest{&e.MAC})
	e.Action, e.Outcome = domain.AuditAction(action), domain.AuditOutcome(outcome)
	e.ActorID, e.SubjectID, e.CardSerial = domain.UserID(actor), domain.UserID(subject), domain.CardSerial(serial)
	return e, err
}

// ListAudit returns matching events, newest first; Limit 0 means all.
// Pages are keyset pages (id < BeforeID), so events appended meanwhile
// never shift an operator's next page.
func (q *Queries) ListAudit(ctx context.Context, f domain.AuditFilter) ([]domain.AuditEvent, error) {
	who := `($1 = '' OR subject_id = $1) AND ($2 = '' OR card_serial = $2)`
	if f.SubjectOrCard {
		who = `(($1 <> '' AND subject_id = $1) OR ($2 <> '' AND card_serial = $2))`
	}
	query := `SELECT ` + auditCols + ` FROM audit_events WHERE ` + who + ` AND ($3 = '' OR action = $3)`
	args := []any{string(f.SubjectID), string(f.CardSerial), string(f.Action)}
	if f.BeforeID > 0 {
		args = append(args, f.BeforeID)
		query += fmt.Sprintf(` AND id < $%d`, len(args))
	}
	query += ` ORDER BY id DESC`
	if f.Limit > 0 {
		args = append(args, f.Limit)
		query += fmt.Sprintf(` LIMIT $%d`, len(args))
	}
	var out []domain.AuditEvent
	err := each(ctx, q.r, func(rows Rows) error {
		e, err := scanAudit(rows)
		out = append(out, e)
		return err
	}, query, args...)
	if err != nil {
		return nil, q.fail("list audit", err)
	}
	return out, nil
}

// walkBatch bounds the rows one query of WalkAudit reads, so walking a
// long trail holds neither a long-running cursor nor much memory.
const walkBatch = 1000

// WalkAudit reads the trail in id order, which is chain order because
// appends hold the audit lock until they commit.
func (q *Queries) WalkAudit(ctx context.Context, fn func(domain.AuditEvent) error) error {
	after := int64(math.MinInt64) // every row, even one given an ID below 1 by hand
	for {
		var batch []domain.AuditEvent
		err := each(ctx, q.r, func(rows Rows) error {
			e, err := scanAudit(rows)
			batch = append(batch, e)
			return err
		}, `SELECT `+auditCols+` FROM audit_events WHERE id > $1 ORDER BY id LIMIT $2`, after, walkBatch)
		if err != nil {
			return q.fail("walk audit", err)
		}
		for _, e := range batch {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(batch) < walkBatch {
			return nil
		}
		after = batch[len(batch)-1].ID
	}
}

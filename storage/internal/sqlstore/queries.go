package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/smartcard-service-centre/kiosk/domain"
)

// Queries implements domain.Queries for both stores. The root value runs
// on the pools; the value handed to an InTx callback runs on the
// transaction.
type Queries struct {
	d *Dialect
	w DB // writes (and reads that must see them)
	r DB // plain reads; may be a separate read-only pool
	// begin starts a transaction on the root; nil inside one.
	begin func(ctx context.Context) (Tx, error)
	// chain MACs audit events; without it AppendAudit refuses.
	chain domain.AuditChain
	// log, if set, gets a line for each audit row once it is committed:
	// the terminal's own record of its rows, against which a tail cut
	// off the trail (which leaves no broken link) shows.
	log *slog.Logger
	// appended collects a transaction's audit rows until it commits.
	appended *[]domain.AuditEvent
}

var _ domain.Queries = (*Queries)(nil)

// New returns the root Queries. w takes writes, r takes reads (pass the
// same DB twice if there is one pool), begin starts write transactions.
func New(d *Dialect, w, r DB, begin func(ctx context.Context) (Tx, error)) *Queries {
	return &Queries{d: d, w: w, r: r, begin: begin}
}

// SetAuditChain gives the store the audit chain's key (stores call it as
// they open, before any use).
func (q *Queries) SetAuditChain(c domain.AuditChain) { q.chain = c }

// SetLogger gives the store a log for the audit rows it commits (stores
// call it as they open, before any use).
func (q *Queries) SetLogger(l *slog.Logger) { q.log = l }

func (q *Queries) logCommitted(rows []domain.AuditEvent) {
	if q.log == nil {
		return
	}
	for _, e := range rows {
		q.log.Info("audit row written", "id", e.ID, "action", e.Action, "mac", fmt.Sprintf("%x", e.MAC[:min(8, len(e.MAC))]))
	}
}

// InTx runs fn in one transaction: committed if fn returns nil, rolled back
// if it returns an error or panics (the panic then continues). Called on
// the Queries of a running transaction it just runs fn in that transaction.
func (q *Queries) InTx(ctx context.Context, fn func(domain.Queries) error) error {
	return q.inTx(ctx, func(tq *Queries) error { return fn(tq) })
}

func (q *Queries) inTx(ctx context.Context, fn func(*Queries) error) (err error) {
	if q.begin == nil {
		return fn(q)
	}
	tx, err := q.begin(ctx)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", q.d.Translate(err))
	}
	// A cancelled ctx must not stop the rollback.
	rbCtx := context.WithoutCancel(ctx)
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback(rbCtx)
			panic(p)
		}
	}()
	var appended []domain.AuditEvent
	if err := fn(&Queries{d: q.d, w: tx, r: tx, chain: q.chain, log: q.log, appended: &appended}); err != nil {
		if rbErr := tx.Rollback(rbCtx); rbErr != nil {
			return errors.Join(err, fmt.Errorf("rollback: %w", rbErr))
		}
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		err = q.d.Translate(err)
		if errors.Is(err, domain.ErrStoreUnavailable) || ctx.Err() != nil {
			// No answer: committed or not, nobody here knows.
			return fmt.Errorf("commit: %w: %w", domain.ErrCommitUnknown, err)
		}
		return fmt.Errorf("commit: %w", err)
	}
	q.logCommitted(appended)
	return nil
}

// fail wraps a driver error with short context after translating it.
func (q *Queries) fail(what string, err error) error {
	if !errors.Is(err, domain.ErrNotFound) && !errors.Is(err, domain.ErrConflict) {
		err = q.d.Translate(err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// each runs query and calls scan for every row.
func each(ctx context.Context, db DB, scan func(Rows) error, query string, args ...any) error {
	rows, err := db.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// affected turns "no row changed" into ErrNotFound.
func affected(n int64, err error) error {
	if err != nil {
		return err
	}
	if n == 0 {
		return domain.ErrNotFound
	}
	return nil
}

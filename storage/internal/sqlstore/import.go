package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
)

// BulkImporter is a store's own bulk path for a directory import (COPY on
// PostgreSQL, prepared statements on SQLite), implemented by the handle of
// its transactions: the SQL differs too much between the databases to be
// shared here.
type BulkImporter interface {
	ImportDirectory(ctx context.Context, rows iter.Seq2[domain.DirectoryRow, error], now time.Time) (domain.ImportCounts, error)
}

var _ domain.DirectoryImporter = (*Queries)(nil)

// ImportDirectory runs the store's bulk path in the transaction (its own
// when called outside one). See domain.DirectoryImporter.
func (q *Queries) ImportDirectory(ctx context.Context, rows iter.Seq2[domain.DirectoryRow, error], now time.Time) (domain.ImportCounts, error) {
	var out domain.ImportCounts
	err := q.inTx(ctx, func(tq *Queries) error {
		b, ok := tq.w.(BulkImporter)
		if !ok {
			return errors.New("import directory: this store has no bulk path")
		}
		var err error
		out, err = b.ImportDirectory(ctx, rows, now)
		return err
	})
	return out, err
}

// ImportFail wraps a driver error of a bulk import with its step; the
// rows' own errors (problems in the file, a failed read) pass unchanged.
// A cancelled ctx is named: database/sql rolls a transaction back when
// its context ends, and then reports only a closed statement.
func ImportFail(ctx context.Context, step string, err error, translate func(error) error) error {
	var ip *domain.ImportProblems
	if errors.As(err, &ip) {
		return err
	}
	err = translate(err)
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		err = fmt.Errorf("%w: %w", cerr, err)
	}
	return fmt.Errorf("import directory: %s: %w", step, err)
}

// resultRows is what both drivers' query results offer (pgx.Rows and
// *sql.Rows, whose Close differ).
type resultRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// CardClashes reads the rows of a query for cards the store holds for
// another user (line, serial, owner, total count) into the problems to
// report: nil when there are none.
func CardClashes(ctx context.Context, rows resultRows, translate func(error) error) error {
	var ip domain.ImportProblems
	for rows.Next() {
		var (
			line          int
			serial, owner string
			total         int
		)
		if err := rows.Scan(&line, &serial, &owner, &total); err != nil {
			return ImportFail(ctx, "check cards", err, translate)
		}
		ip.Problems = append(ip.Problems, domain.RowProblem{Line: line, Column: "card_serial",
			Problem: fmt.Sprintf("card %s belongs to user %s in the store", serial, domain.UserID(owner))})
		ip.Total = total
	}
	if err := rows.Err(); err != nil {
		return ImportFail(ctx, "check cards", err, translate)
	}
	if ip.Total > 0 {
		return &ip
	}
	return nil
}

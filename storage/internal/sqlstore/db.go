// Package sqlstore is the SQL shared by the PostgreSQL and SQLite stores:
// one implementation of domain.Queries, the migration runner and the value
// conversions. Each store passes in a small Dialect and adapts its driver to
// the DB interface, so the queries exist once and cannot drift apart.
//
// Queries use $N placeholders: PostgreSQL's own, and modernc.org/sqlite
// binds $N to the N-th argument too.
package sqlstore

import (
	"context"
	"time"
)

// DB is what a connection pool and a transaction both offer.
type DB interface {
	// Exec runs a statement and reports the rows it affected.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) Row
}

// Row is a single-row result; Scan reports the driver's no-rows error.
type Row interface {
	Scan(dest ...any) error
}

// Rows is a multi-row result.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Tx is a transaction.
type Tx interface {
	DB
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// Dialect holds what differs between the databases.
type Dialect struct {
	// Time converts a timestamp to the value bound for its column. It is
	// only called for non-zero times; zero times are bound as NULL.
	Time func(time.Time) any
	// Translate turns driver errors into domain sentinels (ErrNotFound,
	// ErrConflict); other errors pass through unchanged.
	Translate func(error) error
	// MigrationLock, if set, runs first in the migration transaction so
	// that two processes never migrate at once.
	MigrationLock string
	// TimestampType is the column type for timestamps in schema_migrations.
	TimestampType string
	// ClaimLock ends the subquery that picks the mail ClaimMail takes. On
	// PostgreSQL it is FOR UPDATE SKIP LOCKED, so concurrent claimers pass
	// over a row another is taking instead of queueing behind it; SQLite
	// needs none, as it runs one writer at a time.
	ClaimLock string
	// NameHits is the statement that picks the users whose search key
	// contains key (lower-cased, at least MinContains characters): their
	// IDs, at most limit of them, the first in name order (sort_key,
	// id). Each store serves it from its own trigram index.
	NameHits func(key string, limit int) (stmt string, args []any)
	// CollateC makes ID comparisons byte order, so that an ID prefix is
	// a range of an index: ` COLLATE "C"` on PostgreSQL (whose own ID
	// index follows the database's collation), empty on SQLite.
	CollateC string
	// PlaceUser, if set, runs in PutUser's transaction after the row is
	// written, with its sort key: a store keeps its own search structures
	// in step there (SQLite's search table, in name order).
	PlaceUser func(ctx context.Context, db DB, id, sortKey string) error
	// AuditLock, if set, runs in the transaction that appends an audit
	// event, before it reads the last one, and holds until the end of the
	// transaction: appends from many connections then chain in one line.
	// SQLite needs none: its transactions take the write lock at BEGIN.
	AuditLock string
}

// Package sqlite is the embedded default store: SQLite through the pure-Go
// modernc.org/sqlite driver, in one file that migrates itself on Open.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/storage/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// busyTimeoutMS is how long a connection waits for another process's lock
// (e.g. a second kiosk binary on the same file) before SQLITE_BUSY.
const busyTimeoutMS = 10000

// Store is the SQLite implementation of domain.Store.
//
// Writes go through a pool of one connection, so writers queue in Go
// instead of failing with SQLITE_BUSY, and every transaction starts with
// BEGIN IMMEDIATE, so a writer in another process cannot interleave
// either. Plain reads use a separate read-only pool, which WAL lets run
// alongside the writer. Consequence: inside InTx, use only the Queries
// handed to fn; writing through the Store itself would wait for the
// transaction's own connection until ctx ends.
type Store struct {
	*sqlstore.Queries
	w, r *sql.DB
}

var _ domain.Store = (*Store)(nil)

var dialect = &sqlstore.Dialect{
	Time:          sqlstore.UnixMicro,
	Translate:     translate,
	TimestampType: "INTEGER",
	NameHits:      nameHits,
	PlaceUser:     placeUser,
}

// Open opens (creating if needed, with a 0700 directory and a 0600 file)
// the database at path and brings its schema up to date.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("open database: %q: need a file path", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	// Create the file ourselves so it is private; SQLite would use 0644.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}

	w, err := sql.Open("sqlite", dsn(abs, false))
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	// Connect now: this applies the pragmas, so a bad file fails here.
	if err := connect(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("open database: %w", err)
	}
	s := &Store{w: w}
	s.Queries = sqlstore.New(dialect, sqlDB{w}, sqlDB{w}, s.begin)
	if err := migrate(ctx, s); err != nil {
		w.Close()
		return nil, fmt.Errorf("open database: %w", err)
	}

	r, err := sql.Open("sqlite", dsn(abs, true))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open database: %w", err)
	}
	n := max(4, runtime.NumCPU())
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("open database: %w", err)
	}
	s.r = r
	s.Queries = sqlstore.New(dialect, sqlDB{w}, sqlDB{r}, s.begin)
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// Option configures Open.
type Option func(*Store)

// WithAuditChain lets the store append to the audit trail, chaining each
// event to the one before under c's key; without it AppendAudit refuses.
func WithAuditChain(c domain.AuditChain) Option {
	return func(s *Store) { s.SetAuditChain(c) }
}

// WithLogger logs each audit row once committed (ID, action and the start
// of its MAC): the terminal's own record of the rows it wrote.
func WithLogger(l *slog.Logger) Option {
	return func(s *Store) { s.SetLogger(l) }
}

// migrate applies the embedded migrations not yet applied, in one
// BEGIN IMMEDIATE transaction, so two processes opening a new file at once
// take turns.
func migrate(ctx context.Context, s *Store) error {
	ms, err := sqlstore.LoadMigrations(migrationFiles, "migrations")
	if err != nil {
		return err
	}
	_, err = sqlstore.Migrate(ctx, s.Queries, ms)
	return err
}

// dsn builds the driver's connection string; the pragmas are applied to
// every new connection of the pool.
func dsn(path string, readOnly bool) string {
	v := url.Values{}
	v.Set("_busy_timeout", fmt.Sprint(busyTimeoutMS))
	v.Set("_foreign_keys", "on")
	if readOnly {
		// A reader that tried to write would be a bug: make it fail.
		v.Set("_query_only", "on")
	} else {
		v.Set("_journal_mode", "WAL")
		v.Set("_synchronous", "NORMAL")
		v.Set("_txlock", "immediate")
	}
	// A file: URI keeps '?' or '#' in the path from being misread.
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: v.Encode()}
	return u.String()
}

func (s *Store) begin(ctx context.Context) (sqlstore.Tx, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return sqlTx{sqlDB{tx}, tx}, nil
}

// Ping reports whether the database file can be reached.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// Close closes both pools.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// translate is the one place SQLite errors become domain sentinels.
func translate(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return domain.ErrNotFound
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %w", domain.ErrConflict, err)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY: // the row it refers to is missing
			return fmt.Errorf("%w: %w", domain.ErrNotFound, err)
		}
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN:
			// Another process holds the file, or the disk failed: it may
			// work later.
			return fmt.Errorf("%w: %w", domain.ErrStoreUnavailable, err)
		}
	}
	if errors.Is(err, sql.ErrConnDone) {
		return fmt.Errorf("%w: %w", domain.ErrStoreUnavailable, err)
	}
	return err
}

// sqlQuerier is what *sql.DB and *sql.Tx have in common.
type sqlQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// sqlDB adapts database/sql to sqlstore.DB.
type sqlDB struct{ q sqlQuerier }

func (d sqlDB) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := d.q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (d sqlDB) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	rows, err := d.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (d sqlDB) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return d.q.QueryRowContext(ctx, query, args...)
}

type sqlRows struct{ *sql.Rows }

// Close drops the error: Err reports anything that went wrong reading.
func (r sqlRows) Close() { _ = r.Rows.Close() }

type sqlTx struct {
	sqlDB
	tx *sql.Tx
}

func (t sqlTx) Commit(context.Context) error   { return t.tx.Commit() }
func (t sqlTx) Rollback(context.Context) error { return t.tx.Rollback() }

// connect opens the writer's first connection. Switching a new file to WAL
// takes an exclusive lock and SQLite does not wait for it (the busy
// handler is not called there), so a kiosk that starts beside another one
// may find the file busy: it tries again, with growing pauses, for as long
// as a busy statement would wait.
func connect(ctx context.Context, w *sql.DB) error {
	deadline := time.Now().Add(busyTimeoutMS * time.Millisecond)
	pause := 5 * time.Millisecond
	for {
		err := w.PingContext(ctx)
		var se *sqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		pause = min(2*pause, 200*time.Millisecond)
	}
}

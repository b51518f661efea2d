// Package postgres is the PostgreSQL store (pgx/v5, pgxpool) used in
// production. Open connects; Migrate brings the schema up to date.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/storage/internal/sqlstore"
	"github.com/smartcard-service-centre/kiosk/storage/postgres/connstr"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLockKey is the pg_advisory_xact_lock key ("kiosk-mg" in ASCII)
// that serialises migrations between kiosks starting together.
const migrationLockKey int64 = 0x6b696f736b2d6d67

// auditLockKey is the pg_advisory_xact_lock key ("kiosk-au") that orders
// audit appends into one chain.
const auditLockKey int64 = 0x6b696f736b2d6175

// defaultConnectTimeout bounds a dial to an unreachable server when the
// URL sets no connect_timeout.
const defaultConnectTimeout = 10 * time.Second

// Store is the PostgreSQL implementation of domain.Store.
type Store struct {
	*sqlstore.Queries
	pool *pgxpool.Pool
}

var _ domain.Store = (*Store)(nil)

var dialect = &sqlstore.Dialect{
	Time:          func(t time.Time) any { return t },
	Translate:     translate,
	MigrationLock: fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", migrationLockKey),
	TimestampType: "timestamptz",
	ClaimLock:     "FOR UPDATE SKIP LOCKED",
	AuditLock:     fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", auditLockKey),
}

// Open connects to the database at url (postgres://… or key=value form)
// and checks that it answers; call Migrate before first use. Errors never
// contain the password.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("connect to database: %w", redact(err, ""))
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to database: %w", redact(err, cfg.ConnConfig.Password))
	}
	// The pool connects lazily: ping so a bad address fails here, clearly.
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database: %w", redact(err, cfg.ConnConfig.Password))
	}
	s := &Store{pool: pool}
	s.Queries = sqlstore.New(dialect, pgDB{pool}, pgDB{pool}, func(ctx context.Context) (sqlstore.Tx, error) {
		tx, err := pool.Begin(ctx)
		if err != nil {
			return nil, err
		}
		return pgTx{pgDB{tx}, tx}, nil
	})
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

// Migrate applies the embedded migrations not yet applied, in one
// transaction, holding an advisory lock so only one kiosk migrates at a
// time; the others wait and then find nothing to do. It returns the names
// of the migrations it applied.
func (s *Store) Migrate(ctx context.Context) ([]string, error) {
	ms, err := sqlstore.LoadMigrations(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	applied, err := sqlstore.Migrate(ctx, s.Queries, ms)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, m := range ms {
		if slices.Contains(applied, m.Version) {
			names = append(names, m.Name)
		}
	}
	return names, nil
}

// ErrSchemaOutOfDate is returned by CheckSchema when migrations are pending.
var ErrSchemaOutOfDate = errors.New("database schema is not up to date: run kiosk migrate first")

// CheckSchema reports ErrSchemaOutOfDate unless every embedded migration
// has been applied, so commands fail clearly on a fresh database instead
// of with "relation does not exist".
func (s *Store) CheckSchema(ctx context.Context) error {
	ms, err := sqlstore.LoadMigrations(migrationFiles, "migrations")
	if err != nil {
		return err
	}
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	var n int
	if exists {
		err := s.pool.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ANY($1)`, versions(ms)).Scan(&n)
		if err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
	}
	if n < len(ms) {
		return fmt.Errorf("%w (%d of %d migrations applied)", ErrSchemaOutOfDate, n, len(ms))
	}
	return nil
}

func versions(ms []sqlstore.Migration) []int32 {
	out := make([]int32, len(ms))
	for i, m := range ms {
		out[i] = int32(m.Version)
	}
	return out
}

// Ping reports whether the server answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// Close releases all connections.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// translate is the one place PostgreSQL errors become domain sentinels.
func translate(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505": // unique_violation
			return fmt.Errorf("%w: %w", domain.ErrConflict, err)
		case "23503": // foreign_key_violation: the row it refers to is missing
			return fmt.Errorf("%w: %w", domain.ErrNotFound, err)
		case "57P01", "57P02", "57P03", "53300": // shutting down, crashed, starting up, too many connections
			return fmt.Errorf("%w: %w", domain.ErrStoreUnavailable, err)
		}
		if strings.HasPrefix(pgErr.Code, "08") { // connection exception
			return fmt.Errorf("%w: %w", domain.ErrStoreUnavailable, err)
		}
		return err
	}
	if unreachable(err) {
		return fmt.Errorf("%w: %w", domain.ErrStoreUnavailable, err)
	}
	return err
}

// unreachable reports a failure to reach the server or to hear back from
// it (as opposed to an answer from it): connecting, a connection lost or
// closed, a network timeout.
func unreachable(err error) bool {
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || pgconn.Timeout(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		strings.Contains(err.Error(), "closed pool") || strings.Contains(err.Error(), "conn closed")
}

// pgxQuerier is what pgxpool.Pool and pgx.Tx have in common.
type pgxQuerier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// pgDB adapts pgx to sqlstore.DB.
type pgDB struct{ q pgxQuerier }

func (d pgDB) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := d.q.Exec(ctx, query, args...)
	return tag.RowsAffected(), err
}

func (d pgDB) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	rows, err := d.q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return rows, nil
}

func (d pgDB) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return d.q.QueryRow(ctx, query, args...)
}

type pgTx struct {
	pgDB
	tx pgx.Tx
}

func (t pgTx) Commit(ctx context.Context) error   { return t.tx.Commit(ctx) }
func (t pgTx) Rollback(ctx context.Context) error { return t.tx.Rollback(ctx) }

// redactedError shows a cleaned message but keeps the cause for errors.Is.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redact cleans an error's text for printing: pgx leaves passwords out of
// its own messages, this guards what the layers below might add and the
// connection string quoted by a parse error (whose password is unknown).
func redact(err error, password string) error {
	return &redactedError{msg: connstr.Redact(oneLine(err.Error()), password), err: err}
}

// oneLine joins pgx's one-line-per-attempt connect errors (it tries TLS,
// then plain, per address) and drops repeats, so a command prints one line.
func oneLine(msg string) string {
	var parts []string
	for _, l := range strings.Split(msg, "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !slices.Contains(parts, l) {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, " ")
}

// ErrNoSuchRole means the application role to grant to does not exist.
var ErrNoSuchRole = errors.New("database role does not exist")

// appGrants is what the kiosk's own role may do to each table: exactly
// what the store's queries need. The audit trail takes new rows only, and
// not their IDs (the column list leaves id out, so rows cannot be slipped
// in out of order); no table is the role's to alter, and a table missing
// here is refused, so each new table gets a decision.
var appGrants = map[string]string{
	"schema_migrations":            "SELECT",
	"audit_chain":                  "SELECT",
	"app_roles":                    "SELECT",
	"audit_events":                 "SELECT, INSERT (at, action, outcome, actor_id, subject_id, card_serial, role, terminal, detail, mac)",
	"users":                        "SELECT, INSERT, UPDATE",
	"positions":                    "SELECT, INSERT, DELETE",
	"position_activities":          "SELECT, INSERT, DELETE",
	"smartcards":                   "SELECT, INSERT, UPDATE",
	"card_secrets":                 "SELECT, INSERT, UPDATE",
	"registrations":                "SELECT, INSERT, UPDATE",
	"registration_answers":         "SELECT, INSERT, DELETE",
	"pending_registrations":        "SELECT, INSERT, UPDATE, DELETE",
	"pending_registration_answers": "SELECT, INSERT, DELETE",
	"one_time_codes":               "SELECT, INSERT, UPDATE",
	"mail_outbox":                  "SELECT, INSERT, UPDATE",
	"card_writes":                  "SELECT, INSERT, UPDATE",
	"pending_card_secrets":         "SELECT, INSERT, DELETE",
}

// GrantApp gives the kiosk's own login role exactly what the kiosk needs
// and no more (appGrants): it runs no DDL, owns nothing (so it cannot
// switch the audit triggers off) and may only read and append to the
// audit trail. It refuses a role that could become the owner or a
// superuser. Run it as the schema owner after Migrate; the role is
// recorded, so later migrations grant it their new tables (Regrant).
// Running it again changes nothing.
func (s *Store) GrantApp(ctx context.Context, role string) error {
	if role == "" {
		return errors.New("grant: no role given")
	}
	var super, createRole, bypassRLS, ownerMember bool
	err := s.pool.QueryRow(ctx, `
		SELECT r.rolsuper, r.rolcreaterole, r.rolbypassrls,
			EXISTS (SELECT 1 FROM pg_tables t WHERE t.schemaname = 'public' AND pg_has_role(r.oid, t.tableowner, 'MEMBER'))
		FROM pg_roles r WHERE r.rolname = $1`, role).Scan(&super, &createRole, &bypassRLS, &ownerMember)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("grant to %s: %w (create it first: CREATE ROLE %s LOGIN PASSWORD '…')", role, ErrNoSuchRole, pgx.Identifier{role}.Sanitize())
	case err != nil:
		return fmt.Errorf("grant to %s: %w", role, translate(err))
	case super:
		return fmt.Errorf("grant to %s: it is a superuser, which can change anything: give the kiosk a role of its own", role)
	case ownerMember:
		// An owner (or a member of one) keeps every right whatever is
		// revoked, and could switch the audit triggers off.
		return fmt.Errorf("grant to %s: it owns the kiosk's tables or is a member of their owner; migrate as another role, and run the kiosk as this one", role)
	case createRole || bypassRLS:
		return fmt.Errorf("grant to %s: it may create roles or bypass row security, and so could make itself the owner: give the kiosk a plain login role", role)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("grant to %s: %w", role, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := grantTables(ctx, tx, role); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO app_roles (name) VALUES ($1) ON CONFLICT DO NOTHING`, role); err != nil {
		return fmt.Errorf("grant to %s: %w", role, translate(err))
	}
	var create bool
	if err := tx.QueryRow(ctx, `SELECT has_schema_privilege($1, 'public', 'CREATE')`, role).Scan(&create); err != nil {
		return fmt.Errorf("grant to %s: %w", role, translate(err))
	}
	if create {
		return fmt.Errorf("grant to %s: it can still create objects in schema public (granted to PUBLIC?): run REVOKE CREATE ON SCHEMA public FROM PUBLIC as the owner", role)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("grant to %s: %w", role, err)
	}
	return nil
}

// grantTables sets role's rights on every table in the schema to
// appGrants, from nothing.
func grantTables(ctx context.Context, tx pgx.Tx, role string) error {
	rows, err := tx.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`)
	if err != nil {
		return fmt.Errorf("grant to %s: %w", role, translate(err))
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("grant to %s: %w", role, translate(err))
	}
	id := pgx.Identifier{role}.Sanitize()
	stmts := []string{
		`REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ` + id,
		`REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM ` + id,
		`REVOKE CREATE ON SCHEMA public FROM ` + id,
		`GRANT USAGE ON SCHEMA public TO ` + id,
	}
	for _, t := range tables {
		rights, ok := appGrants[t]
		if !ok {
			return fmt.Errorf("grant to %s: no rule for table %s: add it to appGrants", role, t)
		}
		stmts = append(stmts, fmt.Sprintf(`GRANT %s ON %s TO %s`, rights, pgx.Identifier{t}.Sanitize(), id))
	}
	for _, stmt := range stmts {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("grant to %s: %s: %w", role, stmt, translate(err))
		}
	}
	return nil
}

// Regrant grants each role GrantApp recorded its rights again, for the
// tables a migration added; migrate runs it after every migration.
func (s *Store) Regrant(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT name FROM app_roles ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("regrant: %w", translate(err))
	}
	roles, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("regrant: %w", translate(err))
	}
	for _, r := range roles {
		if err := s.GrantApp(ctx, r); err != nil {
			return nil, err
		}
	}
	return roles, nil
}

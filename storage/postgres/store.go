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
	"sync"
	"sync/atomic"
	"time"
	"unicode"

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

// Store is the PostgreSQL implementation of domain.Store.
type Store struct {
	*sqlstore.Queries
	pool *pgxpool.Pool
	// admin runs migrations: no statement deadline (an index on a big
	// table takes its time) and no retries.
	admin *sqlstore.Queries
	// connectBudget is how long connecting may take: every host of the
	// URL tried in turn (ConnectBudget).
	connectBudget time.Duration
	closed        atomic.Bool

	// Set by options, before the pool exists.
	chain          domain.AuditChain
	log            *slog.Logger
	connectTimeout time.Duration
	maxConns       int
}

var _ domain.Store = (*Store)(nil)

var dialect = &sqlstore.Dialect{
	Time:          func(t time.Time) any { return t },
	Translate:     translate,
	MigrationLock: fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", migrationLockKey),
	TimestampType: "timestamptz",
	ClaimLock:     "FOR UPDATE SKIP LOCKED",
	AuditLock:     fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", auditLockKey),
	NameHits:      nameHits,
	CollateC:      ` COLLATE "C"`,
}

// firstPer and walkPer size nameHits' walks over users, famFirstPer and
// famWalkPer its walks over family names, in rows read per user wanted;
// famGate is how many matches first must find for the names to be
// walked. Tests change them (and walkAlways and famWalkAlways, which
// take the second walk even if the first found nothing) to reach each
// step with few users in the database.
var (
	firstPer, walkPer       = 40, 400
	walkAlways              = false
	famFirstPer, famWalkPer = 40, 400
	famWalkAlways           = false
	famGate                 = 1
)

// maxSpaces is the most spaces in a name search that gets a cluster for
// each: more, and gl is every match.
const maxSpaces = 8

// nameHits finds the first users in name order whose names contain key.
//
// A trigram index finds the matches but in no order: sorting them costs
// a heap fetch per match, too many for a common name (12,800 for "smith"
// among a million users). Walking the sort index and testing each name
// is the opposite: quick where matches are dense, and slow where they
// are rare or all sit together in sort order, as a family name's do (the
// planner's choice when left to itself: 0.5 to 1.4 s for "smith" at a
// million). So the statement takes the cheapest way that is sure of its
// answer, each step bounded, and each skipped once an earlier one has
// answered (an uncorrelated count is a one-time filter, decided before
// the step runs). Every plan has these steps, as each MATERIALIZED CTE
// is planned on its own:
//
//  1. first: the first 40×limit users in name order, tested from the
//     covering sort index alone; if limit of them match, that is the
//     answer.
//  2. walk: if first found too few but enough in the given name that
//     ten times as many users likely hold limit matches (a given name's
//     are spread across the alphabet; a family name's sit together, and
//     step 3 reads them in order), the same for 400×limit users. A walk
//     that ends short is wasted (step 3 must run), so a hint of a match
//     or two is not enough.
//  3. Else every match, by where in search_key ("given family") it lies:
//     - fl, inside the family name: the family names that contain key
//     (family_names, migration 0010) in name order, with how many users
//     have each; found as steps 1 and 2 find users (fam_first, if first
//     found a match: its users are the first names'; then fam_walk),
//     from the names' index alone, or else all of them by their trigram
//     index (fam_tri). Then the users of each name up to the one where
//     the counts reach limit: a range of the sort index each, read in
//     order. Every name has a user, so limit names are enough; and key
//     (single spaces, no control character) found in a family name is
//     in search_key, whose words are the name's.
//     - gl, inside the given name: by the trigram index of search_given
//     (migration 0010), search_key less the family name at its end.
//     Few: dense matches were steps 1 and 2's.
//     - cl, from the given name across the space into the family name:
//     the family name starts with what follows that space in key, a
//     range of the sort index, read in order; one for each space.
//     A family name with runs of spaces is not at the end of search_key:
//     search_given is then all of it, and gl finds what fl cannot. Key
//     with a control character (chr(31) ends the family name in
//     sort_key and family_names) or many spaces takes neither fl nor cl:
//     gl is then every match, on search_key.
//
// The answer is the first limit of the union of what the steps read:
// each reads only matches, and the first limit matches of each part of
// them, which hold the first limit of all.
//
// The values go in as (SELECT $n), which the planner cannot see into:
// the steps, not the text, decide what is read, so every search has the
// same plan and the server keeps the generic one rather than planning
// each search (a millisecond and more), or pricing a custom plan from
// the text (thousands of family names for "cor") high enough to compile
// it (JIT, 80 ms).
func nameHits(key string, limit int) (string, []any) {
	args := []any{sqlstore.ContainsPattern(key)}
	// Past a few spaces (no name has so many words) the statement would
	// only grow.
	parts := !strings.ContainsFunc(key, unicode.IsControl) && strings.Count(key, " ") <= maxSpaces
	var clusters []string
	for i, r := range key {
		if r != ' ' || !parts {
			continue
		}
		st := key[i+1:]
		hi, ok := sqlstore.PrefixEnd(st)
		if !ok {
			parts = false
			break
		}
		args = append(args, st, hi)
		clusters = append(clusters, fmt.Sprintf(`(SELECT id, sort_key FROM users
			WHERE sort_key >= (SELECT $%d::text) AND sort_key < (SELECT $%d::text) AND search_key LIKE {P}
			ORDER BY sort_key, id LIMIT {L})`, len(args)-1, len(args)))
	}
	none := `SELECT id, sort_key FROM users WHERE false`
	cl, fl, given := none, none, `search_key`
	if !parts {
		args = args[:1]
	} else {
		given = `search_given(search_key, sort_key)`
		if len(clusters) > 0 {
			cl = strings.Join(clusters, " UNION ALL ")
		}
		// A name's users: sort_key from fam (ending in chr(31)) to fam
		// with chr(31) raised. before: the users of the names before.
		// Only the first limit names can be needed (each has a user),
		// so only they are counted: the first 3×limit rows of the three
		// sources hold them (a name is in each at most once), found by
		// a bounded sort, where sorting, deduplicating and counting all
		// of fam_tri's names (4,000 for "ncor") took 6 ms.
		fl = `SELECT u.id, u.sort_key FROM (
				SELECT fam FROM (
					SELECT fam, sum(n) OVER (ORDER BY fam) - n AS before FROM (
						SELECT DISTINCT fam, n FROM (
							SELECT fam, n FROM fam_first UNION ALL SELECT fam, n FROM fam_walk
							UNION ALL SELECT fam, n FROM fam_tri
							ORDER BY fam LIMIT {L3}) f) f) f
				WHERE before < {L}) f
			CROSS JOIN LATERAL (SELECT id, sort_key FROM users
				WHERE sort_key >= f.fam AND sort_key < left(f.fam, -1) || chr(32)
				ORDER BY sort_key, id LIMIT {L}) u`
	}
	stmt := strings.NewReplacer("{CL}", cl, "{FL}", fl, "{GIVEN}", given).Replace(`
		WITH first AS MATERIALIZED (
			SELECT id, sort_key, {GIVEN} LIKE {P} AS in_given
			FROM (SELECT id, sort_key, search_key FROM users ORDER BY sort_key, id LIMIT {FIRST}) w
			WHERE search_key LIKE {P} LIMIT {L}),
		walk AS MATERIALIZED (
			SELECT id, sort_key FROM (SELECT id, sort_key, search_key FROM users ORDER BY sort_key, id LIMIT {WALK}) w
			WHERE search_key LIKE {P}
				AND (SELECT count(*) FROM first) < {L}
				AND (SELECT count(*) FROM first WHERE in_given) >= {DENSE}
			LIMIT {L}),
		fam_first AS MATERIALIZED (
			SELECT fam, n FROM (SELECT fam, n FROM family_names ORDER BY fam LIMIT {FAMFIRST}) w
			WHERE fam LIKE {P} AND (SELECT count(*) FROM first) >= {FAMGATE}
			ORDER BY fam LIMIT {L}),
		fam_walk AS MATERIALIZED (
			SELECT fam, n FROM (SELECT fam, n FROM family_names ORDER BY fam LIMIT {FAMWALK}) w
			WHERE fam LIKE {P}
				AND (SELECT coalesce(sum(n), 0) FROM fam_first) < {L}
				AND (SELECT count(*) FROM fam_first) >= {FAMDENSE}
			ORDER BY fam LIMIT {L}),
		fam_tri AS MATERIALIZED (
			SELECT fam, n FROM family_names WHERE fam LIKE {P}
				AND (SELECT coalesce(sum(n), 0) FROM fam_first) < {L}
				AND (SELECT coalesce(sum(n), 0) FROM fam_walk) < {L}),
		cl AS MATERIALIZED ({CL}),
		fl AS MATERIALIZED ({FL}),
		gl AS MATERIALIZED (SELECT id, sort_key FROM users WHERE {GIVEN} LIKE {P})
		SELECT id FROM (
			SELECT id, sort_key FROM first
			UNION SELECT id, sort_key FROM walk
			UNION SELECT id, sort_key FROM cl WHERE (SELECT count(*) FROM first) < {L} AND (SELECT count(*) FROM walk) < {L}
			UNION SELECT id, sort_key FROM fl WHERE (SELECT count(*) FROM first) < {L} AND (SELECT count(*) FROM walk) < {L}
			UNION SELECT id, sort_key FROM gl WHERE (SELECT count(*) FROM first) < {L} AND (SELECT count(*) FROM walk) < {L}
		) m ORDER BY sort_key, id LIMIT {L}`)
	// Backslash, ContainsPattern's escape, is LIKE's own: no ESCAPE.
	stmt = strings.NewReplacer("{P}", `(SELECT $1::text)`, "{L}", fmt.Sprint(limit), "{L3}", fmt.Sprint(3*limit),
		"{FIRST}", fmt.Sprint(firstPer*limit), "{WALK}", fmt.Sprint(walkPer*limit),
		"{DENSE}", fmt.Sprint(dense(limit, firstPer, walkPer, walkAlways)),
		"{FAMGATE}", fmt.Sprint(famGate), "{FAMFIRST}", fmt.Sprint(famFirstPer*limit),
		"{FAMWALK}", fmt.Sprint(famWalkPer*limit),
		"{FAMDENSE}", fmt.Sprint(dense(limit, famFirstPer, famWalkPer, famWalkAlways))).Replace(stmt)
	return stmt, args
}

// dense is how many matches a first walk of firstPer×limit rows must find
// for a second of walkPer×limit to be taken: four fifths of the share of
// limit that the first walk's rows are of the second's (0 if always).
func dense(limit, firstPer, walkPer int, always bool) int {
	switch {
	case always:
		return 0
	case walkPer <= 0:
		return 1
	}
	return max(1, (4*limit*firstPer+5*walkPer-1)/(5*walkPer))
}

// Open connects to the database at url (postgres://… or key=value form)
// and checks that it answers; call Migrate before first use. Errors never
// contain the password. A URL may name several hosts (a primary and its
// standbys, with target_session_attrs=read-write): each is tried in turn
// for the connect timeout (resilience.go).
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	s := &Store{connectTimeout: DefaultConnectTimeout, maxConns: DefaultMaxConns}
	for _, o := range opts {
		o(s)
	}
	cfg, err := poolConfig(url, s.connectTimeout, s.maxConns)
	if err != nil {
		return nil, fmt.Errorf("connect to database: %w", redact(err, ""))
	}
	s.connectBudget = time.Duration(hosts(&cfg.ConnConfig.Config)) * cfg.ConnConfig.ConnectTimeout
	cfg.ShouldPing = s.shouldPing
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to database: %w", redact(err, cfg.ConnConfig.Password))
	}
	s.pool = pool
	// The pool connects lazily: ping so a bad address fails here, clearly.
	if err := s.do(context.WithValue(ctx, singleAttempt{}, true), readCall, func(ctx context.Context, c *pgxpool.Conn) error {
		return c.Ping(ctx)
	}); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database: %w", redact(err, cfg.ConnConfig.Password))
	}
	s.Queries = sqlstore.New(dialect, poolDB{s, writeCall}, poolDB{s, readCall}, s.begin)
	s.admin = sqlstore.New(dialect, pgDB{q: pool}, pgDB{q: pool}, func(ctx context.Context) (sqlstore.Tx, error) {
		tx, err := pool.Begin(ctx)
		if err != nil {
			return nil, err
		}
		return pgTx{pgDB{q: tx}, tx, nil}, nil
	})
	if s.chain != nil {
		s.Queries.SetAuditChain(s.chain)
	}
	if s.log != nil {
		s.Queries.SetLogger(s.log)
	}
	return s, nil
}

// Option configures Open.
type Option func(*Store)

// WithAuditChain lets the store append to the audit trail, chaining each
// event to the one before under c's key; without it AppendAudit refuses.
func WithAuditChain(c domain.AuditChain) Option {
	return func(s *Store) { s.chain = c }
}

// WithLogger logs each audit row once committed (ID, action and the start
// of its MAC): the terminal's own record of the rows it wrote.
func WithLogger(l *slog.Logger) Option {
	return func(s *Store) { s.log = l }
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
	applied, err := sqlstore.Migrate(ctx, s.admin, ms)
	if err != nil {
		return nil, s.explainExtension(ctx, err)
	}
	var names []string
	for _, m := range ms {
		if slices.Contains(applied, m.Version) {
			names = append(names, m.Name)
		}
	}
	return names, nil
}

// ErrExtension means a migration needs an extension (pg_trgm, for the
// user search) that the server lacks or that the migrating role may not
// create; nothing was applied.
var ErrExtension = errors.New("database extension missing")

// explainExtension turns a failed CREATE EXTENSION into what to do
// about it; other errors pass unchanged.
func (s *Store) explainExtension(ctx context.Context, err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	_, rest, ok := strings.Cut(pgErr.Message, `extension "`)
	if !ok {
		return err
	}
	ext, _, _ := strings.Cut(rest, `"`)
	switch {
	case pgErr.Code == "0A000" && strings.Contains(pgErr.Message, "is not available"):
		// No control file on the server: the module is not installed.
		return fmt.Errorf("%w: the PostgreSQL server has no %s extension, which the user search index needs: install the server's contrib modules (on Debian part of postgresql-NN, elsewhere often postgresql-contrib), then run kiosk migrate again; nothing was applied: %w",
			ErrExtension, ext, err)
	case pgErr.Code == "42501": // insufficient_privilege
		db, role := "the kiosk's database", "the migrating role"
		// Only to name them in the message: the general words do otherwise.
		_ = s.pool.QueryRow(ctx, `SELECT current_database(), current_user`).Scan(&db, &role)
		return fmt.Errorf("%w: role %s may not create the %s extension, which the user search index needs: have a superuser run CREATE EXTENSION %s in database %s (or GRANT CREATE ON DATABASE %s TO %s), then run kiosk migrate again; nothing was applied: %w",
			ErrExtension, role, ext, ext, db, pgx.Identifier{db}.Sanitize(), pgx.Identifier{role}.Sanitize(), err)
	}
	return err
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

// Ping reports whether the server answers (domain.ErrStoreUnavailable
// if not), within a statement's wait once connected; a connection found
// broken is replaced, as for any read.
func (s *Store) Ping(ctx context.Context) error {
	err := s.do(ctx, readCall, func(ctx context.Context, c *pgxpool.Conn) error { return c.Ping(ctx) })
	if err != nil {
		return fmt.Errorf("ping database: %w", translate(err))
	}
	return nil
}

// Close releases all connections.
func (s *Store) Close() error {
	s.closed.Store(true)
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

// pgDB adapts pgx to sqlstore.DB; with a timeout, each statement gets
// that deadline unless ctx ends sooner (statements in a transaction are
// not retried: see begin).
type pgDB struct {
	q       pgxQuerier
	timeout time.Duration
}

// within gives ctx the adapter's deadline, if it has one.
func (d pgDB) within(ctx context.Context) (context.Context, context.CancelFunc) {
	if d.timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d.timeout)
}

func (d pgDB) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	ctx, cancel := d.within(ctx)
	defer cancel()
	tag, err := d.q.Exec(ctx, query, args...)
	return tag.RowsAffected(), err
}

func (d pgDB) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	ctx, cancel := d.within(ctx)
	rows, err := d.q.Query(ctx, query, args...)
	if err != nil {
		cancel()
		return nil, err
	}
	return deadlineRows{rows, cancel}, nil
}

func (d pgDB) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return deadlineRow{d, ctx, query, args}
}

// deadlineRow runs its statement when scanned, under the deadline.
type deadlineRow struct {
	d     pgDB
	ctx   context.Context
	query string
	args  []any
}

func (r deadlineRow) Scan(dest ...any) error {
	ctx, cancel := r.d.within(r.ctx)
	defer cancel()
	return r.d.q.QueryRow(ctx, r.query, r.args...).Scan(dest...)
}

// deadlineRows keep their deadline until closed.
type deadlineRows struct {
	pgx.Rows
	cancel context.CancelFunc
}

func (r deadlineRows) Close() {
	r.Rows.Close()
	r.cancel()
}

type pgTx struct {
	pgDB
	tx pgx.Tx
	c  *held // the pool connection under tx, if taken apart from it
}

// held is a pool connection given back once, when its transaction ends
// (Rollback after Commit is a no-op, and so is its release).
type held struct {
	once sync.Once
	c    *pgxpool.Conn
}

func (h *held) release() {
	if h != nil {
		h.once.Do(h.c.Release)
	}
}

// Commit and Rollback wait no longer than a statement: a COMMIT whose
// answer never comes fails as unavailable (and is not retried: it may
// have committed).
func (t pgTx) Commit(ctx context.Context) error {
	defer t.c.release()
	ctx, cancel := t.within(ctx)
	defer cancel()
	return t.tx.Commit(ctx)
}

func (t pgTx) Rollback(ctx context.Context) error {
	defer t.c.release()
	ctx, cancel := t.within(ctx)
	defer cancel()
	return t.tx.Rollback(ctx)
}

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
	"schema_migrations":                "SELECT",
	"audit_chain":                      "SELECT",
	"app_roles":                        "SELECT",
	"audit_events":                     "SELECT, INSERT (at, action, outcome, actor_id, subject_id, card_serial, role, terminal, detail, mac, request_id)",
	"users":                            "SELECT, INSERT, UPDATE",
	"family_names":                     "SELECT, INSERT, UPDATE, DELETE",
	"positions":                        "SELECT, INSERT, UPDATE (org_name), DELETE", // UPDATE: an import renames an organisation in place
	"position_activities":              "SELECT, INSERT, DELETE",
	"smartcards":                       "SELECT, INSERT, UPDATE",
	"card_secrets":                     "SELECT, INSERT, UPDATE",
	"registrations":                    "SELECT, INSERT, UPDATE",
	"registration_answers":             "SELECT, INSERT, DELETE",
	"registration_answer_sets":         "SELECT, INSERT, DELETE",
	"pending_registrations":            "SELECT, INSERT, UPDATE, DELETE",
	"pending_registration_answers":     "SELECT, INSERT, DELETE",
	"pending_registration_answer_sets": "SELECT, INSERT, DELETE",
	"one_time_codes":                   "SELECT, INSERT, UPDATE",
	"mail_outbox":                      "SELECT, INSERT, UPDATE",
	"card_writes":                      "SELECT, INSERT, UPDATE",
	"pending_card_secrets":             "SELECT, INSERT, DELETE",
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

package postgres

// How the store rides out a failover (issue 13): timeouts sized so that
// a dead or hung server is given up on in seconds and the next host of a
// multi-host URL is tried; bounded retries where they cannot write
// anything twice; and client-generated keys for the writes that record
// what already happened, so that even those can be retried after a
// commit whose answer was lost.

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/storage/internal/sqlstore"
)

const (
	// DefaultConnectTimeout bounds connecting to one host of the URL
	// (TCP, TLS, start-up, authentication and the target_session_attrs
	// check) when the URL sets no connect_timeout. A hung server accepts
	// the TCP connection (the kernel does that) and then never answers:
	// this is how long it holds up the next host. Short enough that a
	// screen's call survives a hung primary, long enough for TLS over a
	// slow link.
	DefaultConnectTimeout = 2500 * time.Millisecond
	// DefaultMaxConns is the pool size when the URL sets no
	// pool_max_conns: what one kiosk or operator terminal runs at once
	// (a visit's call, the mail sender, the card-write journal, the
	// availability ping). Fifty kiosks then hold at most 200 server
	// connections, mostly fewer (the pool grows only as needed).
	DefaultMaxConns = 4

	// StatementTimeout is the longest the store waits for the answer to
	// one statement (or COMMIT) outside migrations and imports, unless
	// the caller's context ends sooner: a connection to a hung server
	// then costs one statement's wait, not a whole screen's.
	StatementTimeout = 5 * time.Second
	// healthCheckPeriod: how often the pool drops connections that
	// expired or idled too long.
	healthCheckPeriod = 5 * time.Second
	// pingTimeout bounds the liveness ping of a connection taken from
	// the pool after it idled (more than idleBeforePing).
	pingTimeout    = time.Second
	idleBeforePing = time.Second

	// TCP keepalive: an idle connection whose server host vanished (a
	// crash of the machine, a network split) is found dead in about
	// 11 s rather than the kernel's default two hours; tcpUserTimeout
	// does the same for data sent and never acknowledged.
	keepAliveIdle     = 5 * time.Second
	keepAliveInterval = 2 * time.Second
	keepAliveCount    = 3
	tcpUserTimeout    = keepAliveIdle + keepAliveCount*keepAliveInterval
	// idleInTransaction ends, on the server, a transaction left open with
	// nothing sent for this long: the kiosk never waits on a person inside
	// a transaction, and an import reads the rest of its file (to report
	// its problems) in a few seconds.
	idleInTransaction = time.Minute

	// attempts is how many times a call is tried in all when a retry is
	// safe; retryBase is the first back-off, doubled each time, with
	// jitter so that fifty kiosks do not come back in step.
	attempts  = 3
	retryBase = 100 * time.Millisecond
)

// poolConfig parses url and applies the store's defaults where the URL
// names none: connectTimeout per host, maxConns, the dialer's keepalive
// and user timeout, the pool's health check and ping timeout.
func poolConfig(connString string, connectTimeout time.Duration, maxConns int) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		return nil, err
	}
	cc := &cfg.ConnConfig.Config
	if cc.ConnectTimeout == 0 {
		if connectTimeout <= 0 {
			connectTimeout = DefaultConnectTimeout
		}
		cc.ConnectTimeout = connectTimeout
	}
	d := &net.Dialer{
		Timeout: cc.ConnectTimeout,
		KeepAliveConfig: net.KeepAliveConfig{
			Enable: true, Idle: keepAliveIdle, Interval: keepAliveInterval, Count: keepAliveCount,
		},
		Control: controlSocket,
	}
	cc.DialFunc = d.DialContext
	if maxConns > 0 && !namesParam(connString, "pool_max_conns") {
		cfg.MaxConns = int32(maxConns)
	}
	if !namesParam(connString, "pool_health_check_period") {
		cfg.HealthCheckPeriod = healthCheckPeriod
	}
	if !namesParam(connString, "pool_ping_timeout") {
		cfg.PingTimeout = pingTimeout
	}
	// The server's side of the same: a kiosk that vanishes in the middle
	// of a transaction (power, a network split) would otherwise keep its
	// locks, the audit chain's among them, until the server's own TCP
	// keepalive gives up, two hours by default, and every other kiosk's
	// audited step would time out meanwhile. Settings a plain role may
	// make, known since PostgreSQL 12; the URL's own win.
	for name, value := range map[string]string{
		"idle_in_transaction_session_timeout": strconv.Itoa(int(idleInTransaction / time.Millisecond)),
		"tcp_keepalives_idle":                 strconv.Itoa(int(keepAliveIdle / time.Second)),
		"tcp_keepalives_interval":             strconv.Itoa(int(keepAliveInterval / time.Second)),
		"tcp_keepalives_count":                strconv.Itoa(keepAliveCount),
		"tcp_user_timeout":                    strconv.Itoa(int(tcpUserTimeout / time.Millisecond)),
	} {
		if _, ok := cc.RuntimeParams[name]; !ok && !namesParam(connString, name) {
			cc.RuntimeParams[name] = value
		}
	}
	return cfg, nil
}

// kvParam matches a key in a key=value connection string.
var kvParam = regexp.MustCompile(`(?:^|\s)([a-z_]+)\s*=`)

// namesParam reports whether the connection string sets key itself (so
// that the store's default gives way to it).
func namesParam(connString, key string) bool {
	if strings.HasPrefix(connString, "postgres://") || strings.HasPrefix(connString, "postgresql://") {
		u, err := url.Parse(connString)
		return err == nil && u.Query().Has(key)
	}
	for _, m := range kvParam.FindAllStringSubmatch(connString, -1) {
		if m[1] == key {
			return true
		}
	}
	return false
}

// hosts counts the hosts pgx tries one after another, each with its own
// connect timeout: the URL's host:port pairs (pgx lists TLS and plain
// attempts at one address separately, under one timeout). A name that
// resolves to several addresses counts once here, though pgx gives each
// address its own timeout: list such hosts by address in the URL.
func hosts(cc *pgconn.Config) int {
	n, last := 1, fmt.Sprintf("%s:%d", cc.Host, cc.Port)
	for _, fb := range cc.Fallbacks {
		if a := fmt.Sprintf("%s:%d", fb.Host, fb.Port); a != last {
			n, last = n+1, a
		}
	}
	return n
}

// ConnectBudget is the longest connecting may take: every host of the
// URL tried in turn, each for its connect timeout (the URL's
// connect_timeout, else connectTimeout, else DefaultConnectTimeout). A
// budget sized for one host would let a hung first host use it all, so
// that the standby behind it is never tried.
func ConnectBudget(connString string, connectTimeout time.Duration) time.Duration {
	cfg, err := poolConfig(connString, connectTimeout, 0)
	if err != nil {
		return max(connectTimeout, DefaultConnectTimeout) // Open reports the error
	}
	return time.Duration(hosts(&cfg.ConnConfig.Config)) * cfg.ConnConfig.ConnectTimeout
}

// OpenBudget is how long a command should allow for opening the store
// and its first few statements: ConnectBudget, then a statement's wait.
func OpenBudget(connString string, connectTimeout time.Duration) time.Duration {
	return ConnectBudget(connString, connectTimeout) + StatementTimeout
}

// WithConnectTimeout sets the connect timeout per host for a URL that
// sets no connect_timeout (default DefaultConnectTimeout).
func WithConnectTimeout(d time.Duration) Option {
	return func(s *Store) { s.connectTimeout = d }
}

// WithMaxConns sets the pool size for a URL that sets no pool_max_conns
// (default DefaultMaxConns).
func WithMaxConns(n int) Option {
	return func(s *Store) { s.maxConns = n }
}

// shouldPing checks a connection that idled before it is handed out, as
// pgxpool would, but on failure also drops every other idle connection:
// they lead to the same server, which has just been found dead or hung,
// and pinging each in turn would cost a ping timeout apiece.
func (s *Store) shouldPing(ctx context.Context, p pgxpool.ShouldPingParams) bool {
	if p.IdleDuration <= idleBeforePing {
		return false
	}
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if err := p.Conn.Ping(pctx); err != nil {
		if ctx.Err() == nil { // not the caller giving up
			s.pool.Reset()
		}
		// The pool pings again and, the connection being broken now,
		// drops it at once and takes another.
		return true
	}
	return false
}

// callKind says what a failed attempt may be retried after.
type callKind int

const (
	// readCall: a statement that changes nothing, retried whenever the
	// server could not be reached or stopped answering.
	readCall callKind = iota
	// writeCall: retried only if nothing reached the server (no
	// connection, or pgx's SafeToRetry): a write whose answer was lost
	// may have committed.
	writeCall
	// keyedCall: a keyed write (sqlstore.RequestKey), retried like a
	// read: the retry finds what an earlier attempt committed.
	keyedCall
)

// singleAttempt marks a context whose calls must not retry on their own:
// a keyed write retries as a whole, and nested retries would multiply.
type singleAttempt struct{}

func (s *Store) tries(ctx context.Context) int {
	if ctx.Value(singleAttempt{}) != nil {
		return 1
	}
	return attempts
}

// unavailable reports a failure to reach the server or hear from it (a
// connect error, a lost connection, a timeout, a server shutting down).
func unavailable(err error) bool {
	return errors.Is(translate(err), domain.ErrStoreUnavailable)
}

// lostConnection reports a failure on a connection that was open, not
// caused by the caller giving up (ctx): the others in the pool likely
// lead to the same dead or hung server.
func lostConnection(ctx context.Context, err error) bool {
	var ce *pgconn.ConnectError
	return ctx.Err() == nil && unavailable(err) && !errors.As(err, &ce)
}

// retryable decides whether a failed attempt of kind is tried again;
// sent is whether the statement may have reached the server (the
// connection was acquired).
func (s *Store) retryable(ctx context.Context, kind callKind, err error, sent bool) bool {
	if ctx.Err() != nil || s.closed.Load() || !unavailable(err) {
		return false
	}
	if !sent || pgconn.SafeToRetry(err) {
		return true
	}
	return kind != writeCall
}

// pause waits before attempt n+1 (100 ms, then 200 ms, each ±50 %);
// false if ctx ended first.
func pause(ctx context.Context, n int) bool {
	d := retryBase << (n - 1)
	d = d/2 + mathrand.N(d)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// acquire takes a connection, allowing for every host of the URL to be
// tried (and an idle connection's ping) unless ctx ends sooner.
func (s *Store) acquire(ctx context.Context) (*pgxpool.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, s.connectBudget+pingTimeout)
	defer cancel()
	return s.pool.Acquire(ctx)
}

// do runs fn, one statement, on a connection from the pool under the
// statement deadline, retrying as kind allows.
func (s *Store) do(ctx context.Context, kind callKind, fn func(ctx context.Context, c *pgxpool.Conn) error) error {
	n := s.tries(ctx)
	for i := 1; ; i++ {
		sent, err := s.once(ctx, fn)
		if err == nil || i == n || !s.retryable(ctx, kind, err, sent) || !pause(ctx, i) {
			return err
		}
	}
}

func (s *Store) once(ctx context.Context, fn func(ctx context.Context, c *pgxpool.Conn) error) (sent bool, err error) {
	c, err := s.acquire(ctx)
	if err != nil {
		return false, err
	}
	defer c.Release()
	sctx, cancel := context.WithTimeout(ctx, StatementTimeout)
	defer cancel()
	if err = fn(sctx, c); err != nil && lostConnection(ctx, err) {
		s.pool.Reset()
	}
	return true, err
}

// begin starts a transaction for sqlstore. BEGIN changes nothing, so a
// failed one is retried whatever the failure (a dead connection the pool
// handed out, a host being failed over); statements in the transaction
// are not: the caller's work is not ours to repeat. Taking a connection
// may mean connecting (acquire's budget); BEGIN itself, on a connection
// already open, gets a statement's time, so that one to a hung server is
// given up as soon as any other statement would be.
func (s *Store) begin(ctx context.Context) (sqlstore.Tx, error) {
	n := s.tries(ctx)
	for i := 1; ; i++ {
		tx, err := s.beginOnce(ctx)
		if err == nil {
			return tx, nil
		}
		if lostConnection(ctx, err) {
			s.pool.Reset()
		}
		if i == n || !s.retryable(ctx, readCall, err, false) || !pause(ctx, i) {
			return nil, err
		}
	}
}

func (s *Store) beginOnce(ctx context.Context) (sqlstore.Tx, error) {
	c, err := s.acquire(ctx)
	if err != nil {
		return nil, err
	}
	bctx, cancel := context.WithTimeout(ctx, StatementTimeout)
	defer cancel()
	tx, err := c.Begin(bctx)
	if err != nil {
		c.Release()
		return nil, err
	}
	return pgTx{pgDB{tx, StatementTimeout}, tx, &held{c: c}}, nil
}

// keyed runs a keyed write (see sqlstore.RequestKey) until it is known to
// have been written or to have failed for good: attempt gets retry=true
// on every attempt after the first, whose row it must then look for.
func (s *Store) keyed(ctx context.Context, attempt func(ctx context.Context, retry bool) error) error {
	actx := context.WithValue(ctx, singleAttempt{}, true)
	for i := 1; ; i++ {
		err := attempt(actx, i > 1)
		if err == nil || i == attempts || !s.retryable(ctx, keyedCall, err, true) || !pause(ctx, i) {
			return err
		}
	}
}

// newRequestKey returns a random (version 4) UUID.
func newRequestKey() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// AppendAudit appends e to the audit trail, retrying after a lost
// connection under one request key: a retry whose first attempt
// committed returns that row, so the chain gains one link, not two.
func (s *Store) AppendAudit(ctx context.Context, e domain.AuditEvent) (domain.AuditEvent, error) {
	if e.At.IsZero() {
		e.At = time.Now() // once, for every attempt
	}
	k := sqlstore.RequestKey{ID: newRequestKey()}
	var out domain.AuditEvent
	err := s.keyed(ctx, func(ctx context.Context, retry bool) (err error) {
		k.Retry = retry
		out, err = s.Queries.AppendAuditKeyed(ctx, e, k)
		return err
	})
	return out, err
}

// EnqueueMail queues m, retrying after a lost connection under one
// request key, so that a retry never sends a mail twice.
func (s *Store) EnqueueMail(ctx context.Context, m domain.Mail) (domain.Mail, error) {
	k := sqlstore.RequestKey{ID: newRequestKey()}
	var out domain.Mail
	err := s.keyed(ctx, func(ctx context.Context, retry bool) (err error) {
		k.Retry = retry
		out, err = s.Queries.EnqueueMailKeyed(ctx, m, k)
		return err
	})
	return out, err
}

// CreateCode stores a one-time code, retrying after a lost connection
// under one request key: a second code would retire the first, whose
// mail may be on its way already.
func (s *Store) CreateCode(ctx context.Context, c domain.OneTimeCode) (domain.OneTimeCode, error) {
	k := sqlstore.RequestKey{ID: newRequestKey()}
	var out domain.OneTimeCode
	err := s.keyed(ctx, func(ctx context.Context, retry bool) (err error) {
		k.Retry = retry
		out, err = s.Queries.CreateCodeKeyed(ctx, c, k)
		return err
	})
	return out, err
}

// poolDB is sqlstore.DB on the pool, outside transactions: every
// statement under the statement deadline and retried as kind allows.
type poolDB struct {
	s    *Store
	kind callKind
}

func (d poolDB) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	var n int64
	err := d.s.do(ctx, d.kind, func(ctx context.Context, c *pgxpool.Conn) error {
		tag, err := c.Exec(ctx, query, args...)
		n = tag.RowsAffected()
		return err
	})
	return n, err
}

func (d poolDB) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return poolRow{d, ctx, query, args}
}

// poolRow runs its statement when scanned, so that the statement's
// deadline and retries cover reading the answer.
type poolRow struct {
	d     poolDB
	ctx   context.Context
	query string
	args  []any
}

func (r poolRow) Scan(dest ...any) error {
	return r.d.s.do(r.ctx, r.d.kind, func(ctx context.Context, c *pgxpool.Conn) error {
		return c.QueryRow(ctx, r.query, r.args...).Scan(dest...)
	})
}

// Query is retried only until the first row arrives: after that the
// caller has rows in hand, and a second run would hand them over twice.
func (d poolDB) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	n := d.s.tries(ctx)
	for i := 1; ; i++ {
		rows, sent, err := d.query(ctx, query, args)
		if err == nil || i == n || !d.s.retryable(ctx, d.kind, err, sent) || !pause(ctx, i) {
			return rows, err
		}
	}
}

func (d poolDB) query(ctx context.Context, query string, args []any) (sqlstore.Rows, bool, error) {
	c, err := d.s.acquire(ctx)
	if err != nil {
		return nil, false, err
	}
	sctx, cancel := context.WithTimeout(ctx, StatementTimeout)
	rows, err := c.Query(sctx, query, args...)
	if err == nil {
		// The first row, or the end, tells whether the statement worked.
		if rows.Next() {
			return &poolRows{rows: rows, c: c, cancel: cancel, peeked: true}, true, nil
		}
		err = rows.Err()
		if err == nil {
			return &poolRows{rows: rows, c: c, cancel: cancel}, true, nil
		}
	}
	if rows != nil {
		rows.Close()
	}
	if lostConnection(ctx, err) {
		d.s.pool.Reset()
	}
	c.Release()
	cancel()
	return nil, true, err
}

// poolRows are a query's rows holding their connection and deadline
// until closed; the first row has been read already (peeked).
type poolRows struct {
	rows   pgx.Rows
	c      *pgxpool.Conn
	cancel context.CancelFunc
	peeked bool
	closed bool
}

func (r *poolRows) Next() bool {
	if r.peeked {
		r.peeked = false
		return true
	}
	return r.rows.Next()
}

func (r *poolRows) Scan(dest ...any) error { return r.rows.Scan(dest...) }
func (r *poolRows) Err() error             { return r.rows.Err() }

func (r *poolRows) Close() {
	if r.closed {
		return
	}
	r.closed = true
	r.rows.Close()
	r.c.Release() // a connection that broke meanwhile is dropped, not pooled
	r.cancel()
}

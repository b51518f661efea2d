package postgres

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smartcard-service-centre/kiosk/domain"
)

func TestPoolConfigDefaults(t *testing.T) {
	for _, tc := range []struct {
		url             string
		timeout         time.Duration
		maxConns        int
		wantTimeout     time.Duration
		wantConns       int32
		wantHealthCheck time.Duration
		wantHosts       int
	}{
		{"postgres://k@db/kiosk", 0, 0, DefaultConnectTimeout, 4, healthCheckPeriod, 1},
		{"postgres://k@db/kiosk", 3 * time.Second, 9, 3 * time.Second, 9, healthCheckPeriod, 1},
		// What the URL says wins over the kiosk's settings.
		{"postgres://k@db/kiosk?connect_timeout=7&pool_max_conns=2&pool_health_check_period=1m", 3 * time.Second, 9,
			7 * time.Second, 2, time.Minute, 1},
		{"host=db user=k pool_max_conns = 3 connect_timeout=1", 0, 9, time.Second, 3, healthCheckPeriod, 1},
		// Two hosts, each tried with TLS then without (sslmode=prefer):
		// two hosts for the budget.
		{"postgres://k@db1,db2/kiosk?target_session_attrs=read-write", 0, 0, DefaultConnectTimeout, 4, healthCheckPeriod, 2},
		{"postgres://k@db1:5432,db1:5433,db3/kiosk?sslmode=disable", 0, 0, DefaultConnectTimeout, 4, healthCheckPeriod, 3},
		{"host=/run/a,/run/b port=5432", 0, 0, DefaultConnectTimeout, 4, healthCheckPeriod, 2},
	} {
		cfg, err := poolConfig(tc.url, tc.timeout, tc.maxConns)
		if err != nil {
			t.Fatalf("%s: %v", tc.url, err)
		}
		if maxConns := tc.wantConns; tc.maxConns == 0 && maxConns == 4 {
			// pgx's own default when the kiosk gives none: at least 4.
			if cfg.MaxConns < 4 {
				t.Errorf("%s: %d connections, want at least 4", tc.url, cfg.MaxConns)
			}
		} else if cfg.MaxConns != maxConns {
			t.Errorf("%s: %d connections, want %d", tc.url, cfg.MaxConns, maxConns)
		}
		if got := cfg.ConnConfig.ConnectTimeout; got != tc.wantTimeout {
			t.Errorf("%s: connect timeout %v, want %v", tc.url, got, tc.wantTimeout)
		}
		if cfg.HealthCheckPeriod != tc.wantHealthCheck || cfg.PingTimeout != pingTimeout {
			t.Errorf("%s: health check %v, ping timeout %v", tc.url, cfg.HealthCheckPeriod, cfg.PingTimeout)
		}
		if cfg.ConnConfig.DialFunc == nil {
			t.Errorf("%s: no dialer", tc.url)
		}
		if got := hosts(&cfg.ConnConfig.Config); got != tc.wantHosts {
			t.Errorf("%s: %d hosts, want %d", tc.url, got, tc.wantHosts)
		}
		want := time.Duration(tc.wantHosts) * tc.wantTimeout
		if got := ConnectBudget(tc.url, tc.timeout); got != want {
			t.Errorf("%s: connect budget %v, want %v", tc.url, got, want)
		}
		if got := OpenBudget(tc.url, tc.timeout); got != want+StatementTimeout {
			t.Errorf("%s: open budget %v, want %v", tc.url, got, want+StatementTimeout)
		}
	}
}

// TestOpenDefaultsAndOptions: Open applies the kiosk's settings to its
// pool.
func TestOpenDefaultsAndOptions(t *testing.T) {
	dbURL := throwawayDB(t)
	s := open(t, dbURL)
	if got := s.pool.Config().MaxConns; got != DefaultMaxConns {
		t.Errorf("default pool size %d, want %d", got, DefaultMaxConns)
	}
	s2, err := Open(t.Context(), dbURL, WithMaxConns(7), WithConnectTimeout(1500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	cfg := s2.pool.Config()
	if cfg.MaxConns != 7 || cfg.ConnConfig.ConnectTimeout != 1500*time.Millisecond || s2.connectBudget != 1500*time.Millisecond {
		t.Errorf("options: %d connections, connect timeout %v, budget %v", cfg.MaxConns, cfg.ConnConfig.ConnectTimeout, s2.connectBudget)
	}
}

// TestSurvivesKilledConnections: every pooled connection is cut by the
// server (as a restart or a failover does); the next reads, transactions
// and keyed writes go through on new connections, without an error for
// the caller.
func TestSurvivesKilledConnections(t *testing.T) {
	dbURL := throwawayDB(t)
	s := open(t, dbURL)
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	u := domain.User{ID: "555013000002", GivenName: "Cut", FamilyName: "Off", CreatedAt: time.Now().UTC()}
	if err := s.PutUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	kill := func() {
		t.Helper()
		// Fill the pool, then have the server end each connection.
		var wg sync.WaitGroup
		for range DefaultMaxConns {
			wg.Go(func() {
				c, err := s.pool.Acquire(ctx)
				if err == nil {
					time.Sleep(20 * time.Millisecond)
					c.Release()
				}
			})
		}
		wg.Wait()
		conn, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&n); err != nil || n < 2 {
			t.Fatalf("terminated %d connections: %v", n, err)
		}
		time.Sleep(50 * time.Millisecond) // the FATAL notices arrive
	}
	kill()
	if got, err := s.GetUser(ctx, u.ID); err != nil || got.ID != u.ID {
		t.Fatalf("read after the connections were cut: %v", err)
	}
	kill()
	if users, err := s.ListUsers(ctx, 10); err != nil || len(users) != 1 {
		t.Fatalf("list after the connections were cut: %v, %v", users, err)
	}
	kill()
	if err := s.InTx(ctx, func(q domain.Queries) error {
		_, err := q.GetUser(ctx, u.ID)
		return err
	}); err != nil {
		t.Fatalf("transaction after the connections were cut: %v", err)
	}
	kill()
	if _, err := s.AppendAudit(ctx, domain.AuditEvent{Action: domain.AuditCodeIssued, Outcome: domain.OutcomeSuccess, SubjectID: u.ID}); err != nil {
		t.Fatalf("audit row after the connections were cut: %v", err)
	}
	kill()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("ping after the connections were cut: %v", err)
	}
}

// TestStatementDeadline: a statement that does not answer in time fails
// as unavailable after StatementTimeout, or sooner when the caller's own
// deadline is sooner; a caller's cancellation is not retried.
func TestStatementDeadline(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the statement deadline")
	}
	s := open(t, throwawayDB(t))
	ctx := t.Context()
	start := time.Now()
	_, err := (poolDB{s, writeCall}).Exec(ctx, `SELECT pg_sleep(30)`)
	if took := time.Since(start); err == nil || took > StatementTimeout+2*time.Second || took < StatementTimeout {
		t.Fatalf("slow statement: %v after %v, want unavailable after %v", err, took, StatementTimeout)
	}
	if !errors.Is(translate(err), domain.ErrStoreUnavailable) {
		t.Fatalf("slow statement: %v, want unavailable", err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start = time.Now()
	if _, err := (poolDB{s, readCall}).Exec(short, `SELECT pg_sleep(30)`); err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("caller's deadline: %v after %v", err, time.Since(start))
	}
}

// The server ends what a vanished kiosk left behind (an open transaction
// holding the audit chain's lock) in a minute, not its two-hour TCP
// default: the session settings reach the server, and the URL's win.
func TestServerSideTimeouts(t *testing.T) {
	url := throwawayDB(t)
	s := open(t, url)
	for name, want := range map[string]string{
		"idle_in_transaction_session_timeout": "1min",
		"tcp_keepalives_idle":                 "5",
		"tcp_keepalives_interval":             "2",
		"tcp_keepalives_count":                "3",
		"tcp_user_timeout":                    "11000",
	} {
		var got string
		if err := s.pool.QueryRow(t.Context(), "SELECT current_setting($1)", name).Scan(&got); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	cfg, err := poolConfig("postgres://k@db/kiosk?idle_in_transaction_session_timeout=5000", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"]; got != "5000" {
		t.Errorf("the URL's idle_in_transaction_session_timeout gave way: %q", got)
	}
}

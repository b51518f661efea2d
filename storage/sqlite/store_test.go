package sqlite

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/storage/internal/sqlstore"
	"github.com/smartcard-service-centre/kiosk/storage/storetest"
)

func openTemp(t testing.TB) *Store {
	t.Helper()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "kiosk.db"), WithAuditChain(storetest.Chain))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// rawExec is the suite's raw SQL hook, on the write connection.
func rawExec(ctx context.Context, s domain.Store, query string) error {
	_, err := s.(*Store).w.ExecContext(ctx, query)
	return err
}

// reopen opens the file s uses a second time, as a second kiosk would.
func reopen(t *testing.T, s domain.Store) domain.Store {
	t.Helper()
	var seq int
	var name, path string
	if err := s.(*Store).w.QueryRowContext(t.Context(), "PRAGMA database_list").Scan(&seq, &name, &path); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(t.Context(), path, WithAuditChain(storetest.Chain))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s2.Close() })
	return s2
}

func TestConformanceSQLite(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) domain.Store { return openTemp(t) },
			storetest.WithExec(rawExec), storetest.WithReopen(reopen))
	})
}

func TestOpenSetsPragmasAndPermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "data")
	path := filepath.Join(dir, "kiosk.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for pragma, want := range map[string]string{
		"journal_mode": "wal", "foreign_keys": "1", "synchronous": "1", "busy_timeout": "10000",
	} {
		var got string
		if err := s.w.QueryRowContext(t.Context(), "PRAGMA "+pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
	var fk, qo string
	if err := s.r.QueryRowContext(t.Context(), "PRAGMA foreign_keys").Scan(&fk); err != nil {
		t.Fatal(err)
	}
	if err := s.r.QueryRowContext(t.Context(), "PRAGMA query_only").Scan(&qo); err != nil {
		t.Fatal(err)
	}
	if fk != "1" || qo != "1" {
		t.Errorf("read pool: foreign_keys=%s query_only=%s, want 1 and 1", fk, qo)
	}
	for p, want := range map[string]os.FileMode{dir: 0o700, path: 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %v, want %v", p, got, want)
		}
	}
}

func TestOpenRejectsNonFiles(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file:x.db?mode=memory"} {
		if s, err := Open(t.Context(), p); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
	}
}

func TestOpenPathWithURICharacters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a dir?x=1#frag", "kiosk%20.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at the literal path: %v", err)
	}
}

// schema is everything migrations leave behind, to compare runs.
func schema(t *testing.T, s *Store) []string {
	t.Helper()
	var out []string
	rows, err := s.w.QueryContext(t.Context(), `
		SELECT type || ' ' || name || ' ' || coalesce(sql, '') FROM sqlite_schema
		UNION ALL SELECT 'migration ' || version || ' ' || name || ' ' || applied_at FROM schema_migrations
		ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		out = append(out, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestMigrateIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kiosk.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	first := schema(t, s)
	for _, m := range []string{"migration 1 0001_init", "migration 2 0002_outbox"} {
		if !strings.Contains(strings.Join(first, "\n"), m) {
			t.Fatalf("%s not recorded:\n%s", m, strings.Join(first, "\n"))
		}
	}
	// Run again on the open store, then reopen (which migrates on open).
	if err := migrate(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if second := schema(t, s); !reflect.DeepEqual(first, second) {
		t.Fatalf("second migration changed the schema:\n%s\n---\n%s", strings.Join(first, "\n"), strings.Join(second, "\n"))
	}
}

// TestConcurrentOpen: two kiosks opening one new file at once both migrate
// safely (BEGIN IMMEDIATE serialises them; the second finds nothing to do).
func TestConcurrentOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kiosk.db")
	var (
		wg     sync.WaitGroup
		stores [4]*Store
		errs   [4]error
		start  = make(chan struct{})
	)
	for i := range stores {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = Open(t.Context(), path)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	var n int
	if err := stores[0].w.QueryRowContext(t.Context(), "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if want := migrationCount(t); n != want {
		t.Fatalf("%d migration rows, want %d", n, want)
	}
}

func TestTranslateKeepsDriverError(t *testing.T) {
	s := openTemp(t)
	u := domain.User{ID: "555001799894", GivenName: "A"}
	if err := s.PutUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	_, err := s.AddPosition(t.Context(), domain.Position{UserID: u.ID, OrgCode: "X", RoleName: "R"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.AddPosition(t.Context(), domain.Position{UserID: u.ID, OrgCode: "X", RoleName: "R"})
	if err == nil || !strings.Contains(err.Error(), "UNIQUE constraint failed") {
		t.Fatalf("conflict error %v does not say which constraint", err)
	}
}

func BenchmarkGetSmartcard(b *testing.B) { storetest.BenchGetSmartcard(b, openTemp(b)) }

func BenchmarkRecordFailedAttempt(b *testing.B) { storetest.BenchRecordFailedAttempt(b, openTemp(b)) }

// migrationCount is how many migrations the binary embeds.
func migrationCount(t *testing.T) int {
	t.Helper()
	ms, err := sqlstore.LoadMigrations(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	return len(ms)
}

// TestAuditTamperDetected: anyone who can write the file can drop the
// append-only triggers, but a changed row and a deleted row are both
// found by VerifyAudit.
func TestAuditTamperDetected(t *testing.T) {
	unguard := []string{"DROP TRIGGER audit_events_no_update", "DROP TRIGGER audit_events_no_delete"}
	storetest.TamperAudit(t, openTemp(t), rawExec, unguard, nil)
	storetest.ClearedMAC(t, openTemp(t), rawExec, unguard)
}

// TestAuditNeedsChainKey: a store opened without the audit chain's key
// reads the trail but refuses to append to it.
func TestAuditNeedsChainKey(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "kiosk.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.AppendAudit(t.Context(), domain.AuditEvent{Action: domain.AuditSelfUnlock, Outcome: domain.OutcomeSuccess})
	if !errors.Is(err, sqlstore.ErrNoAuditChain) {
		t.Fatalf("append without a key: %v, want ErrNoAuditChain", err)
	}
	if _, err := s.ListAudit(t.Context(), domain.AuditFilter{}); err != nil {
		t.Fatalf("list without a key: %v", err)
	}
}

// TestAuditRowsLoggedOnceCommitted: the terminal's log names each audit
// row it wrote, and only once its transaction committed.
func TestAuditRowsLoggedOnceCommitted(t *testing.T) {
	var buf strings.Builder
	log := slog.New(slog.NewTextHandler(&buf, nil))
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "kiosk.db"), WithAuditChain(storetest.Chain), WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	ev := domain.AuditEvent{Action: domain.AuditSelfUnlock, Outcome: domain.OutcomeSuccess}
	if _, err := s.AppendAudit(ctx, ev); err != nil {
		t.Fatal(err)
	}
	rolledBack := errors.New("roll back")
	if err := s.InTx(ctx, func(q domain.Queries) error {
		if _, err := q.AppendAudit(ctx, ev); err != nil {
			return err
		}
		return rolledBack
	}); !errors.Is(err, rolledBack) {
		t.Fatal(err)
	}
	if err := s.InTx(ctx, func(q domain.Queries) error {
		_, err := q.AppendAudit(ctx, ev)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	stored, err := s.ListAudit(ctx, domain.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	got := buf.String()
	if len(stored) != 2 || strings.Count(got, "audit row written") != 2 {
		t.Fatalf("%d rows stored; log:\n%s\nwant the 2 committed rows logged, not the rolled-back one", len(stored), got)
	}
	for _, e := range stored {
		if want := fmt.Sprintf("id=%d action=self_unlock mac=%x", e.ID, e.MAC[:8]); !strings.Contains(got, want) {
			t.Errorf("log lacks %q:\n%s", want, got)
		}
	}
}

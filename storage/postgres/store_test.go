package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/storage/internal/sqlstore"
	"github.com/smartcard-service-centre/kiosk/storage/postgres/pgtest"
	"github.com/smartcard-service-centre/kiosk/storage/storetest"
)

// throwawayDB creates an empty database that is dropped after the test.
func throwawayDB(t testing.TB) string { return pgtest.NewDatabase(t) }

func open(t testing.TB, dbURL string) *Store {
	t.Helper()
	s, err := Open(t.Context(), dbURL, WithAuditChain(storetest.Chain))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func rawExec(ctx context.Context, s domain.Store, query string) error {
	_, err := s.(*Store).pool.Exec(ctx, query)
	return err
}

func TestConformancePostgreSQL(t *testing.T) {
	dbURL := throwawayDB(t)
	if _, err := open(t, dbURL).Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Run("postgres", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) domain.Store { return open(t, dbURL) }, storetest.WithExec(rawExec),
			storetest.WithReopen(func(t *testing.T, _ domain.Store) domain.Store { return open(t, dbURL) }),
			withLossyLink(dbURL))
	})
}

// schema is everything migrations leave behind, to compare runs.
func schema(t *testing.T, s *Store) []string {
	t.Helper()
	return textRows(t, s, `
		SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable
			FROM information_schema.columns WHERE table_schema = 'public'
		UNION ALL SELECT 'index ' || indexname || ' ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
		UNION ALL SELECT 'constraint ' || conname || ' ' || pg_get_constraintdef(oid)
			FROM pg_constraint WHERE connamespace = 'public'::regnamespace
		UNION ALL SELECT 'trigger ' || tgname FROM pg_trigger WHERE NOT tgisinternal
		UNION ALL SELECT 'migration ' || version || ' ' || name || ' ' || applied_at FROM schema_migrations
		ORDER BY 1`)
}

// textRows is a query's one text column, row by row.
func textRows(t *testing.T, s *Store, query string) []string {
	t.Helper()
	rows, err := s.pool.Query(t.Context(), query)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestMigrateIdempotent(t *testing.T) {
	s := open(t, throwawayDB(t))
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	first := schema(t, s)
	for _, m := range []string{"migration 1 0001_init", "migration 2 0002_outbox"} {
		if !strings.Contains(strings.Join(first, "\n"), m) {
			t.Fatalf("%s not recorded:\n%s", m, strings.Join(first, "\n"))
		}
	}
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	if second := schema(t, s); !reflect.DeepEqual(first, second) {
		t.Fatalf("second migration changed the schema:\n%s\n---\n%s", strings.Join(first, "\n"), strings.Join(second, "\n"))
	}
}

// TestMigrateConcurrently: kiosks starting together on an empty database
// take turns on the advisory lock; without it they collide creating the
// same tables.
func TestMigrateConcurrently(t *testing.T) {
	dbURL := throwawayDB(t)
	const kiosks = 4
	var (
		stores [kiosks]*Store
		errs   [kiosks]error
		wg     sync.WaitGroup
		start  = make(chan struct{})
	)
	for i := range stores {
		stores[i] = open(t, dbURL)
		wg.Go(func() {
			<-start
			_, errs[i] = stores[i].Migrate(t.Context())
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("kiosk %d: %v", i, err)
		}
	}
	var n int
	if err := stores[0].pool.QueryRow(t.Context(), "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if want := migrationCount(t); n != want {
		t.Fatalf("%d migration rows, want %d", n, want)
	}
}

func TestCheckSchema(t *testing.T) {
	s := open(t, throwawayDB(t))
	if err := s.CheckSchema(t.Context()); !errors.Is(err, ErrSchemaOutOfDate) {
		t.Fatalf("empty database: CheckSchema = %v, want ErrSchemaOutOfDate", err)
	}
	applied, err := s.Migrate(t.Context())
	if err != nil || len(applied) == 0 {
		t.Fatalf("Migrate = %v, %v", applied, err)
	}
	if err := s.CheckSchema(t.Context()); err != nil {
		t.Fatalf("after migrate: %v", err)
	}
	if again, err := s.Migrate(t.Context()); err != nil || len(again) != 0 {
		t.Fatalf("second Migrate applied %v, %v", again, err)
	}
}

func TestMigrateRefusesNewerSchema(t *testing.T) {
	s := open(t, throwawayDB(t))
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(t.Context(), `INSERT INTO schema_migrations VALUES (9999, '9999_future', now())`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Migrate(t.Context()); err == nil || !strings.Contains(err.Error(), "newer than this program") {
		t.Fatalf("migrate on a newer schema: %v", err)
	}
}

func TestAuditTruncateRefused(t *testing.T) {
	s := open(t, throwawayDB(t))
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendAudit(t.Context(), domain.AuditEvent{Action: domain.AuditSelfUnlock, Outcome: domain.OutcomeSuccess}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(t.Context(), "TRUNCATE audit_events"); err == nil {
		t.Fatal("TRUNCATE audit_events succeeded")
	}
}

func TestOpenErrorsAreShortAndSecretFree(t *testing.T) {
	const pw = "s3cr3t-Pa55"
	for _, u := range []string{
		"postgres://kiosk:" + pw + "@127.0.0.1:1/kiosk?sslmode=disable&connect_timeout=2", // nothing listens
		"postgres://kiosk:" + pw + "@localhost:1/kiosk?connect_timeout=2",                 // TLS then plain, two addresses
		"postgres://kiosk:" + pw + "@127.0.0.1:notaport/kiosk",                            // unparseable
		"host=127.0.0.1 port=1 user=kiosk password=" + pw + " sslmode=disable connect_timeout=2",
		"host=127.0.0.1 port=x user=kiosk password='" + pw + "'",
	} {
		s, err := Open(t.Context(), u)
		if err == nil {
			s.Close()
			t.Fatalf("Open succeeded on %q", strings.ReplaceAll(u, pw, "…"))
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "connect to database: ") {
			t.Errorf("error %q lacks the context", msg)
		}
		if strings.Contains(msg, pw) {
			t.Errorf("error leaks the password: %q", msg)
		}
		if strings.Contains(msg, "\n") {
			t.Errorf("error spans lines: %q", msg)
		}
	}
}

func TestTranslateKeepsDriverError(t *testing.T) {
	s := open(t, throwawayDB(t))
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	u := domain.User{ID: "555001799894", GivenName: "A"}
	if err := s.PutUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddPosition(t.Context(), domain.Position{UserID: u.ID, OrgCode: "X", RoleName: "R"}); err != nil {
		t.Fatal(err)
	}
	_, err := s.AddPosition(t.Context(), domain.Position{UserID: u.ID, OrgCode: "X", RoleName: "R"})
	if err == nil || !strings.Contains(err.Error(), "SQLSTATE 23505") {
		t.Fatalf("conflict error %v does not keep the driver's detail", err)
	}
}

func benchStore(b *testing.B) *Store {
	s := open(b, throwawayDB(b))
	if _, err := s.Migrate(b.Context()); err != nil {
		b.Fatal(err)
	}
	return s
}

func BenchmarkGetSmartcard(b *testing.B) { storetest.BenchGetSmartcard(b, benchStore(b)) }

func BenchmarkRecordFailedAttempt(b *testing.B) { storetest.BenchRecordFailedAttempt(b, benchStore(b)) }

// migrationCount is how many migrations the binary embeds.
func migrationCount(t *testing.T) int {
	t.Helper()
	ms, err := sqlstore.LoadMigrations(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	return len(ms)
}

// TestAppRoleLeastPrivilege: the role the kiosk runs as, given its grants
// by GrantApp, passes the whole store suite, yet can neither change the
// schema, nor switch off the audit triggers, nor change or delete audit
// rows.
func TestAppRoleLeastPrivilege(t *testing.T) {
	dbURL := throwawayDB(t)
	owner := open(t, dbURL)
	if _, err := owner.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	role, appURL := pgtest.NewRole(t, dbURL)
	if err := owner.GrantApp(t.Context(), role); err != nil {
		t.Fatal(err)
	}
	if err := owner.GrantApp(t.Context(), role); err != nil {
		t.Fatalf("granting again: %v", err)
	}
	t.Run("suite as the app role", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) domain.Store { return open(t, appURL) }, storetest.WithExec(rawExec),
			storetest.WithReopen(func(t *testing.T, _ domain.Store) domain.Store { return open(t, appURL) }),
			withLossyLink(appURL))
	})
	app := open(t, appURL)
	if err := app.CheckSchema(t.Context()); err != nil {
		t.Fatalf("the app role cannot check the schema: %v", err)
	}
	e, err := app.AppendAudit(t.Context(), domain.AuditEvent{Action: domain.AuditSelfUnlock, Outcome: domain.OutcomeSuccess, Detail: "original"})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"ALTER TABLE audit_events DISABLE TRIGGER USER",
		"DROP TRIGGER audit_events_no_update_delete ON audit_events",
		// Rows slipped in with an ID of one's choosing (out of chain order,
		// or below where a walk starts).
		"INSERT INTO audit_events (id, at, action, outcome, mac) OVERRIDING SYSTEM VALUE VALUES (-5, now(), 'operator_unlock', 'success', '\\x00')",
		"DELETE FROM card_writes",
		fmt.Sprintf("UPDATE audit_events SET detail = 'tampered' WHERE id = %d", e.ID),
		fmt.Sprintf("DELETE FROM audit_events WHERE id = %d", e.ID),
		"TRUNCATE audit_events",
		"CREATE TABLE extra (id int)",
		"ALTER TABLE users ADD COLUMN extra int",
		"DELETE FROM schema_migrations",
	} {
		err := rawExec(t.Context(), app, q)
		var pgErr *pgconn.PgError
		// 42501 insufficient_privilege; 42809/42P01 would mean the test is wrong.
		if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
			t.Errorf("as the app role, %s: %v, want permission denied (42501)", q, err)
		}
	}
	if _, err := domain.VerifyAudit(t.Context(), app, storetest.Chain); err != nil {
		t.Fatalf("audit trail after the refused tampering: %v", err)
	}
	// A row without its MAC is refused by the table itself.
	err = rawExec(t.Context(), app, "INSERT INTO audit_events (at, action, outcome) VALUES (now(), 'operator_unlock', 'success')")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23514" {
		t.Errorf("as the app role, a row without MAC: %v, want check_violation (23514)", err)
	}

	// Roles that could become the owner are refused.
	for name, alter := range map[string]string{
		"may create roles":        "ALTER ROLE %s CREATEROLE",
		"member of the owner":     "DO $$ BEGIN EXECUTE format('GRANT %%I TO %%I', current_user, '%s'); END $$",
		"may bypass row security": "ALTER ROLE %s BYPASSRLS",
	} {
		risky, _ := pgtest.NewRole(t, dbURL)
		if err := rawExec(t.Context(), owner, fmt.Sprintf(alter, risky)); err != nil {
			t.Fatal(err)
		}
		if err := owner.GrantApp(t.Context(), risky); err == nil {
			t.Errorf("grant to a role that %s: accepted", name)
		}
	}
	// A later migration's table is granted by migrate on its own: the
	// role is recorded; a table with no rule is refused, not guessed.
	if roles, err := owner.Regrant(t.Context()); err != nil || !slices.Contains(roles, role) {
		t.Fatalf("regrant: %v %v, want %s among them", roles, err, role)
	}
	if err := rawExec(t.Context(), owner, "CREATE TABLE unplanned (id int)"); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.Regrant(t.Context()); err == nil || !strings.Contains(err.Error(), "no rule for table unplanned") {
		t.Fatalf("regrant with a table that has no rule: %v", err)
	}

	if err := owner.GrantApp(t.Context(), "postgres"); err == nil || !strings.Contains(err.Error(), "superuser") {
		t.Fatalf("grant to a superuser: %v, want a refusal", err)
	}
	if err := owner.GrantApp(t.Context(), "no_such_role_here"); !errors.Is(err, ErrNoSuchRole) {
		t.Fatalf("grant to a missing role: %v, want ErrNoSuchRole", err)
	}
}

// TestAuditTamperDetected: the schema owner can switch the triggers off,
// but a changed row and a deleted row are both found by VerifyAudit.
func TestAuditTamperDetected(t *testing.T) {
	s := open(t, throwawayDB(t))
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	storetest.TamperAudit(t, s, rawExec,
		[]string{"ALTER TABLE audit_events DISABLE TRIGGER USER"}, []string{"ALTER TABLE audit_events ENABLE TRIGGER USER"})
	s2 := open(t, throwawayDB(t))
	if _, err := s2.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	storetest.ClearedMAC(t, s2, rawExec, []string{"ALTER TABLE audit_events DISABLE TRIGGER USER",
		"ALTER TABLE audit_events DROP CONSTRAINT audit_events_mac"})
}

// TestUnreachableIsUnavailable: a store that cannot reach its server says
// so with domain.ErrStoreUnavailable (a write may be kept and retried),
// unlike an answer from the server (refused: no use retrying).
func TestUnreachableIsUnavailable(t *testing.T) {
	s := open(t, throwawayDB(t))
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetUser(t.Context(), "555000000011")
	if !errors.Is(err, domain.ErrNotFound) || errors.Is(err, domain.ErrStoreUnavailable) {
		t.Fatalf("an answer from the server: %v, want ErrNotFound only", err)
	}
	s.Close()
	if _, err := s.GetUser(t.Context(), "555000000011"); !errors.Is(err, domain.ErrStoreUnavailable) {
		t.Fatalf("with the connections gone: %v, want ErrStoreUnavailable", err)
	}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "57P01"}, true},
		{&pgconn.PgError{Code: "08006"}, true},
		{&pgconn.PgError{Code: "23514"}, false},
		{io.ErrUnexpectedEOF, true},
		{errors.New("some other failure"), false},
	} {
		if got := errors.Is(translate(tc.err), domain.ErrStoreUnavailable); got != tc.want {
			t.Errorf("translate(%v) unavailable = %v, want %v", tc.err, got, tc.want)
		}
	}
}

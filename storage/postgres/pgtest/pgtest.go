// Package pgtest gives tests a throwaway PostgreSQL database on the server
// named by KIOSK_TEST_DATABASE_URL (default the local server with trust
// auth). When no server answers, tests skip — except with CI=true, where
// they fail, so CI never passes by skipping.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smartcard-service-centre/kiosk/storage/postgres/connstr"
)

// DefaultURL is the server used when KIOSK_TEST_DATABASE_URL is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// AdminURL returns the server's URL once it answers, else skips or fails.
func AdminURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv("KIOSK_TEST_DATABASE_URL")
	if u == "" {
		u = DefaultURL
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err == nil {
		err = conn.Ping(ctx)
		conn.Close(ctx)
	}
	if err != nil {
		msg := connstr.Redact(fmt.Sprintf("PostgreSQL not reachable at %s (set KIOSK_TEST_DATABASE_URL): %v", u, err))
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return u
}

func adminExec(ctx context.Context, admin, sql string) error {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// NewDatabase creates an empty database kiosk_test_<random>, drops it when
// the test ends, and returns its URL.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	admin := AdminURL(tb)
	b := make([]byte, 6)
	rand.Read(b)
	name := "kiosk_test_" + hex.EncodeToString(b)
	if err := adminExec(context.Background(), admin, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("create test database: %v", err)
	}
	tb.Cleanup(func() {
		// FORCE ends connections a failed test may have left open.
		if err := adminExec(context.Background(), admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("drop test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		tb.Fatalf("KIOSK_TEST_DATABASE_URL must be a postgres:// URL")
	}
	u.Path = "/" + name
	return u.String()
}

// NewRole creates a login role kiosk_app_<random> with a random password
// on the server of dbURL, with no privileges; it is dropped (with what was
// granted to it in dbURL's database) when the test ends. It returns the
// role's name and dbURL as that role.
func NewRole(tb testing.TB, dbURL string) (role, roleURL string) {
	tb.Helper()
	admin := AdminURL(tb)
	b := make([]byte, 6)
	rand.Read(b)
	role = "kiosk_app_" + hex.EncodeToString(b)
	rand.Read(b)
	password := hex.EncodeToString(b)
	if err := adminExec(context.Background(), admin, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", role, password)); err != nil {
		tb.Fatalf("create test role: %v", err)
	}
	tb.Cleanup(func() {
		if err := adminExec(context.Background(), dbURL, "DROP OWNED BY "+role); err != nil {
			tb.Errorf("drop what %s owns: %v", role, err)
		}
		if err := adminExec(context.Background(), admin, "DROP ROLE IF EXISTS "+role); err != nil {
			tb.Errorf("drop test role %s: %v", role, err)
		}
	})
	u, err := url.Parse(dbURL)
	if err != nil {
		tb.Fatal(err)
	}
	u.User = url.UserPassword(role, password)
	return role, u.String()
}

// Snapshot renders every row of every table in the public schema, sorted,
// so a test can tell whether an operation changed anything at all.
func Snapshot(tb testing.TB, dbURL string) string {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		tb.Fatalf("snapshot: %v", err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`)
	if err != nil {
		tb.Fatalf("snapshot: %v", err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		tb.Fatalf("snapshot: %v", err)
	}
	var b strings.Builder
	for _, t := range tables {
		rows, err := conn.Query(ctx, fmt.Sprintf(`SELECT t::text FROM %s t`, pgx.Identifier{t}.Sanitize()))
		if err != nil {
			tb.Fatalf("snapshot %s: %v", t, err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			tb.Fatalf("snapshot %s: %v", t, err)
		}
		sort.Strings(lines)
		fmt.Fprintf(&b, "== %s (%d rows)\n%s\n", t, len(lines), strings.Join(lines, "\n"))
	}
	return b.String()
}

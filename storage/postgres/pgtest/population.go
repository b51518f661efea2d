package pgtest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smartcard-service-centre/kiosk/storage/internal/sqlstore"
	"github.com/smartcard-service-centre/kiosk/storage/storetest"
)

// FillPopulation loads people 0..n-1 of the benchmark population
// (storetest.NewBenchPerson: users, their cards, three in five with a
// registration) into the migrated database at dbURL with COPY, then
// runs VACUUM ANALYZE on every table as autovacuum would after a load,
// and returns how long it all took. Rows are written as the store
// writes them (search and sort keys by sqlstore.UserKeys), for
// benchmarks outside the postgres package that need a big database fast
// (a million users in about a minute); the cards have no certificates or
// secrets, so no visit can be made with them.
func FillPopulation(ctx context.Context, tb testing.TB, dbURL string, n int) time.Duration {
	tb.Helper()
	start := time.Now()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		tb.Fatalf("fill population: %v", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	const batch = 50_000
	for from := 0; from < n; from += batch {
		var users, cards, regs [][]any
		for i := from; i < min(n, from+batch); i++ {
			p := storetest.NewBenchPerson(i)
			u, c := p.User, p.Card
			search, sort := sqlstore.UserKeys(u)
			users = append(users, []any{string(u.ID), u.Title, u.GivenName, u.FamilyName, u.Email, u.CreatedAt, search, sort})
			cards = append(cards, []any{string(c.Serial), string(c.UserID), c.Type, c.IssuedAt, c.CertExpiry})
			if r := p.Registration; r != nil {
				var locked *time.Time
				if r.LockedOut() {
					locked = &r.LockedOutAt
				}
				regs = append(regs, []any{string(r.UserID), r.Email, r.FailedAttempts, locked, r.RegisteredAt})
			}
		}
		for _, t := range []struct {
			name string
			cols []string
			rows [][]any
		}{
			{"users", []string{"id", "title", "given_name", "family_name", "email", "created_at", "search_key", "sort_key"}, users},
			{"smartcards", []string{"serial", "user_id", "card_type", "issued_at", "cert_expiry"}, cards},
			{"registrations", []string{"user_id", "email", "failed_attempts", "locked_out_at", "registered_at"}, regs},
		} {
			if _, err := conn.CopyFrom(ctx, pgx.Identifier{t.name}, t.cols, pgx.CopyFromRows(t.rows)); err != nil {
				tb.Fatalf("fill population: copy %s: %v", t.name, err)
			}
		}
	}
	// Every table, family_names too (written by a trigger on users): the
	// test server runs without autovacuum, and a search's walk over
	// family names not yet vacuumed reads the heap for each one (7 ms
	// where 1 would do, measured at a million users).
	if _, err := conn.Exec(ctx, `VACUUM ANALYZE`); err != nil {
		tb.Fatalf("fill population: %v", err)
	}
	return time.Since(start)
}

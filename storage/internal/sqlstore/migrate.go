package sqlstore

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Migration is one versioned SQL file, e.g. migrations/0001_init.sql.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// LoadMigrations reads the NNNN_name.sql files in dir of fsys (an embedded
// tree), ordered by version.
func LoadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.sql"))
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	var out []Migration
	for _, name := range names {
		num, _, ok := strings.Cut(path.Base(name), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("load migrations: %s: name must be NNNN_description.sql", name)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("load migrations: %w", err)
		}
		out = append(out, Migration{Version: v, Name: strings.TrimSuffix(path.Base(name), ".sql"), SQL: string(b)})
	}
	slices.SortFunc(out, func(a, b Migration) int { return a.Version - b.Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("load migrations: version %d used twice", out[i].Version)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("load migrations: none found")
	}
	return out, nil
}

// Migrate applies the migrations not yet recorded in schema_migrations, all
// in one transaction on q's root, and returns the versions it applied. It
// refuses a database migrated by a newer program. (A function, not a
// method, so the stores that embed Queries do not export it.)
func Migrate(ctx context.Context, q *Queries, ms []Migration) (applied []int, err error) {
	if len(ms) == 0 {
		return nil, fmt.Errorf("migrate: no migrations")
	}
	err = q.inTx(ctx, func(tq *Queries) error {
		if q.d.MigrationLock != "" {
			if _, err := tq.w.Exec(ctx, q.d.MigrationLock); err != nil {
				return fmt.Errorf("lock: %w", err)
			}
		}
		if _, err := tq.w.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version integer PRIMARY KEY,
			name text NOT NULL,
			applied_at `+q.d.TimestampType+` NOT NULL)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		done := map[int]bool{}
		err := each(ctx, tq.w, func(rows Rows) error {
			var v int
			err := rows.Scan(&v)
			done[v] = true
			return err
		}, `SELECT version FROM schema_migrations`)
		if err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		known := ms[len(ms)-1].Version
		for v := range done {
			if v > known {
				return fmt.Errorf("database schema version %d is newer than this program (knows up to %d)", v, known)
			}
		}
		now := time.Now()
		for _, m := range ms {
			if done[m.Version] {
				continue
			}
			if _, err := tq.w.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("apply %s: %w", m.Name, err)
			}
			if _, err := tq.w.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.Version, m.Name, tq.timeArg(now)); err != nil {
				return fmt.Errorf("record %s: %w", m.Name, err)
			}
			applied = append(applied, m.Version)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return applied, nil
}

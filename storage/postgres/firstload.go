package postgres

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/smartcard-service-centre/kiosk/storage/internal/sqlstore"
)

// loadedTables are the tables an import writes.
const loadedTables = `'{users,positions,position_activities,smartcards}'::regclass[]`

// setAside prepares a first load: an import into a store with no users
// and no cards, by the role that owns the tables (the schema owner, as
// for kiosk migrate). Maintaining the search indexes and checking the
// foreign keys row by row is most of a million-row load; building each
// index once and checking each foreign key with one join at the end is
// much faster (PostgreSQL's "Populating a Database"). So the indexes that
// back no constraint and the foreign keys among the loaded tables are
// dropped now, in the import's transaction, and restore puts them back
// from their own definitions, read here from the catalogue, before the
// commit: a failed import rolls all of it back, and no migration's
// definitions are repeated here. Unique indexes stay: they are the
// import's own checks.
//
// The tables are locked (ACCESS EXCLUSIVE) until the commit, so a
// kiosk's look-up waits for the load; there is nothing to find in an
// empty store. The lock is waited for at most firstLoadLockWait: a
// transaction left open (a backup, say) or a deadlock with a kiosk sends
// the import down the row-by-row path instead, as does any other import
// or a role that does not own the tables (nil).
//
// While the foreign keys are aside nothing cascades; nothing needs to:
// every step that deletes is for users already in the store, skipped
// when the file has none (importSteps' existing).
func (t pgTx) setAside(ctx context.Context) (restore []string, err error) {
	// In a savepoint: rolled back, it releases the locks it took.
	sp, err := t.tx.Begin(ctx)
	if err != nil {
		return nil, sqlFail(ctx, "check for a first load", err)
	}
	restore, err = setAsideIn(ctx, sp)
	if err == nil && restore != nil {
		err = sp.Commit(ctx)
		return restore, sqlFail(ctx, "set indexes aside", err)
	}
	if rerr := sp.Rollback(ctx); rerr != nil {
		return nil, sqlFail(ctx, "check for a first load", errors.Join(err, rerr))
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "55P03" || pgErr.Code == "40P01") {
		return nil, nil // lock_not_available, deadlock_detected: row by row
	}
	return nil, sqlFail(ctx, "check for a first load", err)
}

// storeEmpty is true of a store with no users and no cards.
const storeEmpty = `NOT EXISTS (SELECT 1 FROM users) AND NOT EXISTS (SELECT 1 FROM smartcards)`

// firstLoadLockWait bounds setAside's wait for its lock.
const firstLoadLockWait = "2s"

// setAsideIn is setAside's work in its savepoint: nil, nil when this is
// no first load.
func setAsideIn(ctx context.Context, tx pgx.Tx) (restore []string, err error) {
	var candidate bool
	var lockWait string
	err = tx.QueryRow(ctx, `
		SELECT COALESCE(bool_and(pg_has_role(current_user, c.relowner, 'USAGE')), false)
			AND `+storeEmpty+`, current_setting('lock_timeout')
		FROM pg_class c WHERE c.oid = ANY (`+loadedTables+`)`).Scan(&candidate, &lockWait)
	if err != nil || !candidate {
		return nil, err
	}
	// The wait's bound is put back for the rest of the import.
	if _, err := tx.Exec(ctx, `SELECT set_config('lock_timeout', $1, true)`, firstLoadLockWait); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE users, positions, position_activities, smartcards IN ACCESS EXCLUSIVE MODE`); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `SELECT set_config('lock_timeout', $1, true)`, lockWait); err != nil {
		return nil, err
	}
	// Again under the lock: a user may have been added since.
	var empty bool
	if err := tx.QueryRow(ctx, `SELECT `+storeEmpty).Scan(&empty); err != nil || !empty {
		return nil, err
	}
	// Indexes first (1), then foreign keys (2): restoreAside builds the
	// indexes before it checks the keys.
	rows, err := tx.Query(ctx, `
		SELECT format('DROP INDEX %s', i.indexrelid::regclass), pg_get_indexdef(i.indexrelid), 1 AS kind
		FROM pg_index i
		WHERE i.indrelid = ANY (`+loadedTables+`) AND NOT i.indisunique
			AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
		UNION ALL
		SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', k.conrelid::regclass, k.conname),
			format('ALTER TABLE %s ADD CONSTRAINT %I %s', k.conrelid::regclass, k.conname, pg_get_constraintdef(k.oid)), 2
		FROM pg_constraint k
		WHERE k.contype = 'f' AND k.conrelid = ANY (`+loadedTables+`) AND k.confrelid = ANY (`+loadedTables+`)
		ORDER BY kind, 1`)
	if err != nil {
		return nil, err
	}
	var drop []string
	for rows.Next() {
		var d, c string
		var kind int
		if err := rows.Scan(&d, &c, &kind); err != nil {
			rows.Close()
			return nil, err
		}
		drop, restore = append(drop, d), append(restore, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, d := range drop {
		if _, err := tx.Exec(ctx, d); err != nil {
			return nil, err
		}
	}
	return restore, nil
}

// restoreAside builds the indexes and adds the foreign keys setAside
// dropped, in setAside's order: the indexes first, then each foreign
// key, checked over the whole table.
func (t pgTx) restoreAside(ctx context.Context, restore []string) error {
	if len(restore) == 0 {
		return nil
	}
	// Index builds sort in memory rather than in batches on disk.
	if _, err := t.tx.Exec(ctx, `SET LOCAL maintenance_work_mem = '256MB'`); err != nil {
		return sqlFail(ctx, "build indexes", err)
	}
	for _, c := range restore {
		step := "build indexes"
		if strings.HasPrefix(c, "ALTER") {
			step = "check foreign keys"
		}
		if _, err := t.tx.Exec(ctx, c); err != nil {
			return sqlFail(ctx, step, err)
		}
	}
	return nil
}

// sqlFail is ImportFail for a step's error; nil stays nil.
func sqlFail(ctx context.Context, step string, err error) error {
	if err == nil {
		return nil
	}
	return sqlstore.ImportFail(ctx, step, err, translate)
}

package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/storage/internal/sqlstore"
)

var _ sqlstore.BulkImporter = sqlTx{}

// importBatch is how many rows one staging INSERT carries: fewer
// statements to run (each has a fixed cost in the driver) within
// SQLite's limit on bound parameters.
const importBatch = 100

// importCols are the staging table's columns, in insert order.
var importCols = []string{"line", "first_of_user", "user_id", "title", "given_name", "family_name", "email",
	"search_key", "sort_key", "org_code", "org_name", "role_name", "codes",
	"serial", "card_type", "issued_at", "cert_expiry", "cancelled_at", "cancel_reason"}

// placeOneByOne is how many users an import places in search order one at
// a time, as PutUser does; beyond it, numbering every user again is cheaper.
const placeOneByOne = 2000

// importSetup makes the staging tables (temporary: this connection's
// own, and never in the database file).
var importSetup = []string{
	`DROP TABLE IF EXISTS temp.import_rows`,
	`DROP TABLE IF EXISTS temp.import_users`,
	`DROP TABLE IF EXISTS temp.import_recode`,
	`CREATE TEMP TABLE import_rows (
		line          INTEGER NOT NULL,
		first_of_user INTEGER NOT NULL,
		user_id       TEXT NOT NULL,
		title         TEXT NOT NULL,
		given_name    TEXT NOT NULL,
		family_name   TEXT NOT NULL,
		email         TEXT NOT NULL,
		search_key    TEXT NOT NULL,
		sort_key      TEXT NOT NULL,
		org_code      TEXT,    -- NULL: no position on this row
		org_name      TEXT,
		role_name     TEXT,
		codes         TEXT,    -- JSON array
		serial        TEXT,    -- NULL: no card on this row
		card_type     TEXT,
		issued_at     INTEGER,
		cert_expiry   INTEGER,
		cancelled_at  INTEGER,
		cancel_reason TEXT
	)`,
	// One row per user of the file: new to the store, changed by the
	// import, or moved in name order (resort: placed again for search).
	`CREATE TEMP TABLE import_users (
		user_id TEXT PRIMARY KEY,
		is_new  INTEGER NOT NULL,
		changed INTEGER NOT NULL,
		resort  INTEGER NOT NULL
	) WITHOUT ROWID`,
	// Known positions whose organisation name or activity codes change.
	`CREATE TEMP TABLE import_recode (
		position_id   INTEGER PRIMARY KEY,
		user_id       TEXT NOT NULL,
		org_name      TEXT NOT NULL,
		codes_changed INTEGER NOT NULL
	)`,
}

// importIndexes serve the merge's look-ups into the staged rows.
var importIndexes = []string{
	`CREATE INDEX temp.import_rows_position ON import_rows (user_id, org_code, role_name)`,
	`CREATE INDEX temp.import_rows_serial ON import_rows (serial)`,
}

// importSteps merge the staged rows after the check for cards of other
// users, one statement over the whole file each. The users a change
// touches are marked before it is made (SQLite cannot feed one
// statement's changes to another), for the counts. Steps for users
// already in the store (existing) are skipped when the file has none, as
// on a first load: their positions and cards are the only ones a step
// could find.
var importSteps = []struct {
	name, sql string
	existing  bool
}{
	{"classify users", `
		INSERT INTO import_users (user_id, is_new, changed, resort)
		SELECT r.user_id, u.id IS NULL,
			u.id IS NOT NULL AND (u.title IS NOT r.title OR u.given_name IS NOT r.given_name
				OR u.family_name IS NOT r.family_name OR u.email IS NOT r.email
				OR u.search_key IS NOT r.search_key OR u.sort_key IS NOT r.sort_key),
			u.id IS NOT NULL AND u.sort_key IS NOT r.sort_key
		FROM import_rows r LEFT JOIN users u ON u.id = r.user_id
		WHERE r.first_of_user
		ORDER BY r.user_id`, false},
	// The file gives all of a user's positions: others are removed.
	{"mark removed positions", `
		UPDATE import_users SET changed = 1 WHERE NOT is_new AND user_id IN (
			SELECT p.user_id FROM positions p JOIN import_users i ON i.user_id = p.user_id
			WHERE NOT EXISTS (SELECT 1 FROM import_rows r
				WHERE r.user_id = p.user_id AND r.org_code = p.org_code AND r.role_name = p.role_name))`, true},
	{"remove positions", `
		DELETE FROM positions WHERE user_id IN (SELECT user_id FROM import_users WHERE NOT is_new)
			AND NOT EXISTS (SELECT 1 FROM import_rows r
				WHERE r.user_id = positions.user_id AND r.org_code = positions.org_code AND r.role_name = positions.role_name)`, true},
	// Codes compare as JSON arrays, both sides rebuilt by SQLite.
	{"compare positions", `
		INSERT INTO import_recode (position_id, user_id, org_name, codes_changed)
		SELECT id, user_id, new_name, old_codes IS NOT new_codes FROM (
			SELECT p.id, p.user_id, p.org_name, r.org_name AS new_name,
				(SELECT json_group_array(value ORDER BY key) FROM json_each(r.codes)) AS new_codes,
				(SELECT json_group_array(a.code ORDER BY a.ord) FROM position_activities a WHERE a.position_id = p.id) AS old_codes
			FROM import_rows r JOIN positions p
				ON p.user_id = r.user_id AND p.org_code = r.org_code AND p.role_name = r.role_name
			WHERE r.org_code IS NOT NULL)
		WHERE org_name IS NOT new_name OR old_codes IS NOT new_codes`, true},
	{"rename organisations", `
		UPDATE positions SET org_name = x.org_name FROM import_recode x
		WHERE positions.id = x.position_id AND positions.org_name IS NOT x.org_name`, true},
	{"clear changed activity codes", `
		DELETE FROM position_activities WHERE position_id IN (SELECT position_id FROM import_recode WHERE codes_changed)`, true},
	{"mark changed positions", `
		UPDATE import_users SET changed = 1 WHERE user_id IN (SELECT user_id FROM import_recode)`, true},
	{"mark added positions", `
		UPDATE import_users SET changed = 1 WHERE NOT is_new AND user_id IN (
			SELECT r.user_id FROM import_rows r
			WHERE r.org_code IS NOT NULL AND NOT EXISTS (SELECT 1 FROM positions p
				WHERE p.user_id = r.user_id AND p.org_code = r.org_code AND p.role_name = r.role_name))`, true},
	{"add positions", `
		INSERT INTO positions (user_id, org_code, org_name, role_name)
		SELECT r.user_id, r.org_code, r.org_name, r.role_name FROM import_rows r
		WHERE r.org_code IS NOT NULL AND NOT EXISTS (SELECT 1 FROM positions p
			WHERE p.user_id = r.user_id AND p.org_code = r.org_code AND p.role_name = r.role_name)
		ORDER BY r.user_id, r.line`, false},
	// New positions and those whose codes changed have no codes now.
	{"add activity codes", `
		INSERT INTO position_activities (position_id, ord, code)
		SELECT p.id, c.key, c.value
		FROM import_rows r
			JOIN positions p ON p.user_id = r.user_id AND p.org_code = r.org_code AND p.role_name = r.role_name,
			json_each(r.codes) c
		WHERE r.org_code IS NOT NULL
			AND NOT EXISTS (SELECT 1 FROM position_activities a WHERE a.position_id = p.id)`, false},
	{"mark added cards", `
		UPDATE import_users SET changed = 1 WHERE NOT is_new AND user_id IN (
			SELECT r.user_id FROM import_rows r
			WHERE r.serial IS NOT NULL AND NOT EXISTS (SELECT 1 FROM smartcards c WHERE c.serial = r.serial))`, true},
	{"add cards", `
		INSERT INTO smartcards (serial, user_id, card_type, issued_at, cert_expiry, cancelled_at, cancel_reason)
		SELECT r.serial, r.user_id, r.card_type, r.issued_at, r.cert_expiry, r.cancelled_at, coalesce(r.cancel_reason, '')
		FROM import_rows r
		WHERE r.serial IS NOT NULL AND NOT EXISTS (SELECT 1 FROM smartcards c WHERE c.serial = r.serial)
		ORDER BY r.serial`, false},
	// The service renews certificates itself: an expiry only moves
	// forward. A cancellation is recorded once and never undone.
	{"mark updated cards", `
		UPDATE import_users SET changed = 1 WHERE NOT is_new AND user_id IN (
			SELECT c.user_id FROM smartcards c JOIN import_rows r ON r.serial = c.serial AND r.user_id = c.user_id
			WHERE ` + cardChanged + `)`, true},
	{"update cards", `
		UPDATE smartcards AS c SET card_type = r.card_type, issued_at = r.issued_at,
			cert_expiry = CASE WHEN c.cert_expiry IS NULL OR r.cert_expiry > c.cert_expiry
				THEN r.cert_expiry ELSE c.cert_expiry END,
			cancelled_at = coalesce(c.cancelled_at, r.cancelled_at),
			cancel_reason = CASE WHEN c.cancelled_at IS NULL AND r.cancelled_at IS NOT NULL
				THEN r.cancel_reason ELSE c.cancel_reason END
		FROM import_rows r
		WHERE r.serial = c.serial AND r.user_id = c.user_id AND ` + cardChanged, true},
}

// cardChanged: known card c differs from its row r in what an import
// may change.
const cardChanged = `(c.card_type IS NOT r.card_type OR c.issued_at IS NOT r.issued_at
	OR c.cert_expiry IS NULL OR r.cert_expiry > c.cert_expiry
	OR (c.cancelled_at IS NULL AND r.cancelled_at IS NOT NULL))`

// ImportDirectory stages the rows in a temporary table, then merges them
// with one statement per step (see domain.DirectoryImporter), in the
// caller's transaction.
func (t sqlTx) ImportDirectory(ctx context.Context, rows iter.Seq2[domain.DirectoryRow, error], now time.Time) (domain.ImportCounts, error) {
	var counts domain.ImportCounts
	fail := func(step string, err error) (domain.ImportCounts, error) {
		return counts, sqlstore.ImportFail(ctx, step, err, translate)
	}
	restore, err := t.bigCache(ctx)
	if err != nil {
		return fail("set the page cache", err)
	}
	defer restore()
	for _, q := range importSetup {
		if _, err := t.tx.ExecContext(ctx, q); err != nil {
			return fail("create staging tables", err)
		}
	}
	n, err := t.stage(ctx, rows)
	if err != nil {
		return fail("stage rows", err)
	}
	counts.Rows = n
	for _, q := range importIndexes {
		if _, err := t.tx.ExecContext(ctx, q); err != nil {
			return fail("index staged rows", err)
		}
	}
	if err := t.cardClashes(ctx); err != nil {
		return counts, err
	}
	if _, err := t.tx.ExecContext(ctx, importSteps[0].sql); err != nil {
		return fail(importSteps[0].name, err)
	}
	var existing bool
	if err := t.tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM import_users WHERE NOT is_new)`).Scan(&existing); err != nil {
		return fail("find users already in the store", err)
	}
	if err := t.writeUsers(ctx, now); err != nil {
		return fail("write users", err)
	}
	for _, st := range importSteps[1:] {
		if st.existing && !existing {
			continue
		}
		if _, err := t.tx.ExecContext(ctx, st.sql); err != nil {
			return fail(st.name, err)
		}
	}
	err = t.tx.QueryRowContext(ctx, `
		SELECT coalesce(sum(is_new), 0), coalesce(sum(changed AND NOT is_new), 0),
			coalesce(sum(NOT changed AND NOT is_new), 0)
		FROM import_users`).Scan(&counts.Added, &counts.Updated, &counts.Unchanged)
	if err != nil {
		return fail("count", err)
	}
	for _, q := range importSetup[:3] {
		if _, err := t.tx.ExecContext(ctx, q); err != nil {
			return fail("drop staging tables", err)
		}
	}
	return counts, nil
}

// importCacheKiB is the page cache an import uses, for the database and
// for its temporary tables each: a million users' tables and indexes
// then stay in memory instead of going back and forth to the file (the
// connection's usual cache is 2 MB).
const importCacheKiB = 128 << 10

// bigCache enlarges the connection's page caches for the import and
// returns what puts them back.
func (t sqlTx) bigCache(ctx context.Context) (restore func(), err error) {
	var main, temp int64
	if err := t.tx.QueryRowContext(ctx, `PRAGMA main.cache_size`).Scan(&main); err != nil {
		return nil, err
	}
	if err := t.tx.QueryRowContext(ctx, `PRAGMA temp.cache_size`).Scan(&temp); err != nil {
		return nil, err
	}
	if temp == 0 { // no temporary table yet: it would take the usual size
		temp = main
	}
	set := func(ctx context.Context, m, t2 int64) error {
		if _, err := t.tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA main.cache_size = %d`, m)); err != nil {
			return err
		}
		_, err := t.tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA temp.cache_size = %d`, t2))
		return err
	}
	if err := set(ctx, -importCacheKiB, -importCacheKiB); err != nil {
		return nil, err
	}
	// Put back even when the import was cancelled; a failure only leaves
	// a larger cache on this connection.
	return func() { _ = set(context.WithoutCancel(ctx), main, temp) }, nil
}

// stage inserts the rows into import_rows, importBatch at a time.
func (t sqlTx) stage(ctx context.Context, rows iter.Seq2[domain.DirectoryRow, error]) (int, error) {
	prepare := func(n int) (*sql.Stmt, error) {
		one := "(" + strings.TrimSuffix(strings.Repeat("?,", len(importCols)), ",") + ")"
		q := "INSERT INTO import_rows (" + strings.Join(importCols, ", ") + ") VALUES " +
			strings.TrimSuffix(strings.Repeat(one+",", n), ",")
		return t.tx.PrepareContext(ctx, q)
	}
	full, err := prepare(importBatch)
	if err != nil {
		return 0, err
	}
	defer full.Close()
	args := make([]any, 0, importBatch*len(importCols))
	flush := func(st *sql.Stmt) error {
		_, err := st.ExecContext(ctx, args...)
		args = args[:0]
		return err
	}
	n := 0
	for row, err := range rows {
		if err != nil {
			return n, err
		}
		args = appendRow(args, row)
		n++
		if len(args) == cap(args) {
			if err := flush(full); err != nil {
				return n, err
			}
		}
	}
	if len(args) > 0 {
		tail, err := prepare(len(args) / len(importCols))
		if err != nil {
			return n, err
		}
		defer tail.Close()
		if err := flush(tail); err != nil {
			return n, err
		}
	}
	return n, nil
}

func appendRow(args []any, r domain.DirectoryRow) []any {
	search, sort := sqlstore.UserKeys(r.User)
	args = append(args, r.Line, r.FirstOfUser, string(r.User.ID), r.User.Title, r.User.GivenName,
		r.User.FamilyName, r.User.Email, search, sort)
	if p := r.Position; p != nil {
		codes := make([]string, len(p.ActivityCodes))
		for i, c := range p.ActivityCodes {
			codes[i] = string(c)
		}
		js, _ := json.Marshal(codes) // strings always marshal
		args = append(args, p.OrgCode, p.OrgName, p.RoleName, string(js))
	} else {
		args = append(args, nil, nil, nil, nil)
	}
	if c := r.Card; c != nil {
		args = append(args, string(c.Serial), c.Type, timeOrNil(c.IssuedAt), timeOrNil(c.CertExpiry),
			timeOrNil(c.CancelledAt), c.CancelReason)
	} else {
		args = append(args, nil, nil, nil, nil, nil, nil)
	}
	return args
}

func timeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return sqlstore.UnixMicro(t)
}

// writeUsers adds the new users and updates the changed ones, and keeps
// the name search in order (search.go): a few users are placed one by
// one as PutUser would; many are written at once and every user is
// numbered again.
func (t sqlTx) writeUsers(ctx context.Context, now time.Time) error {
	var moved int
	if err := t.tx.QueryRowContext(ctx, `SELECT count(*) FROM import_users WHERE is_new OR resort`).Scan(&moved); err != nil {
		return err
	}
	const add = `
		INSERT INTO users (id, title, given_name, family_name, email, created_at, search_key, sort_key)
		SELECT r.user_id, r.title, r.given_name, r.family_name, r.email, $1, r.search_key, r.sort_key
		FROM import_rows r JOIN import_users i ON i.user_id = r.user_id
		WHERE r.first_of_user AND i.is_new`
	const addNumbered = `
		INSERT INTO users (id, title, given_name, family_name, email, created_at, search_key, sort_key, search_pos)
		SELECT r.user_id, r.title, r.given_name, r.family_name, r.email, $1, r.search_key, r.sort_key,
			row_number() OVER (ORDER BY r.sort_key, r.user_id) * ($2 / ((SELECT count(*) FROM import_users WHERE is_new) + 1))
		FROM import_rows r JOIN import_users i ON i.user_id = r.user_id
		WHERE r.first_of_user AND i.is_new
		ORDER BY r.sort_key, r.user_id`
	const update = `
		UPDATE users SET title = r.title, given_name = r.given_name, family_name = r.family_name,
			email = r.email, search_key = r.search_key, sort_key = r.sort_key
		FROM import_rows r JOIN import_users i ON i.user_id = r.user_id
		WHERE users.id = r.user_id AND r.first_of_user AND i.changed`
	if moved > placeOneByOne {
		var empty bool
		if err := t.tx.QueryRowContext(ctx, `SELECT NOT EXISTS (SELECT 1 FROM users)`).Scan(&empty); err != nil {
			return err
		}
		if empty {
			// The first load: numbered as renumberAll would number them,
			// in name order, so the search index is written once, in order.
			if _, err := t.tx.ExecContext(ctx, addNumbered, sqlstore.UnixMicro(now), maxPos); err != nil {
				return err
			}
			return mergeSearchIndex(ctx, t)
		}
		if _, err := t.tx.ExecContext(ctx, add+` ORDER BY r.user_id`, sqlstore.UnixMicro(now)); err != nil {
			return err
		}
		if _, err := t.tx.ExecContext(ctx, update); err != nil {
			return err
		}
		return renumberAll(ctx, t)
	}
	type user struct {
		id, sortKey string
		isNew       bool
	}
	var users []user
	rs, err := t.tx.QueryContext(ctx, `
		SELECT r.user_id, r.sort_key, i.is_new FROM import_users i JOIN import_rows r ON r.user_id = i.user_id
		WHERE r.first_of_user AND (i.is_new OR i.resort) ORDER BY r.user_id`)
	if err != nil {
		return err
	}
	for rs.Next() {
		var u user
		if err := rs.Scan(&u.id, &u.sortKey, &u.isNew); err != nil {
			rs.Close()
			return err
		}
		users = append(users, u)
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return err
	}
	// One at a time, each placed among users already in order.
	for _, u := range users {
		q, args := add+` AND r.user_id = $2`, []any{sqlstore.UnixMicro(now), u.id}
		if !u.isNew {
			q, args = update+` AND r.user_id = $1`, []any{u.id}
		}
		if _, err := t.tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
		if err := placeUser(ctx, t, u.id, u.sortKey); err != nil {
			return err
		}
	}
	// The others' names kept their place in name order.
	_, err = t.tx.ExecContext(ctx, update+` AND NOT i.resort`)
	return err
}

// cardClashes refuses rows whose card the store holds for another user
// (the first MaxRowProblems of them, and how many there are).
func (t sqlTx) cardClashes(ctx context.Context) error {
	rows, err := t.tx.QueryContext(ctx, `
		SELECT r.line, r.serial, c.user_id, count(*) OVER ()
		FROM import_rows r JOIN smartcards c ON c.serial = r.serial
		WHERE r.serial IS NOT NULL AND c.user_id <> r.user_id
		ORDER BY r.line LIMIT $1`, domain.MaxRowProblems)
	if err != nil {
		return sqlstore.ImportFail(ctx, "check cards", err, translate)
	}
	defer rows.Close()
	return sqlstore.CardClashes(ctx, rows, translate)
}

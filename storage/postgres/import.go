package postgres

import (
	"context"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/storage/internal/sqlstore"
)

// importLockKey is the pg_advisory_xact_lock key ("kiosk-im") that lets
// one directory import run at a time: two would race to add the same users.
const importLockKey int64 = 0x6b696f736b2d696d

var _ sqlstore.BulkImporter = pgTx{}

// importCols are the staging table's columns, in COPY order (copyRows
// encodes them).
var importCols = []string{"line", "first_of_user", "user_id", "title", "given_name", "family_name", "email",
	"search_key", "sort_key", "org_code", "org_name", "role_name", "codes",
	"serial", "card_type", "issued_at", "cert_expiry", "cancelled_at", "cancel_reason"}

// copyStaging reads copyRows' stream into the staging table.
var copyStaging = "COPY import_rows (" + strings.Join(importCols, ", ") + ") FROM STDIN (FORMAT binary)"

// importSetup makes the staging tables, dropped at the end of the
// transaction whatever happens.
const importSetup = `
CREATE TEMP TABLE import_rows (
    line          integer NOT NULL,
    first_of_user boolean NOT NULL,
    user_id       text NOT NULL,
    title         text NOT NULL,
    given_name    text NOT NULL,
    family_name   text NOT NULL,
    email         text NOT NULL,
    search_key    text NOT NULL,
    sort_key      text COLLATE "C" NOT NULL,
    org_code      text,   -- NULL: no position on this row
    org_name      text,
    role_name     text,
    codes         text[],
    serial        text,   -- NULL: no card on this row
    card_type     text,
    issued_at     timestamptz,
    cert_expiry   timestamptz,
    cancelled_at  timestamptz,
    cancel_reason text
) ON COMMIT DROP;
-- One row per user of the file: new to the store, or changed by the import.
CREATE TEMP TABLE import_users (
    user_id text PRIMARY KEY,
    is_new  boolean NOT NULL,
    changed boolean NOT NULL
) ON COMMIT DROP;
-- Known positions whose organisation name or activity codes change.
CREATE TEMP TABLE import_recode (
    position_id   bigint PRIMARY KEY,
    user_id       text NOT NULL,
    org_name      text NOT NULL,
    codes_changed boolean NOT NULL
) ON COMMIT DROP`

// importSteps merge the staged rows, after the check for cards of other
// users; each is one statement over the whole file. Users are marked
// changed (import_users) by the step that changes them, for the counts.
// Steps for users already in the store (existing) are skipped when the
// file has none, as on a first load.
var importSteps = []struct {
	name, sql string
	existing  bool
}{
	{"add users", `
		INSERT INTO users (id, title, given_name, family_name, email, created_at, search_key, sort_key)
		SELECT r.user_id, r.title, r.given_name, r.family_name, r.email, $1, r.search_key, r.sort_key
		FROM import_rows r JOIN import_users i ON i.user_id = r.user_id
		WHERE r.first_of_user AND i.is_new
		ORDER BY r.user_id`, false},
	{"update users", `
		UPDATE users u SET title = r.title, given_name = r.given_name, family_name = r.family_name,
			email = r.email, search_key = r.search_key, sort_key = r.sort_key
		FROM import_rows r JOIN import_users i ON i.user_id = r.user_id
		WHERE u.id = r.user_id AND r.first_of_user AND i.changed`, true},
	// The file gives all of a user's positions: others are removed.
	{"remove positions", `
		WITH gone AS (
			DELETE FROM positions p USING import_users i
			WHERE p.user_id = i.user_id AND NOT i.is_new
				AND NOT EXISTS (SELECT 1 FROM import_rows r
					WHERE r.user_id = p.user_id AND r.org_code = p.org_code AND r.role_name = p.role_name)
			RETURNING p.user_id)
		UPDATE import_users SET changed = true WHERE user_id IN (SELECT user_id FROM gone)`, true},
	{"compare positions", `
		INSERT INTO import_recode (position_id, user_id, org_name, codes_changed)
		SELECT id, user_id, new_name, old_codes IS DISTINCT FROM new_codes FROM (
			SELECT p.id, p.user_id, p.org_name, r.org_name AS new_name, r.codes AS new_codes,
				COALESCE((SELECT array_agg(a.code ORDER BY a.ord) FROM position_activities a WHERE a.position_id = p.id),
					'{}') AS old_codes
			FROM positions p JOIN import_rows r
				ON r.user_id = p.user_id AND r.org_code = p.org_code AND r.role_name = p.role_name) x
		WHERE org_name <> new_name OR old_codes IS DISTINCT FROM new_codes`, true},
	{"rename organisations", `
		UPDATE positions p SET org_name = x.org_name FROM import_recode x
		WHERE p.id = x.position_id AND p.org_name <> x.org_name`, true},
	{"clear changed activity codes", `
		DELETE FROM position_activities WHERE position_id IN (SELECT position_id FROM import_recode WHERE codes_changed)`, true},
	{"mark changed positions", `
		UPDATE import_users SET changed = true WHERE user_id IN (SELECT user_id FROM import_recode)`, true},
	{"mark added positions", `
		UPDATE import_users SET changed = true WHERE NOT is_new AND user_id IN (
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
		SELECT p.id, c.ord - 1, c.code
		FROM import_rows r
			JOIN positions p ON p.user_id = r.user_id AND p.org_code = r.org_code AND p.role_name = r.role_name
			CROSS JOIN LATERAL unnest(r.codes) WITH ORDINALITY AS c(code, ord)
		WHERE r.org_code IS NOT NULL AND cardinality(r.codes) > 0
			AND NOT EXISTS (SELECT 1 FROM position_activities a WHERE a.position_id = p.id)`, false},
	{"mark added cards", `
		UPDATE import_users SET changed = true WHERE NOT is_new AND user_id IN (
			SELECT r.user_id FROM import_rows r
			WHERE r.serial IS NOT NULL AND NOT EXISTS (SELECT 1 FROM smartcards c WHERE c.serial = r.serial))`, true},
	{"add cards", `
		INSERT INTO smartcards (serial, user_id, card_type, issued_at, cert_expiry, cancelled_at, cancel_reason)
		SELECT r.serial, r.user_id, r.card_type, r.issued_at, r.cert_expiry, r.cancelled_at, COALESCE(r.cancel_reason, '')
		FROM import_rows r
		WHERE r.serial IS NOT NULL AND NOT EXISTS (SELECT 1 FROM smartcards c WHERE c.serial = r.serial)
		ORDER BY r.serial`, false},
	// The service renews certificates itself: an expiry only moves
	// forward. A cancellation is recorded once and never undone.
	{"update cards", `
		WITH changed AS (
			UPDATE smartcards c SET card_type = r.card_type, issued_at = r.issued_at,
				cert_expiry = GREATEST(c.cert_expiry, r.cert_expiry),
				cancelled_at = COALESCE(c.cancelled_at, r.cancelled_at),
				cancel_reason = CASE WHEN c.cancelled_at IS NULL AND r.cancelled_at IS NOT NULL
					THEN r.cancel_reason ELSE c.cancel_reason END
			FROM import_rows r
			WHERE r.serial = c.serial AND r.user_id = c.user_id
				AND (c.card_type <> r.card_type OR c.issued_at IS DISTINCT FROM r.issued_at
					OR c.cert_expiry IS NULL OR r.cert_expiry > c.cert_expiry
					OR (c.cancelled_at IS NULL AND r.cancelled_at IS NOT NULL))
			RETURNING c.user_id)
		UPDATE import_users SET changed = true WHERE user_id IN (SELECT user_id FROM changed)`, true},
}

// classifyUsers fills import_users: each user of the file, new to the
// store or not, changed already if its details differ.
const classifyUsers = `
	INSERT INTO import_users (user_id, is_new, changed)
	SELECT r.user_id, u.id IS NULL,
		u.id IS NOT NULL AND (u.title, u.given_name, u.family_name, u.email, u.search_key, u.sort_key)
			IS DISTINCT FROM (r.title, r.given_name, r.family_name, r.email, r.search_key, r.sort_key)
	FROM import_rows r LEFT JOIN users u ON u.id = r.user_id
	WHERE r.first_of_user`

// ImportDirectory stages the rows with COPY, then merges them with one
// statement per step (see domain.DirectoryImporter), in the caller's
// transaction.
func (t pgTx) ImportDirectory(ctx context.Context, rows iter.Seq2[domain.DirectoryRow, error], now time.Time) (domain.ImportCounts, error) {
	var counts domain.ImportCounts
	if _, err := t.tx.Exec(ctx, fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", importLockKey)); err != nil {
		return counts, sqlstore.ImportFail(ctx, "wait for another import", err, translate)
	}
	if err := t.importSettings(ctx); err != nil {
		return counts, err
	}
	restore, err := t.setAside(ctx)
	if err != nil {
		return counts, err
	}
	if _, err := t.tx.Exec(ctx, importSetup); err != nil {
		return counts, sqlstore.ImportFail(ctx, "create staging tables", err, translate)
	}
	src := newCopyRows(rows)
	tag, err := t.tx.Conn().PgConn().CopyFrom(ctx, src, copyStaging)
	sent, rowsErr := src.close()
	if rowsErr != nil {
		// The rows' own failure (problems in the file, a read error)
		// is the reason the COPY stopped.
		return counts, rowsErr
	}
	if err != nil {
		return counts, sqlstore.ImportFail(ctx, "stage rows", err, translate)
	}
	if n := tag.RowsAffected(); n != sent {
		return counts, fmt.Errorf("import directory: stage rows: %d of %d rows staged", n, sent)
	}
	counts.Rows = int(sent)
	// Temporary tables are never analysed on their own: without numbers
	// the planner would guess a small table and loop over a million rows.
	if _, err := t.tx.Exec(ctx, `ANALYZE import_rows`); err != nil {
		return counts, sqlstore.ImportFail(ctx, "analyse staged rows", err, translate)
	}
	if err := t.cardClashes(ctx); err != nil {
		return counts, err
	}
	if _, err := t.tx.Exec(ctx, classifyUsers); err != nil {
		return counts, sqlstore.ImportFail(ctx, "classify users", err, translate)
	}
	var existing bool
	if err := t.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM import_users WHERE NOT is_new)`).Scan(&existing); err != nil {
		return counts, sqlstore.ImportFail(ctx, "find users already in the store", err, translate)
	}
	for _, st := range importSteps {
		if st.existing && !existing {
			continue
		}
		var args []any
		if st.name == "add users" {
			args = []any{now}
		}
		if _, err := t.tx.Exec(ctx, st.sql, args...); err != nil {
			return counts, sqlstore.ImportFail(ctx, st.name, err, translate)
		}
	}
	if err := t.restoreAside(ctx, restore); err != nil {
		return counts, err
	}
	err = t.tx.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE is_new), count(*) FILTER (WHERE changed AND NOT is_new),
			count(*) FILTER (WHERE NOT changed AND NOT is_new)
		FROM import_users`).Scan(&counts.Added, &counts.Updated, &counts.Unchanged)
	if err != nil {
		return counts, sqlstore.ImportFail(ctx, "count", err, translate)
	}
	return counts, nil
}

// importSettings gives the import's transaction the memory a million
// rows need: hash joins and sorts in memory rather than in batches on
// disk (work_mem is 4 MB by default), and the staged rows in the
// session's own buffers (temp_buffers, 8 MB by default, can only be
// raised before a session first uses a temporary table: a later import
// on the same connection keeps the size it has). Both end with the
// transaction.
func (t pgTx) importSettings(ctx context.Context) error {
	if _, err := t.tx.Exec(ctx, `SET LOCAL work_mem = '256MB'`); err != nil {
		return sqlstore.ImportFail(ctx, "settings", err, translate)
	}
	// In a savepoint: refused, it must not abort the transaction.
	sp, err := t.tx.Begin(ctx)
	if err != nil {
		return sqlstore.ImportFail(ctx, "settings", err, translate)
	}
	if _, err := sp.Exec(ctx, `SET LOCAL temp_buffers = '512MB'`); err != nil {
		if err := sp.Rollback(ctx); err != nil {
			return sqlstore.ImportFail(ctx, "settings", err, translate)
		}
		return nil
	}
	if err := sp.Commit(ctx); err != nil {
		return sqlstore.ImportFail(ctx, "settings", err, translate)
	}
	return nil
}

// cardClashes refuses rows whose card the store holds for another user
// (the first MaxRowProblems of them, and how many there are).
func (t pgTx) cardClashes(ctx context.Context) error {
	rows, err := t.tx.Query(ctx, `
		SELECT r.line, r.serial, c.user_id, count(*) OVER ()
		FROM import_rows r JOIN smartcards c ON c.serial = r.serial
		WHERE c.user_id <> r.user_id
		ORDER BY r.line LIMIT $1`, domain.MaxRowProblems)
	if err != nil {
		return sqlstore.ImportFail(ctx, "check cards", err, translate)
	}
	defer rows.Close()
	return sqlstore.CardClashes(ctx, rows, translate)
}

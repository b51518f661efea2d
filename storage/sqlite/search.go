package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/smartcard-service-centre/kiosk/storage/internal/sqlstore"
)

// The user search (migration 0008): users_fts is an FTS5 trigram index of
// users.search_key whose rowid is users.search_pos, a number that follows
// name order (sort_key, id). A search then reads the index in rowid
// order and stops at the limit: a common name's thousands of matches are
// neither read nor sorted, which joining them to users and sorting took
// (50 ms for "smith" at a million users, measured).
//
// PutUser keeps the numbering: a user goes between its neighbours in name
// order, and when two neighbours are adjacent numbers, a window around
// them is spread out again. Users written by other means (bulk loads)
// must be numbered with renumberAll before the next PutUser.
const (
	// maxPos bounds the numbers (1 .. maxPos-1): room to halve gaps 62
	// times, and no overflow in lo+hi.
	maxPos int64 = 1 << 62
	// appendStep is the gap left after the last user (or before the
	// first), so loading users in name order does not halve the space
	// each time.
	appendStep int64 = 1 << 32
	// minSpread is the least gap a renumbered window gets, room for a
	// dozen more users in each gap before the next renumbering there.
	minSpread int64 = 1 << 12
)

// nameHits matches key (lower-cased, three characters or more) as one
// FTS5 phrase: consecutive trigrams, that is exactly the substring. The
// phrase is quoted, with its quotes doubled, so nothing in it is FTS5
// syntax.
func nameHits(key string, limit int) (string, []any) {
	return fmt.Sprintf(`
		SELECT id FROM users WHERE search_pos IN (
			SELECT rowid FROM users_fts WHERE users_fts MATCH $1 ORDER BY rowid LIMIT %d)`, limit),
		[]any{`"` + strings.ReplaceAll(key, `"`, `""`) + `"`}
}

// placeUser gives user id a search position between its neighbours in
// name order, unless the one it has is already there; PutUser calls it
// in its transaction, after writing the row with sortKey.
func placeUser(ctx context.Context, db sqlstore.DB, id, sortKey string) error {
	var cur sql.NullInt64
	if err := db.QueryRow(ctx, `SELECT search_pos FROM users WHERE id = $1`, id).Scan(&cur); err != nil {
		return fmt.Errorf("place user in search order: %w", err)
	}
	prev, err := neighbours(ctx, db, id, sortKey, false, 1)
	if err != nil {
		return err
	}
	next, err := neighbours(ctx, db, id, sortKey, true, 1)
	if err != nil {
		return err
	}
	lo, hi := int64(0), maxPos
	if len(prev) > 0 {
		lo = prev[0].pos
	}
	if len(next) > 0 {
		hi = next[0].pos
	}
	if cur.Valid && lo < cur.Int64 && cur.Int64 < hi {
		return nil // still in order: a change that kept the name's place
	}
	var pos int64
	switch {
	case hi-lo < 2:
		return renumberAround(ctx, db, id, sortKey)
	case len(next) == 0 && hi-lo > 2*appendStep:
		pos = lo + appendStep
	case len(prev) == 0 && hi-lo > 2*appendStep:
		pos = hi - appendStep
	default:
		pos = lo + (hi-lo)/2
	}
	if _, err := db.Exec(ctx, `UPDATE users SET search_pos = $1 WHERE id = $2`, pos, id); err != nil {
		return fmt.Errorf("place user in search order: %w", err)
	}
	return nil
}

type placed struct {
	id  string
	pos int64
}

// neighbours are up to n users nearest (sortKey, id) in name order,
// after it or before it, nearest first.
func neighbours(ctx context.Context, db sqlstore.DB, id, sortKey string, after bool, n int) ([]placed, error) {
	cmp, dir := "<", "DESC"
	if after {
		cmp, dir = ">", "ASC"
	}
	rows, err := db.Query(ctx, fmt.Sprintf(`
		SELECT id, search_pos FROM users WHERE (sort_key, id) %s ($1, $2)
		ORDER BY sort_key %s, id %s LIMIT %d`, cmp, dir, dir, n), sortKey, id)
	if err != nil {
		return nil, fmt.Errorf("place user in search order: %w", err)
	}
	defer rows.Close()
	var out []placed
	for rows.Next() {
		var (
			p   placed
			pos sql.NullInt64
		)
		if err := rows.Scan(&p.id, &pos); err != nil {
			return nil, fmt.Errorf("place user in search order: %w", err)
		}
		if !pos.Valid {
			// Written around PutUser and never numbered: ordering
			// against it would be a guess, and it is missing from the
			// name search.
			return nil, fmt.Errorf("place user in search order: user %s has no search position (number bulk-loaded users with renumberAll)", p.id)
		}
		p.pos = pos.Int64
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("place user in search order: %w", err)
	}
	return out, nil
}

// renumberAround spreads out the positions of a window of users around
// id (which has none between its neighbours), doubling the window until
// its span leaves minSpread between each of them (or it is everyone).
func renumberAround(ctx context.Context, db sqlstore.DB, id, sortKey string) error {
	for k := 8; ; k *= 2 {
		before, err := neighbours(ctx, db, id, sortKey, false, k+1)
		if err != nil {
			return err
		}
		after, err := neighbours(ctx, db, id, sortKey, true, k+1)
		if err != nil {
			return err
		}
		lo, hi := int64(0), maxPos
		everyone := true
		if len(before) > k {
			lo, before, everyone = before[k].pos, before[:k], false
		}
		if len(after) > k {
			hi, after, everyone = after[k].pos, after[:k], false
		}
		slices.Reverse(before)
		window := append(append(before, placed{id: id}), after...)
		gap := (hi - lo) / int64(len(window)+1)
		if gap < minSpread && !everyone {
			continue
		}
		if gap < 1 {
			return fmt.Errorf("place user in search order: no room for %d users", len(window))
		}
		// Clear the window first, so no two rows ever share a position
		// on the way (the positions are unique).
		for _, w := range window {
			if _, err := db.Exec(ctx, `UPDATE users SET search_pos = NULL WHERE id = $1`, w.id); err != nil {
				return fmt.Errorf("place user in search order: %w", err)
			}
		}
		for i, w := range window {
			if _, err := db.Exec(ctx, `UPDATE users SET search_pos = $1 WHERE id = $2`, lo+int64(i+1)*gap, w.id); err != nil {
				return fmt.Errorf("place user in search order: %w", err)
			}
		}
		return nil
	}
}

// renumberAll numbers every user in name order, evenly spread, as
// migration 0008 does for the users it finds: for bulk loads, which
// write users without PutUser. The triggers bring users_fts along, which
// is then merged.
func renumberAll(ctx context.Context, db sqlstore.DB) error {
	// Cleared first, so the new numbers never meet the old ones in the
	// unique index part-way through.
	if _, err := db.Exec(ctx, `UPDATE users SET search_pos = NULL WHERE search_pos IS NOT NULL`); err != nil {
		return fmt.Errorf("number users in search order: %w", err)
	}
	if _, err := db.Exec(ctx, `
		UPDATE users SET search_pos = r.n * ($1 / ((SELECT count(*) FROM users) + 1))
		FROM (SELECT id, row_number() OVER (ORDER BY sort_key, id) AS n FROM users) AS r
		WHERE r.id = users.id`, maxPos); err != nil {
		return fmt.Errorf("number users in search order: %w", err)
	}
	return mergeSearchIndex(ctx, db)
}

// mergeSearchIndex merges users_fts into one segment (FTS5's optimize),
// as bulk writes leave it in many, each of which a search must read: at
// a million users a rare name's search took twice as long before (10 ms
// against 4.7, measured). Bulk writes call it last, in their
// transaction; about 2 s at a million users.
func mergeSearchIndex(ctx context.Context, db sqlstore.DB) error {
	if _, err := db.Exec(ctx, `INSERT INTO users_fts (users_fts) VALUES ('optimize')`); err != nil {
		return fmt.Errorf("merge the search index: %w", err)
	}
	return nil
}

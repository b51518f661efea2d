package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/smartcard-service-centre/kiosk/domain"
)

// MinContains is the shortest name text matched anywhere in a name: both
// stores' indexes are built of trigrams, which shorter text does not
// have. Shorter text matches the start of the family name instead, a
// range of the sort index.
const MinContains = 3

// likeEscaper makes user input literal inside LIKE ... ESCAPE '\'.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// ContainsPattern is the LIKE ... ESCAPE '\' pattern for "contains key",
// with the wildcards in key made literal.
func ContainsPattern(key string) string { return "%" + likeEscaper.Replace(key) + "%" }

// SearchStatement is the one statement SearchUsers runs for query: the
// users it picks (hits, at most limit, by the index the query's kind
// calls for) joined to their cards and registration. ok is false when
// nothing can match (blank input). A function, not a method, so the
// stores that embed Queries do not export it; tests read it to EXPLAIN.
func SearchStatement(d *Dialect, query string, limit int) (stmt string, args []any, ok bool) {
	if limit <= 0 {
		limit = DefaultSearchLimit
	}
	// Neither database takes a NUL or broken UTF-8 as text: make them
	// characters no name is searched by, so both stores answer alike.
	query = strings.ReplaceAll(strings.ToValidUTF8(query, "\uFFFD"), "\x00", "\uFFFD")
	query = strings.Join(strings.Fields(query), " ")
	if query == "" {
		return "", nil, false
	}
	byID := `u.id` + d.CollateC
	if id, err := domain.ParseUserID(query); err == nil {
		return matchesStatement(`SELECT id FROM users WHERE id = $1`, byID), []any{string(id)}, true
	}
	if digits, ok := digitsOnly(query); ok {
		// A range, not LIKE 'digits%': a generic plan cannot see the
		// prefix in a LIKE parameter, but it can use a range's bounds.
		id := `id` + d.CollateC
		hits := fmt.Sprintf(`SELECT id FROM users WHERE %s >= $1 AND %s < $2 ORDER BY %s LIMIT %d`, id, id, id, limit)
		// IDs are digits only: digits followed by anything sort below
		// the same digits with the last one raised (':' follows '9').
		hi := digits[:len(digits)-1] + string(digits[len(digits)-1]+1)
		return matchesStatement(hits, byID), []any{digits, hi}, true
	}
	const byName = `u.sort_key, u.id`
	key := strings.ToLower(query)
	if utf8.RuneCountInString(key) >= MinContains {
		hits, args := d.NameHits(key, limit)
		return matchesStatement(hits, byName), args, true
	}
	if strings.ContainsRune(key, sortSep) {
		// Would reach past the family name into the given name.
		return "", nil, false
	}
	if hi, ok := PrefixEnd(key); ok {
		hits := fmt.Sprintf(`SELECT id FROM users WHERE sort_key >= $1 AND sort_key < $2 ORDER BY sort_key, id LIMIT %d`, limit)
		return matchesStatement(hits, byName), []any{key, hi}, true
	}
	hits := fmt.Sprintf(`SELECT id FROM users WHERE sort_key >= $1 ORDER BY sort_key, id LIMIT %d`, limit)
	return matchesStatement(hits, byName), []any{key}, true
}

// PrefixEnd is the least string above every string that starts with
// prefix, in byte order (the sort key's collation): the last character
// raised by one, carried past U+10FFFF. Raising a character, not a byte,
// keeps the bound valid UTF-8, which PostgreSQL insists on; UTF-8's byte
// order is its code point order, so the bound is the same. ok is false if
// there is no such string (every character is U+10FFFF).
func PrefixEnd(prefix string) (string, bool) {
	rs := []rune(prefix)
	for i := len(rs) - 1; i >= 0; i-- {
		switch r := rs[i]; {
		case r == unicode.MaxRune:
			continue
		case r == 0xD7FF: // the surrogates are not characters
			rs[i] = 0xE000
		default:
			rs[i] = r + 1
		}
		return string(rs[:i+1]), true
	}
	return "", false
}

// matchesStatement joins the hits (a statement giving user IDs, already
// cut to the limit) to the users, their cards and registrations: one
// row per card, or one for a user with none. The limit is applied to the
// hits, so it counts users, not cards.
func matchesStatement(hits, order string) string {
	return `
		SELECT u.id, u.title, u.given_name, u.family_name, u.email, u.created_at,
			c.serial, c.card_type, c.issued_at, c.cert_expiry, c.cancelled_at, c.cancel_reason,
			c.renewals_since_operator, c.needs_repair,
			r.user_id, r.registered_at, r.failed_attempts, r.locked_out_at
		FROM (` + hits + `) h
		JOIN users u ON u.id = h.id
		LEFT JOIN smartcards c ON c.user_id = u.id
		LEFT JOIN registrations r ON r.user_id = u.id
		ORDER BY ` + order + `, c.issued_at NULLS LAST, c.serial`
}

// SearchUsers: see domain.UserStore. One statement, so a list of results
// costs one round trip whatever its length.
func (q *Queries) SearchUsers(ctx context.Context, query string, limit int) ([]domain.UserMatch, error) {
	stmt, args, ok := SearchStatement(q.d, query, limit)
	if !ok {
		return nil, nil
	}
	out, err := q.matches(ctx, stmt, args...)
	if err != nil {
		return nil, q.fail("search users", err)
	}
	return out, nil
}

// ListUsers returns up to limit users in name order.
func (q *Queries) ListUsers(ctx context.Context, limit int) ([]domain.UserMatch, error) {
	if limit <= 0 {
		limit = DefaultSearchLimit
	}
	hits := fmt.Sprintf(`SELECT id FROM users ORDER BY sort_key, id LIMIT %d`, limit)
	out, err := q.matches(ctx, matchesStatement(hits, `u.sort_key, u.id`))
	if err != nil {
		return nil, q.fail("list users", err)
	}
	return out, nil
}

// matches reads matchesStatement's rows, one user per run of rows.
func (q *Queries) matches(ctx context.Context, stmt string, args ...any) ([]domain.UserMatch, error) {
	var out []domain.UserMatch
	err := each(ctx, q.r, func(rows Rows) error {
		var (
			u                   domain.User
			c                   domain.Smartcard
			reg                 domain.RegistrationStatus
			uid, serial, regUID string
			renewals, failed    int64
			valid               bool
			repair              nullBool
		)
		if err := rows.Scan(&uid, &u.Title, &u.GivenName, &u.FamilyName, &u.Email, timeDest{&u.CreatedAt},
			textDest{&serial}, textDest{&c.Type}, timeDest{&c.IssuedAt}, timeDest{&c.CertExpiry},
			timeDest{&c.CancelledAt}, textDest{&c.CancelReason}, intDest{&renewals, &valid}, &repair,
			textDest{&regUID}, timeDest{&reg.RegisteredAt}, intDest{&failed, &valid}, timeDest{&reg.LockedOutAt}); err != nil {
			return err
		}
		u.ID = domain.UserID(uid)
		if n := len(out); n == 0 || out[n-1].User.ID != u.ID {
			m := domain.UserMatch{User: u}
			if regUID != "" {
				reg.FailedAttempts = int(failed)
				m.Registration = &reg
			}
			out = append(out, m)
		}
		if serial != "" {
			c.Serial, c.UserID = domain.CardSerial(serial), u.ID
			c.RenewalsSinceOperator, c.NeedsRepair = int(renewals), repair.b
			last := &out[len(out)-1]
			last.Cards = append(last.Cards, c)
		}
		return nil
	}, stmt, args...)
	return out, err
}

// digitsOnly strips the spaces and dashes people type inside an ID.
func digitsOnly(s string) (string, bool) {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '-' || unicode.IsSpace(r):
		default:
			return "", false
		}
	}
	return b.String(), b.Len() > 0
}

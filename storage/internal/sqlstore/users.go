package sqlstore

import (
	"context"
	"strings"
	"unicode"

	"github.com/smartcard-service-centre/kiosk/domain"
)

// DefaultSearchLimit caps SearchUsers when the caller gives no limit.
const DefaultSearchLimit = 50

// searchKey is what name searches match: the lower-cased names, folded in
// Go so PostgreSQL and SQLite (whose lower() is ASCII-only) agree.
func searchKey(u domain.User) string {
	return strings.ToLower(strings.Join(strings.Fields(u.GivenName+" "+u.FamilyName), " "))
}

// sortKey orders search results by family name, then given name.
func sortKey(u domain.User) string {
	return strings.ToLower(strings.TrimSpace(u.FamilyName)) + "\x1f" + strings.ToLower(strings.TrimSpace(u.GivenName))
}

// likeEscaper makes user input literal inside LIKE ... ESCAPE '\'.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

const userCols = `id, title, given_name, family_name, email, photo, created_at`

func scanUser(row Row) (domain.User, error) {
	var u domain.User
	var id string
	err := row.Scan(&id, &u.Title, &u.GivenName, &u.FamilyName, &u.Email,
		bytesDest{&u.Photo}, timeDest{&u.CreatedAt})
	u.ID = domain.UserID(id)
	return u, err
}

func (q *Queries) PutUser(ctx context.Context, u domain.User) error {
	_, err := q.w.Exec(ctx, `
		INSERT INTO users (id, title, given_name, family_name, email, photo, created_at, search_key, sort_key)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (id) DO UPDATE SET
			title = excluded.title, given_name = excluded.given_name,
			family_name = excluded.family_name, email = excluded.email,
			photo = excluded.photo, created_at = excluded.created_at,
			search_key = excluded.search_key, sort_key = excluded.sort_key`,
		string(u.ID), u.Title, u.GivenName, u.FamilyName, u.Email, blobArg(u.Photo),
		q.timeArg(u.CreatedAt), searchKey(u), sortKey(u))
	if err != nil {
		return q.fail("put user", err)
	}
	return nil
}

func (q *Queries) GetUser(ctx context.Context, id domain.UserID) (domain.User, error) {
	u, err := scanUser(q.r.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = $1`, string(id)))
	if err != nil {
		return domain.User{}, q.fail("get user", err)
	}
	return u, nil
}

// SearchUsers finds users by a 12-digit user ID (spaces or dashes allowed),
// by the leading digits of one, or by part of a name. The input is only
// ever bound as a parameter and LIKE wildcards in it are escaped.
func (q *Queries) SearchUsers(ctx context.Context, query string, limit int) ([]domain.User, error) {
	if limit <= 0 {
		limit = DefaultSearchLimit
	}
	query = strings.Join(strings.Fields(query), " ")
	if query == "" {
		return nil, nil
	}
	var (
		where string
		arg   string
	)
	if id, err := domain.ParseUserID(query); err == nil {
		where, arg = `id = $1`, string(id)
	} else if digits, ok := digitsOnly(query); ok {
		where, arg = `id LIKE $1 ESCAPE '\'`, digits+"%"
	} else {
		where, arg = `search_key LIKE $1 ESCAPE '\'`, "%"+likeEscaper.Replace(strings.ToLower(query))+"%"
	}
	out, err := q.users(ctx, `WHERE `+where+` ORDER BY sort_key, id LIMIT $2`, arg, limit)
	if err != nil {
		return nil, q.fail("search users", err)
	}
	return out, nil
}

// ListUsers returns up to limit users in name order.
func (q *Queries) ListUsers(ctx context.Context, limit int) ([]domain.User, error) {
	if limit <= 0 {
		limit = DefaultSearchLimit
	}
	out, err := q.users(ctx, `ORDER BY sort_key, id LIMIT $1`, limit)
	if err != nil {
		return nil, q.fail("list users", err)
	}
	return out, nil
}

func (q *Queries) users(ctx context.Context, tail string, args ...any) ([]domain.User, error) {
	var out []domain.User
	err := each(ctx, q.r, func(rows Rows) error {
		u, err := scanUser(rows)
		if err == nil {
			out = append(out, u)
		}
		return err
	}, `SELECT `+userCols+` FROM users `+tail, args...)
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

func (q *Queries) AddPosition(ctx context.Context, p domain.Position) (domain.Position, error) {
	err := q.inTx(ctx, func(tq *Queries) error {
		if err := tq.w.QueryRow(ctx, `
			INSERT INTO positions (user_id, org_code, org_name, role_name)
			VALUES ($1, $2, $3, $4) RETURNING id`,
			string(p.UserID), p.OrgCode, p.OrgName, p.RoleName).Scan(&p.ID); err != nil {
			return err
		}
		for i, c := range p.ActivityCodes {
			if _, err := tq.w.Exec(ctx, `
				INSERT INTO position_activities (position_id, ord, code) VALUES ($1, $2, $3)`,
				p.ID, i, string(c)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return domain.Position{}, q.fail("add position", err)
	}
	if len(p.ActivityCodes) == 0 {
		p.ActivityCodes = nil
	}
	return p, nil
}

func (q *Queries) ListPositions(ctx context.Context, id domain.UserID) ([]domain.Position, error) {
	var out []domain.Position
	// One statement, so the codes come from the same snapshot as the rows.
	err := each(ctx, q.r, func(rows Rows) error {
		var (
			p    domain.Position
			uid  string
			code string
		)
		if err := rows.Scan(&p.ID, &uid, &p.OrgCode, &p.OrgName, &p.RoleName, textDest{&code}); err != nil {
			return err
		}
		if n := len(out); n == 0 || out[n-1].ID != p.ID {
			p.UserID = domain.UserID(uid)
			out = append(out, p)
		}
		if code != "" {
			last := &out[len(out)-1]
			last.ActivityCodes = append(last.ActivityCodes, domain.ActivityCode(code))
		}
		return nil
	}, `
		SELECT p.id, p.user_id, p.org_code, p.org_name, p.role_name, a.code
		FROM positions p LEFT JOIN position_activities a ON a.position_id = p.id
		WHERE p.user_id = $1
		ORDER BY p.id, a.ord`, string(id))
	if err != nil {
		return nil, q.fail("list positions", err)
	}
	return out, nil
}

// DeletePositions removes all of the user's positions; none is not an error.
func (q *Queries) DeletePositions(ctx context.Context, id domain.UserID) error {
	if _, err := q.w.Exec(ctx, `DELETE FROM positions WHERE user_id = $1`, string(id)); err != nil {
		return q.fail("delete positions", err)
	}
	return nil
}

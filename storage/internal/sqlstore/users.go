package sqlstore

import (
	"context"
	"strings"

	"github.com/smartcard-service-centre/kiosk/domain"
)

// DefaultSearchLimit caps SearchUsers when the caller gives no limit.
const DefaultSearchLimit = 50

// UserKeys are what a user row is searched by and sorted by. search is
// "given family" lower-cased in Go, so PostgreSQL and SQLite (whose
// lower() is ASCII-only) agree; sort orders results by family name,
// then given name. Bulk loaders write them as PutUser does.
func UserKeys(u domain.User) (search, sort string) {
	search = strings.ToLower(strings.Join(strings.Fields(u.GivenName+" "+u.FamilyName), " "))
	sort = strings.ToLower(strings.TrimSpace(u.FamilyName)) + string(sortSep) + strings.ToLower(strings.TrimSpace(u.GivenName))
	return search, sort
}

// sortSep ends the family name in the sort key (and sorts below any
// printable character, so "lee" comes before "leeds").
const sortSep = '\x1f'

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
	search, sort := UserKeys(u)
	write := func(tq *Queries) error {
		_, err := tq.w.Exec(ctx, `
		INSERT INTO users (id, title, given_name, family_name, email, photo, created_at, search_key, sort_key)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (id) DO UPDATE SET
			title = excluded.title, given_name = excluded.given_name,
			family_name = excluded.family_name, email = excluded.email,
			photo = excluded.photo, created_at = excluded.created_at,
			search_key = excluded.search_key, sort_key = excluded.sort_key`,
			string(u.ID), u.Title, u.GivenName, u.FamilyName, u.Email, blobArg(u.Photo),
			tq.timeArg(u.CreatedAt), search, sort)
		if err != nil || q.d.PlaceUser == nil {
			return err
		}
		return q.d.PlaceUser(ctx, tq.w, string(u.ID), sort)
	}
	var err error
	if q.d.PlaceUser == nil {
		err = write(q) // one statement: no transaction needed
	} else {
		err = q.inTx(ctx, write)
	}
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

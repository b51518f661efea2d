package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
)

const codeCols = `id, user_id, purpose, hash, card_serial, created_at, expires_at, tries, max_tries, used_at`

func scanCode(row Row) (domain.OneTimeCode, error) {
	var (
		c                    domain.OneTimeCode
		uid, purpose, serial string
	)
	err := row.Scan(&c.ID, &uid, &purpose, bytesDest{&c.Hash}, textDest{&serial}, timeDest{&c.CreatedAt},
		timeDest{&c.ExpiresAt}, &c.Tries, &c.MaxTries, timeDest{&c.UsedAt})
	c.UserID, c.Purpose, c.CardSerial = domain.UserID(uid), domain.CodePurpose(purpose), domain.CardSerial(serial)
	return c, err
}

// CreateCode stores c and, in the same transaction, marks the user's older
// unused codes for the purpose used at c.CreatedAt. A unique index allows
// one unused code per user and purpose, so a racing CreateCode gets
// ErrConflict rather than leaving two live codes.
func (q *Queries) CreateCode(ctx context.Context, c domain.OneTimeCode) (domain.OneTimeCode, error) {
	return q.CreateCodeKeyed(ctx, c, RequestKey{})
}

// CreateCodeKeyed is CreateCode as one attempt of the logical write k
// names (see RequestKey): a retry returns the code an earlier attempt
// committed rather than store another, which would mark the first one
// used (the one the mail on its way carries).
func (q *Queries) CreateCodeKeyed(ctx context.Context, c domain.OneTimeCode, k RequestKey) (domain.OneTimeCode, error) {
	if c.CreatedAt.IsZero() {
		return domain.OneTimeCode{}, errors.New("create code: creation time is required")
	}
	c.CreatedAt, c.ExpiresAt, c.UsedAt = NormTime(c.CreatedAt), NormTime(c.ExpiresAt), NormTime(c.UsedAt)
	if len(c.Hash) == 0 {
		c.Hash = nil
	}
	err := q.inTx(ctx, func(tq *Queries) error {
		if k.Retry {
			found, err := scanCode(tq.w.QueryRow(ctx, `SELECT `+codeCols+` FROM one_time_codes WHERE request_id = $1`, k.ID))
			if err == nil {
				c = found
				return nil
			}
			if !errors.Is(tq.d.Translate(err), domain.ErrNotFound) {
				return err
			}
		}
		if _, err := tq.w.Exec(ctx, `
			UPDATE one_time_codes SET used_at = $3
			WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL`,
			string(c.UserID), string(c.Purpose), tq.timeArg(c.CreatedAt)); err != nil {
			return err
		}
		args := []any{string(c.UserID), string(c.Purpose), blobArg(c.Hash), textArg(string(c.CardSerial)),
			tq.timeArg(c.CreatedAt), tq.timeArg(c.ExpiresAt), c.Tries, c.MaxTries, tq.timeArg(c.UsedAt)}
		insert := `INSERT INTO one_time_codes (user_id, purpose, hash, card_serial, created_at, expires_at, tries, max_tries, used_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`
		if k.ID != "" {
			// ON CONFLICT: an earlier attempt the lookup above could not
			// see yet (still running on the server) committed meanwhile.
			args = append(args, k.ID)
			insert = `INSERT INTO one_time_codes (user_id, purpose, hash, card_serial, created_at, expires_at, tries, max_tries, used_at, request_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
			ON CONFLICT (request_id) WHERE request_id IS NOT NULL DO NOTHING RETURNING id`
		}
		if k.ID == "" {
			return tq.w.QueryRow(ctx, insert, args...).Scan(&c.ID)
		}
		inserted, err := insertReturningID(ctx, tq.w, &c.ID, insert, args...)
		if err == nil && !inserted {
			c, err = scanCode(tq.w.QueryRow(ctx, `SELECT `+codeCols+` FROM one_time_codes WHERE request_id = $1`, k.ID))
		}
		return err
	})
	if err != nil {
		return domain.OneTimeCode{}, q.fail("create code", err)
	}
	return c, nil
}

func (q *Queries) LatestCode(ctx context.Context, id domain.UserID, purpose domain.CodePurpose) (domain.OneTimeCode, error) {
	c, err := scanCode(q.r.QueryRow(ctx, `SELECT `+codeCols+` FROM one_time_codes
		WHERE user_id = $1 AND purpose = $2 ORDER BY created_at DESC, id DESC LIMIT 1`,
		string(id), string(purpose)))
	if err != nil {
		return domain.OneTimeCode{}, q.fail("latest code", err)
	}
	return c, nil
}

// CodesCreatedAfter reads the creation times of the user's codes for the
// purpose created after since, oldest first (one_time_codes_latest_idx
// covers the query).
func (q *Queries) CodesCreatedAfter(ctx context.Context, id domain.UserID, purpose domain.CodePurpose, since time.Time) ([]time.Time, error) {
	var out []time.Time
	err := each(ctx, q.r, func(r Rows) error {
		var t time.Time
		if err := r.Scan(timeDest{&t}); err != nil {
			return err
		}
		out = append(out, t)
		return nil
	}, `SELECT created_at FROM one_time_codes
		WHERE user_id = $1 AND purpose = $2 AND created_at > $3 ORDER BY created_at, id`,
		string(id), string(purpose), q.timeArg(NormTime(since)))
	if err != nil {
		return nil, q.fail("codes created after", err)
	}
	return out, nil
}

// RecordCodeFailure counts a wrong entry in one conditional UPDATE that
// stops at the code's limit: an entry past it is refused with
// ErrCodeTriesExhausted and counts nothing.
func (q *Queries) RecordCodeFailure(ctx context.Context, codeID int64) (domain.OneTimeCode, error) {
	c, err := scanCode(q.w.QueryRow(ctx, `UPDATE one_time_codes SET tries = tries + 1
		WHERE id = $1 AND tries < max_tries RETURNING `+codeCols, codeID))
	if err != nil && errors.Is(q.d.Translate(err), domain.ErrNotFound) {
		c, err = scanCode(q.w.QueryRow(ctx, `SELECT `+codeCols+` FROM one_time_codes WHERE id = $1`, codeID))
		if err == nil {
			return c, fmt.Errorf("record code failure: %w", domain.ErrCodeTriesExhausted)
		}
	}
	if err != nil {
		return domain.OneTimeCode{}, q.fail("record code failure", err)
	}
	return c, nil
}

// UseCode consumes the code in one conditional UPDATE, so of two kiosks
// only one succeeds. It also refuses a code that has run out of tries or
// expired at now, even if the caller checked it earlier: the reason is
// then ErrCodeUsed, ErrCodeTriesExhausted or ErrCodeExpired.
func (q *Queries) UseCode(ctx context.Context, codeID int64, now time.Time) error {
	if now.IsZero() {
		return errors.New("use code: time is required")
	}
	err := q.inTx(ctx, func(tq *Queries) error {
		n, err := tq.w.Exec(ctx, `UPDATE one_time_codes SET used_at = $2
			WHERE id = $1 AND used_at IS NULL AND tries < max_tries AND expires_at > $2`,
			codeID, tq.timeArg(now))
		if err != nil || n == 1 {
			return err
		}
		c, err := scanCode(tq.w.QueryRow(ctx, `SELECT `+codeCols+` FROM one_time_codes WHERE id = $1`, codeID))
		if err != nil {
			return err
		}
		if why := c.Usable(NormTime(now)); why != nil {
			return why
		}
		return domain.ErrConflict // unreachable unless the row changed meanwhile
	})
	if err != nil {
		return q.fail("use code", err)
	}
	return nil
}

package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
)

// DefaultMailListLimit caps ListMail when the caller gives no limit.
const DefaultMailListLimit = 50

const mailCols = `id, to_addr, subject, body, body_sealed, created_at, not_after, attempts, next_attempt_at, last_error, sent_at`

func scanMail(row Row) (domain.Mail, error) {
	var m domain.Mail
	err := row.Scan(&m.ID, &m.To, &m.Subject, &m.Body, &m.BodySealed, timeDest{&m.CreatedAt}, timeDest{&m.NotAfter},
		&m.Attempts, timeDest{&m.NextAttemptAt}, &m.LastError, timeDest{&m.SentAt})
	return m, err
}

// EnqueueMail stores m as new: no attempts, not sent, due at NextAttemptAt
// or else at CreatedAt.
func (q *Queries) EnqueueMail(ctx context.Context, m domain.Mail) (domain.Mail, error) {
	return q.EnqueueMailKeyed(ctx, m, RequestKey{})
}

// EnqueueMailKeyed is EnqueueMail as one attempt of the logical write k
// names (see RequestKey): the mail an earlier attempt committed is
// returned, not queued twice.
func (q *Queries) EnqueueMailKeyed(ctx context.Context, m domain.Mail, k RequestKey) (domain.Mail, error) {
	if m.CreatedAt.IsZero() {
		return domain.Mail{}, errors.New("enqueue mail: creation time is required")
	}
	m.CreatedAt, m.NotAfter, m.NextAttemptAt = NormTime(m.CreatedAt), NormTime(m.NotAfter), NormTime(m.NextAttemptAt)
	if m.NextAttemptAt.IsZero() {
		m.NextAttemptAt = m.CreatedAt
	}
	m.Attempts, m.LastError, m.SentAt = 0, "", time.Time{}
	args := []any{m.To, m.Subject, m.Body, m.BodySealed, q.timeArg(m.CreatedAt), q.timeArg(m.NotAfter), q.timeArg(m.NextAttemptAt)}
	insert := `INSERT INTO mail_outbox (to_addr, subject, body, body_sealed, created_at, not_after, attempts, next_attempt_at, last_error)
		VALUES ($1, $2, $3, $4, $5, $6, 0, $7, '') RETURNING id`
	if k.ID != "" {
		// ON CONFLICT waits for an earlier attempt still running on the
		// server, then skips the row if that attempt committed it.
		args = append(args, k.ID)
		insert = `INSERT INTO mail_outbox (to_addr, subject, body, body_sealed, created_at, not_after, attempts, next_attempt_at, last_error, request_id)
		VALUES ($1, $2, $3, $4, $5, $6, 0, $7, '', $8)
		ON CONFLICT (request_id) WHERE request_id IS NOT NULL DO NOTHING RETURNING id`
	}
	var err error
	if k.ID == "" {
		err = q.w.QueryRow(ctx, insert, args...).Scan(&m.ID)
	} else {
		var inserted bool
		inserted, err = insertReturningID(ctx, q.w, &m.ID, insert, args...)
		if err == nil && !inserted {
			err = q.w.QueryRow(ctx, `SELECT id FROM mail_outbox WHERE request_id = $1`, k.ID).Scan(&m.ID)
		}
	}
	if err != nil {
		return domain.Mail{}, q.fail("enqueue mail", err)
	}
	return m, nil
}

// expired matches unsent mail whose code expired by $1 and that nobody
// gave up yet; expire gives it up and wipes the code it carries.
const (
	expired = `sent_at IS NULL AND next_attempt_at IS NOT NULL AND not_after IS NOT NULL AND not_after <= $1`
	expire  = `body = '', body_sealed = false, next_attempt_at = NULL, last_error = 'expired before delivery'`
)

// ExpireMail gives up expired mail in one UPDATE, returning the rows it
// changed: a row another sender expires meanwhile no longer matches (on
// PostgreSQL the UPDATE re-checks it after waiting for the row lock), so
// each expired mail is returned once.
func (q *Queries) ExpireMail(ctx context.Context, now time.Time) ([]domain.Mail, error) {
	if now.IsZero() {
		return nil, errors.New("expire mail: time is required")
	}
	var out []domain.Mail
	err := each(ctx, q.w, func(rows Rows) error {
		m, err := scanMail(rows)
		if err == nil {
			out = append(out, m)
		}
		return err
	}, `UPDATE mail_outbox SET `+expire+` WHERE `+expired+` RETURNING `+mailCols, q.timeArg(now))
	if err != nil {
		return nil, q.fail("expire mail", err)
	}
	return out, nil
}

// GetMail returns one mail.
func (q *Queries) GetMail(ctx context.Context, id int64) (domain.Mail, error) {
	m, err := scanMail(q.r.QueryRow(ctx, `SELECT `+mailCols+` FROM mail_outbox WHERE id = $1`, id))
	if err != nil {
		return domain.Mail{}, q.fail("get mail", err)
	}
	return m, nil
}

// ClaimMail takes the oldest due mail in one UPDATE whose subquery picks
// the row, so two senders can never both take it: SQLite runs one writer
// at a time, and on PostgreSQL the subquery's FOR UPDATE SKIP LOCKED makes
// a second claimer skip the row (or, once the first commits, re-check it
// and find it no longer due). The outer conditions repeat the subquery's
// so the UPDATE itself never takes a row that stopped being due.
func (q *Queries) ClaimMail(ctx context.Context, now time.Time, lease time.Duration) (domain.Mail, error) {
	if now.IsZero() {
		return domain.Mail{}, errors.New("claim mail: time is required")
	}
	if lease <= 0 {
		return domain.Mail{}, errors.New("claim mail: lease must be positive")
	}
	// Expired mail is never sent: give it up and wipe the code it carries
	// (a sender reports it first with ExpireMail; this is the backstop).
	if _, err := q.w.Exec(ctx, `UPDATE mail_outbox SET `+expire+` WHERE `+expired, q.timeArg(now)); err != nil {
		return domain.Mail{}, q.fail("claim mail", err)
	}
	const due = `sent_at IS NULL AND next_attempt_at <= $1 AND (not_after IS NULL OR not_after > $1)`
	m, err := scanMail(q.w.QueryRow(ctx, `
		UPDATE mail_outbox SET next_attempt_at = $2
		WHERE id = (SELECT id FROM mail_outbox WHERE `+due+`
			ORDER BY created_at, id LIMIT 1 `+q.d.ClaimLock+`)
		AND `+due+`
		RETURNING `+mailCols,
		q.timeArg(now), q.timeArg(now.Add(lease))))
	if err != nil {
		return domain.Mail{}, q.fail("claim mail", err)
	}
	return m, nil
}

// wipeCode empties the body of a mail that carries a code (one with a
// NotAfter) once it no longer needs sending: codes are kept only as hashes.
const wipeCode = `body = CASE WHEN not_after IS NULL THEN body ELSE '' END,
	body_sealed = CASE WHEN not_after IS NULL THEN body_sealed ELSE false END`

// MarkMailSent records delivery; a second call keeps the first time, so a
// sender whose lease ran out while delivering cannot rewrite history.
func (q *Queries) MarkMailSent(ctx context.Context, id int64, at time.Time) error {
	if at.IsZero() {
		return errors.New("mark mail sent: time is required")
	}
	err := affected(q.w.Exec(ctx, `UPDATE mail_outbox SET sent_at = COALESCE(sent_at, $2), `+wipeCode+` WHERE id = $1`,
		id, q.timeArg(at)))
	if err != nil {
		return q.fail("mark mail sent", err)
	}
	return nil
}

// MarkMailFailed counts a failed attempt and sets when to try next. A zero
// next stores NULL, which no claim ever matches: the sender gave up, and
// reason says why.
func (q *Queries) MarkMailFailed(ctx context.Context, id int64, reason string, next time.Time) error {
	query := `UPDATE mail_outbox SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3 WHERE id = $1`
	if next.IsZero() {
		query = `UPDATE mail_outbox SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3, ` + wipeCode + ` WHERE id = $1`
	}
	err := affected(q.w.Exec(ctx, query, id, reason, q.timeArg(next)))
	if err != nil {
		return q.fail("mark mail failed", err)
	}
	return nil
}

// ListMail returns up to limit mails, newest first.
func (q *Queries) ListMail(ctx context.Context, limit int) ([]domain.Mail, error) {
	if limit <= 0 {
		limit = DefaultMailListLimit
	}
	var out []domain.Mail
	err := each(ctx, q.r, func(rows Rows) error {
		m, err := scanMail(rows)
		if err == nil {
			out = append(out, m)
		}
		return err
	}, `SELECT `+mailCols+` FROM mail_outbox ORDER BY created_at DESC, id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, q.fail("list mail", err)
	}
	return out, nil
}

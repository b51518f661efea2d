package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
)

func (q *Queries) PutRegistration(ctx context.Context, r domain.Registration) error {
	err := q.inTx(ctx, func(tq *Queries) error {
		if _, err := tq.w.Exec(ctx, `
			INSERT INTO registrations (user_id, email, failed_attempts, locked_out_at, registered_at)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (user_id) DO UPDATE SET
				email = excluded.email, failed_attempts = excluded.failed_attempts,
				locked_out_at = excluded.locked_out_at, registered_at = excluded.registered_at,
				challenge = ''`,
			string(r.UserID), r.Email, r.FailedAttempts, tq.timeArg(r.LockedOutAt), tq.timeArg(r.RegisteredAt)); err != nil {
			return err
		}
		return tq.putAnswers(ctx, "registration_answers", "registration_answer_sets", r.UserID, r.Answers, r.Sets)
	})
	if err != nil {
		return q.fail("put registration", err)
	}
	return nil
}

// putAnswers replaces the answers in table and the answer sets in
// setTable (trusted constants), each in order, in one statement each.
func (q *Queries) putAnswers(ctx context.Context, table, setTable string, id domain.UserID, answers []domain.Answer, sets []domain.AnswerSet) error {
	keyed := make([][2]any, len(answers))
	for i, a := range answers {
		keyed[i] = [2]any{int(a.Question), a.Hash}
	}
	if err := q.putOrdered(ctx, table, "question", id, keyed); err != nil {
		return err
	}
	keyed = make([][2]any, len(sets))
	for i, s := range sets {
		keyed[i] = [2]any{formatQuestions(s.Questions), s.Hash}
	}
	return q.putOrdered(ctx, setTable, "questions", id, keyed)
}

// putOrdered replaces id's rows (user_id, ord, col, hash) in table with
// rows, numbered in order, in one INSERT.
func (q *Queries) putOrdered(ctx context.Context, table, col string, id domain.UserID, rows [][2]any) error {
	if _, err := q.w.Exec(ctx, `DELETE FROM `+table+` WHERE user_id = $1`, string(id)); err != nil {
		return err
	}
	if len(rows) == 0 {
		return nil
	}
	values := make([]string, len(rows))
	args := []any{string(id)}
	for i, r := range rows {
		args = append(args, i, r[0], r[1])
		values[i] = fmt.Sprintf("($1, $%d, $%d, $%d)", len(args)-2, len(args)-1, len(args))
	}
	_, err := q.w.Exec(ctx, `INSERT INTO `+table+` (user_id, ord, `+col+`, hash) VALUES `+strings.Join(values, ", "), args...)
	return err
}

// answersQuery reads a parent row with its answers and answer sets in
// one statement, so they all come from the same snapshot; the parent's
// columns are repeated. Each answer row has kind 0 and its question, each
// set row kind 1 and its questions; none has kind NULL (the LEFT JOIN).
func answersQuery(parentCols, parent, answers, sets string) string {
	return `SELECT ` + parentCols + `, a.kind, a.question, a.questions, a.hash
		FROM ` + parent + ` p LEFT JOIN (
			SELECT 0 AS kind, ord, question, '' AS questions, hash FROM ` + answers + ` WHERE user_id = $1
			UNION ALL
			SELECT 1, ord, 0, questions, hash FROM ` + sets + ` WHERE user_id = $1
		) a ON true
		WHERE p.user_id = $1 ORDER BY a.kind, a.ord`
}

// answerRow is the answer or answer set columns of answersQuery's rows.
type answerRow struct {
	kind, question  int64
	valid, qValid   bool
	questions, hash string
}

func (r *answerRow) dests() []any {
	return []any{intDest{&r.kind, &r.valid}, intDest{&r.question, &r.qValid}, textDest{&r.questions}, textDest{&r.hash}}
}

// add appends the row to answers or sets, unless the LEFT JOIN found none.
func (r *answerRow) add(answers *[]domain.Answer, sets *[]domain.AnswerSet) error {
	switch {
	case !r.valid:
	case r.kind == 0:
		*answers = append(*answers, domain.Answer{Question: domain.QuestionID(r.question), Hash: r.hash})
	default:
		qs, err := parseQuestions(r.questions)
		if err != nil {
			return err
		}
		*sets = append(*sets, domain.AnswerSet{Questions: qs, Hash: r.hash})
	}
	return nil
}

// formatQuestions is how an answer set's questions are stored: "3,7,12".
func formatQuestions(qs []domain.QuestionID) string {
	parts := make([]string, len(qs))
	for i, q := range qs {
		parts[i] = strconv.Itoa(int(q))
	}
	return strings.Join(parts, ",")
}

func parseQuestions(s string) ([]domain.QuestionID, error) {
	var qs []domain.QuestionID
	for part := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(part)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("answer set questions %q: not a list of question IDs", s)
		}
		qs = append(qs, domain.QuestionID(n))
	}
	return qs, nil
}

func (q *Queries) GetRegistration(ctx context.Context, id domain.UserID) (domain.Registration, error) {
	r, err := q.getRegistration(ctx, q.r, id)
	if err != nil {
		return domain.Registration{}, q.fail("get registration", err)
	}
	return r, nil
}

func (q *Queries) getRegistration(ctx context.Context, db DB, id domain.UserID) (domain.Registration, error) {
	var (
		r     domain.Registration
		found bool
	)
	err := each(ctx, db, func(rows Rows) error {
		var (
			uid string
			a   answerRow
		)
		if err := rows.Scan(append([]any{&uid, &r.Email, &r.FailedAttempts, timeDest{&r.LockedOutAt},
			timeDest{&r.RegisteredAt}}, a.dests()...)...); err != nil {
			return err
		}
		found, r.UserID = true, domain.UserID(uid)
		return a.add(&r.Answers, &r.Sets)
	}, answersQuery(`p.user_id, p.email, p.failed_attempts, p.locked_out_at, p.registered_at`,
		"registrations", "registration_answers", "registration_answer_sets"), string(id))
	if err != nil {
		return domain.Registration{}, err
	}
	if !found {
		return domain.Registration{}, domain.ErrNotFound
	}
	return r, nil
}

// RecordFailedAttempt counts in one conditional UPDATE, so concurrent
// kiosks cannot lose an attempt nor count past limit, and sets the
// lock-out time only the first time the count reaches limit. An attempt
// past the limit is refused with ErrLockedOut and counts nothing.
func (q *Queries) RecordFailedAttempt(ctx context.Context, id domain.UserID, limit int, now time.Time) (domain.Registration, error) {
	if now.IsZero() {
		return domain.Registration{}, errors.New("record failed attempt: time is required")
	}
	var r domain.Registration
	err := q.inTx(ctx, func(tq *Queries) error {
		n, err := tq.w.Exec(ctx, `
			UPDATE registrations SET
				failed_attempts = failed_attempts + 1, challenge = '',
				locked_out_at = CASE WHEN failed_attempts + 1 >= $2 AND locked_out_at IS NULL
					THEN $3 ELSE locked_out_at END
			WHERE user_id = $1 AND failed_attempts < $2 AND locked_out_at IS NULL`,
			string(id), limit, tq.timeArg(now))
		if err != nil {
			return err
		}
		// Same transaction: a row the UPDATE changed stays locked until commit.
		r, err = tq.getRegistration(ctx, tq.w, id)
		if err == nil && n == 0 {
			return domain.ErrLockedOut
		}
		return err
	})
	if errors.Is(err, domain.ErrLockedOut) {
		return r, fmt.Errorf("record failed attempt: %w", err)
	}
	if err != nil {
		return domain.Registration{}, q.fail("record failed attempt", err)
	}
	return r, nil
}

func (q *Queries) ResetFailedAttempts(ctx context.Context, id domain.UserID) error {
	err := affected(q.w.Exec(ctx, `
		UPDATE registrations SET failed_attempts = 0, locked_out_at = NULL, challenge = '' WHERE user_id = $1`, string(id)))
	if err != nil {
		return q.fail("reset failed attempts", err)
	}
	return nil
}

// DrawChallenge keeps the first draw: one UPDATE sets the challenge only
// while none is stored, and returns what is stored.
func (q *Queries) DrawChallenge(ctx context.Context, id domain.UserID, proposed []domain.QuestionID) ([]domain.QuestionID, error) {
	if len(proposed) == 0 {
		return nil, errors.New("draw challenge: no questions")
	}
	ids := make([]string, len(proposed))
	for i, p := range proposed {
		ids[i] = strconv.Itoa(int(p))
	}
	var stored string
	err := q.w.QueryRow(ctx, `
		UPDATE registrations SET challenge = CASE WHEN challenge = '' THEN $2 ELSE challenge END
		WHERE user_id = $1 RETURNING challenge`, string(id), strings.Join(ids, ",")).Scan(&stored)
	if err != nil {
		return nil, q.fail("draw challenge", err)
	}
	var out []domain.QuestionID
	for _, f := range strings.Split(stored, ",") {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("draw challenge: stored challenge %q is malformed", stored)
		}
		out = append(out, domain.QuestionID(n))
	}
	return out, nil
}

// PassChallenge clears the count and the challenge only while the user is
// not locked out, in one UPDATE, so right answers cannot undo a lock-out
// that another kiosk set meanwhile.
func (q *Queries) PassChallenge(ctx context.Context, id domain.UserID) error {
	n, err := q.w.Exec(ctx, `
		UPDATE registrations SET failed_attempts = 0, challenge = ''
		WHERE user_id = $1 AND locked_out_at IS NULL`, string(id))
	if err != nil {
		return q.fail("pass challenge", err)
	}
	if n == 1 {
		return nil
	}
	if _, err := q.getRegistration(ctx, q.w, id); err != nil {
		return q.fail("pass challenge", err)
	}
	return fmt.Errorf("pass challenge: %w", domain.ErrLockedOut)
}

func (q *Queries) PutPendingRegistration(ctx context.Context, p domain.PendingRegistration) error {
	err := q.inTx(ctx, func(tq *Queries) error {
		if _, err := tq.w.Exec(ctx, `
			INSERT INTO pending_registrations (user_id, email, created_at) VALUES ($1, $2, $3)
			ON CONFLICT (user_id) DO UPDATE SET email = excluded.email, created_at = excluded.created_at`,
			string(p.UserID), p.Email, tq.timeArg(p.CreatedAt)); err != nil {
			return err
		}
		return tq.putAnswers(ctx, "pending_registration_answers", "pending_registration_answer_sets", p.UserID, p.Answers, p.Sets)
	})
	if err != nil {
		return q.fail("put pending registration", err)
	}
	return nil
}

func (q *Queries) GetPendingRegistration(ctx context.Context, id domain.UserID) (domain.PendingRegistration, error) {
	var (
		p     domain.PendingRegistration
		found bool
	)
	err := each(ctx, q.r, func(rows Rows) error {
		var (
			uid string
			a   answerRow
		)
		if err := rows.Scan(append([]any{&uid, &p.Email, timeDest{&p.CreatedAt}}, a.dests()...)...); err != nil {
			return err
		}
		found, p.UserID = true, domain.UserID(uid)
		return a.add(&p.Answers, &p.Sets)
	}, answersQuery(`p.user_id, p.email, p.created_at`, "pending_registrations",
		"pending_registration_answers", "pending_registration_answer_sets"), string(id))
	if err == nil && !found {
		err = domain.ErrNotFound
	}
	if err != nil {
		return domain.PendingRegistration{}, q.fail("get pending registration", err)
	}
	return p, nil
}

// DeletePendingRegistration removes it with its answers; ErrNotFound if none.
func (q *Queries) DeletePendingRegistration(ctx context.Context, id domain.UserID) error {
	err := affected(q.w.Exec(ctx, `DELETE FROM pending_registrations WHERE user_id = $1`, string(id)))
	if err != nil {
		return q.fail("delete pending registration", err)
	}
	return nil
}

package sqlstore

import (
	"context"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
)

const auditCols = `id, at, action, outcome, actor_id, subject_id, card_serial, role, terminal, detail`

// AppendAudit writes one event; a zero At is taken as now.
func (q *Queries) AppendAudit(ctx context.Context, e domain.AuditEvent) (domain.AuditEvent, error) {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	e.At = NormTime(e.At)
	err := q.w.QueryRow(ctx, `
		INSERT INTO audit_events (at, action, outcome, actor_id, subject_id, card_serial, role, terminal, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		q.timeArg(e.At), string(e.Action), string(e.Outcome), string(e.ActorID), string(e.SubjectID),
		string(e.CardSerial), e.Role, e.Terminal, e.Detail).Scan(&e.ID)
	if err != nil {
		return domain.AuditEvent{}, q.fail("append audit", err)
	}
	return e, nil
}

// ListAudit returns matching events, newest first; Limit 0 means all.
func (q *Queries) ListAudit(ctx context.Context, f domain.AuditFilter) ([]domain.AuditEvent, error) {
	query := `SELECT ` + auditCols + ` FROM audit_events
		WHERE ($1 = '' OR subject_id = $1) AND ($2 = '' OR card_serial = $2) AND ($3 = '' OR action = $3)
		ORDER BY id DESC`
	args := []any{string(f.SubjectID), string(f.CardSerial), string(f.Action)}
	if f.Limit > 0 {
		query += ` LIMIT $4`
		args = append(args, f.Limit)
	}
	var out []domain.AuditEvent
	err := each(ctx, q.r, func(rows Rows) error {
		var (
			e                                       domain.AuditEvent
			action, outcome, actor, subject, serial string
		)
		if err := rows.Scan(&e.ID, timeDest{&e.At}, &action, &outcome, &actor, &subject, &serial,
			&e.Role, &e.Terminal, &e.Detail); err != nil {
			return err
		}
		e.Action, e.Outcome = domain.AuditAction(action), domain.AuditOutcome(outcome)
		e.ActorID, e.SubjectID, e.CardSerial = domain.UserID(actor), domain.UserID(subject), domain.CardSerial(serial)
		out = append(out, e)
		return nil
	}, query, args...)
	if err != nil {
		return nil, q.fail("list audit", err)
	}
	return out, nil
}

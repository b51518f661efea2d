package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
)

const cardWriteCols = `id, op, card_serial, subject_id, actor_id, role, visit, terminal, started_at, settled_at, outcome, detail`

func scanCardWrite(row Row) (domain.CardWriteIntent, error) {
	var (
		w                               domain.CardWriteIntent
		op, serial, subject, actor, out string
	)
	err := row.Scan(&w.ID, &op, &serial, &subject, &actor, &w.Role, &w.Visit, &w.Terminal,
		timeDest{&w.StartedAt}, timeDest{&w.SettledAt}, textDest{&out}, &w.Detail)
	w.Op, w.Serial, w.SubjectID, w.ActorID = domain.CardWriteOp(op), domain.CardSerial(serial), domain.UserID(subject), domain.UserID(actor)
	w.Outcome = domain.AuditOutcome(out)
	return w, err
}

// BeginCardWrite stores an open intent; what settles it is ignored.
func (q *Queries) BeginCardWrite(ctx context.Context, w domain.CardWriteIntent) error {
	if w.ID == "" || w.Op == "" || w.Serial == "" || w.StartedAt.IsZero() {
		return errors.New("begin card write: ID, operation, card and start time are required")
	}
	_, err := q.w.Exec(ctx, `
		INSERT INTO card_writes (id, op, card_serial, subject_id, actor_id, role, visit, terminal, started_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		w.ID, string(w.Op), string(w.Serial), string(w.SubjectID), string(w.ActorID), w.Role, w.Visit, w.Terminal,
		q.timeArg(w.StartedAt))
	if err != nil {
		return q.fail("begin card write", err)
	}
	return nil
}

// SettleCardWrite is one conditional UPDATE, so of two writers settling
// one intent (a replay and the card's own state, or two kiosks) exactly
// one succeeds; the other gets ErrConflict.
func (q *Queries) SettleCardWrite(ctx context.Context, id string, outcome domain.AuditOutcome, detail string, at time.Time) error {
	if outcome != domain.OutcomeSuccess && outcome != domain.OutcomeFailure {
		return fmt.Errorf("settle card write: outcome %q is neither success nor failure", outcome)
	}
	if at.IsZero() {
		return errors.New("settle card write: time is required")
	}
	n, err := q.w.Exec(ctx, `UPDATE card_writes SET settled_at = $2, outcome = $3, detail = $4
		WHERE id = $1 AND settled_at IS NULL`, id, q.timeArg(at), string(outcome), detail)
	if err != nil {
		return q.fail("settle card write", err)
	}
	if n == 1 {
		return nil
	}
	var one int
	if err := q.w.QueryRow(ctx, `SELECT 1 FROM card_writes WHERE id = $1`, id).Scan(&one); err != nil {
		return q.fail("settle card write", err)
	}
	return q.fail("settle card write", fmt.Errorf("%w: intent %s is settled already", domain.ErrConflict, id))
}

func (q *Queries) GetCardWrite(ctx context.Context, id string) (domain.CardWriteIntent, error) {
	w, err := scanCardWrite(q.r.QueryRow(ctx, `SELECT `+cardWriteCols+` FROM card_writes WHERE id = $1`, id))
	if err != nil {
		return domain.CardWriteIntent{}, q.fail("get card write", err)
	}
	return w, nil
}

// OpenCardWrites lists unsettled intents, oldest first.
func (q *Queries) OpenCardWrites(ctx context.Context, serial domain.CardSerial) ([]domain.CardWriteIntent, error) {
	var out []domain.CardWriteIntent
	err := each(ctx, q.r, func(rows Rows) error {
		w, err := scanCardWrite(rows)
		if err == nil {
			out = append(out, w)
		}
		return err
	}, `SELECT `+cardWriteCols+` FROM card_writes WHERE settled_at IS NULL AND ($1 = '' OR card_serial = $1)
		ORDER BY started_at, id`, string(serial))
	if err != nil {
		return nil, q.fail("list open card writes", err)
	}
	return out, nil
}

// PutPendingSecrets stores sealed secrets under the write that is about
// to give them to the card; the write must be stored first.
func (q *Queries) PutPendingSecrets(ctx context.Context, writeID string, s domain.CardSecrets) error {
	_, err := q.w.Exec(ctx, `
		INSERT INTO pending_card_secrets (write_id, serial, sealed_puk, mgmt_key_alg, sealed_mgmt_key, kek_fingerprint, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		writeID, string(s.Serial), blobArg(s.SealedPUK), s.MgmtKeyAlg, blobArg(s.SealedMgmtKey),
		s.KEKFingerprint, q.timeArg(s.UpdatedAt))
	if err != nil {
		return q.fail("put pending secrets", err)
	}
	return nil
}

// PendingSecrets lists the card's pending secrets, newest first.
func (q *Queries) PendingSecrets(ctx context.Context, serial domain.CardSerial) ([]domain.CardSecrets, error) {
	var out []domain.CardSecrets
	err := each(ctx, q.r, func(rows Rows) error {
		var (
			s   domain.CardSecrets
			ser string
		)
		err := rows.Scan(&ser, bytesDest{&s.SealedPUK}, &s.MgmtKeyAlg, bytesDest{&s.SealedMgmtKey},
			&s.KEKFingerprint, timeDest{&s.UpdatedAt})
		s.Serial = domain.CardSerial(ser)
		out = append(out, s)
		return err
	}, `SELECT serial, sealed_puk, mgmt_key_alg, sealed_mgmt_key, kek_fingerprint, updated_at
		FROM pending_card_secrets WHERE serial = $1 ORDER BY seq DESC`, string(serial))
	if err != nil {
		return nil, q.fail("list pending secrets", err)
	}
	return out, nil
}

// AdoptPendingSecrets copies the write's pending secrets over the card's
// and clears every pending set of that card, in one transaction.
func (q *Queries) AdoptPendingSecrets(ctx context.Context, writeID string) error {
	err := q.inTx(ctx, func(tq *Queries) error {
		var serial string
		if err := tq.w.QueryRow(ctx, `SELECT serial FROM pending_card_secrets WHERE write_id = $1`, writeID).Scan(&serial); err != nil {
			return err
		}
		if err := affected(tq.w.Exec(ctx, `
			INSERT INTO card_secrets (serial, sealed_puk, mgmt_key_alg, sealed_mgmt_key, kek_fingerprint, updated_at)
			SELECT serial, sealed_puk, mgmt_key_alg, sealed_mgmt_key, kek_fingerprint, updated_at
			FROM pending_card_secrets WHERE write_id = $1
			ON CONFLICT (serial) DO UPDATE SET
				sealed_puk = excluded.sealed_puk, mgmt_key_alg = excluded.mgmt_key_alg,
				sealed_mgmt_key = excluded.sealed_mgmt_key,
				kek_fingerprint = excluded.kek_fingerprint, updated_at = excluded.updated_at`, writeID)); err != nil {
			return err
		}
		_, err := tq.w.Exec(ctx, `DELETE FROM pending_card_secrets WHERE serial = $1`, serial)
		return err
	})
	if err != nil {
		return q.fail("adopt pending secrets", err)
	}
	return nil
}

package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
)

const cardCols = `serial, user_id, card_type, issued_at, cert_expiry, cancelled_at,
	cancel_reason, renewals_since_operator, card_auth_cert, piv_auth_cert, needs_repair`

func scanCard(row Row) (domain.Smartcard, error) {
	var (
		c           domain.Smartcard
		serial, uid string
	)
	err := row.Scan(&serial, &uid, &c.Type, timeDest{&c.IssuedAt}, timeDest{&c.CertExpiry},
		timeDest{&c.CancelledAt}, &c.CancelReason, &c.RenewalsSinceOperator, bytesDest{&c.CardAuthCert},
		bytesDest{&c.PIVAuthCert}, &c.NeedsRepair)
	c.Serial, c.UserID = domain.CardSerial(serial), domain.UserID(uid)
	return c, err
}

func (q *Queries) PutSmartcard(ctx context.Context, c domain.Smartcard) error {
	_, err := q.w.Exec(ctx, `
		INSERT INTO smartcards (`+cardCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (serial) DO UPDATE SET
			user_id = excluded.user_id, card_type = excluded.card_type,
			issued_at = excluded.issued_at, cert_expiry = excluded.cert_expiry,
			cancelled_at = excluded.cancelled_at, cancel_reason = excluded.cancel_reason,
			renewals_since_operator = excluded.renewals_since_operator,
			card_auth_cert = excluded.card_auth_cert, piv_auth_cert = excluded.piv_auth_cert,
			needs_repair = excluded.needs_repair`,
		string(c.Serial), string(c.UserID), c.Type, q.timeArg(c.IssuedAt), q.timeArg(c.CertExpiry),
		q.timeArg(c.CancelledAt), c.CancelReason, c.RenewalsSinceOperator, blobArg(c.CardAuthCert),
		blobArg(c.PIVAuthCert), c.NeedsRepair)
	if err != nil {
		return q.fail("put smartcard", err)
	}
	return nil
}

func (q *Queries) GetSmartcard(ctx context.Context, serial domain.CardSerial) (domain.Smartcard, error) {
	c, err := scanCard(q.r.QueryRow(ctx, `SELECT `+cardCols+` FROM smartcards WHERE serial = $1`, string(serial)))
	if err != nil {
		return domain.Smartcard{}, q.fail("get smartcard", err)
	}
	return c, nil
}

// ListSmartcards lists the user's cards, oldest issue first.
func (q *Queries) ListSmartcards(ctx context.Context, id domain.UserID) ([]domain.Smartcard, error) {
	var out []domain.Smartcard
	err := each(ctx, q.r, func(rows Rows) error {
		c, err := scanCard(rows)
		if err == nil {
			out = append(out, c)
		}
		return err
	}, `SELECT `+cardCols+` FROM smartcards WHERE user_id = $1
		ORDER BY issued_at NULLS LAST, serial`, string(id))
	if err != nil {
		return nil, q.fail("list smartcards", err)
	}
	return out, nil
}

func (q *Queries) PutCardSecrets(ctx context.Context, s domain.CardSecrets) error {
	_, err := q.w.Exec(ctx, `
		INSERT INTO card_secrets (serial, sealed_puk, mgmt_key_alg, sealed_mgmt_key, kek_fingerprint, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (serial) DO UPDATE SET
			sealed_puk = excluded.sealed_puk, mgmt_key_alg = excluded.mgmt_key_alg,
			sealed_mgmt_key = excluded.sealed_mgmt_key,
			kek_fingerprint = excluded.kek_fingerprint, updated_at = excluded.updated_at`,
		string(s.Serial), blobArg(s.SealedPUK), s.MgmtKeyAlg, blobArg(s.SealedMgmtKey),
		s.KEKFingerprint, q.timeArg(s.UpdatedAt))
	if err != nil {
		return q.fail("put card secrets", err)
	}
	return nil
}

func (q *Queries) GetCardSecrets(ctx context.Context, serial domain.CardSerial) (domain.CardSecrets, error) {
	var (
		s   domain.CardSecrets
		ser string
	)
	err := q.r.QueryRow(ctx, `
		SELECT serial, sealed_puk, mgmt_key_alg, sealed_mgmt_key, kek_fingerprint, updated_at
		FROM card_secrets WHERE serial = $1`, string(serial)).
		Scan(&ser, bytesDest{&s.SealedPUK}, &s.MgmtKeyAlg, bytesDest{&s.SealedMgmtKey},
			&s.KEKFingerprint, timeDest{&s.UpdatedAt})
	if err != nil {
		return domain.CardSecrets{}, q.fail("get card secrets", err)
	}
	s.Serial = domain.CardSerial(ser)
	return s, nil
}

// RecordRenewal updates only what a renewal changes, and only on an active
// card, so a cancellation made meanwhile is never undone.
func (q *Queries) RecordRenewal(ctx context.Context, serial domain.CardSerial, r domain.RenewalRecord) error {
	n, err := q.w.Exec(ctx, `
		UPDATE smartcards SET cert_expiry = $2, card_auth_cert = $3, piv_auth_cert = $4,
			renewals_since_operator = CASE WHEN $5 THEN 0 ELSE renewals_since_operator + 1 END,
			needs_repair = false
		WHERE serial = $1 AND cancelled_at IS NULL`,
		string(serial), q.timeArg(r.CertExpiry), blobArg(r.CardAuthCert), blobArg(r.PIVAuthCert), r.Operator)
	if err != nil {
		return q.fail("record renewal", err)
	}
	if n == 1 {
		return nil
	}
	if _, err := q.GetSmartcard(ctx, serial); err != nil {
		return q.fail("record renewal", err)
	}
	return fmt.Errorf("record renewal: %w", domain.ErrCardCancelled)
}

func (q *Queries) MarkNeedsRepair(ctx context.Context, serial domain.CardSerial) error {
	if err := affected(q.w.Exec(ctx, `UPDATE smartcards SET needs_repair = true WHERE serial = $1`, string(serial))); err != nil {
		return q.fail("mark card for repair", err)
	}
	return nil
}

// CancelSmartcard is one conditional UPDATE, so a cancellation is never
// overwritten, even by a second operator cancelling at the same time.
func (q *Queries) CancelSmartcard(ctx context.Context, serial domain.CardSerial, at time.Time, reason string) error {
	if at.IsZero() || reason == "" {
		return errors.New("cancel smartcard: time and reason are required")
	}
	n, err := q.w.Exec(ctx, `UPDATE smartcards SET cancelled_at = $2, cancel_reason = $3
		WHERE serial = $1 AND cancelled_at IS NULL`, string(serial), q.timeArg(at), reason)
	if err != nil {
		return q.fail("cancel smartcard", err)
	}
	if n == 1 {
		return nil
	}
	if _, err := q.GetSmartcard(ctx, serial); err != nil {
		return q.fail("cancel smartcard", err)
	}
	return fmt.Errorf("cancel smartcard: %w", domain.ErrCardCancelled)
}

func (q *Queries) KEKFingerprints(ctx context.Context) ([]string, error) {
	var out []string
	err := each(ctx, q.r, func(rows Rows) error {
		var fp string
		err := rows.Scan(&fp)
		out = append(out, fp)
		return err
	}, `SELECT kek_fingerprint FROM card_secrets UNION SELECT kek_fingerprint FROM pending_card_secrets
		ORDER BY kek_fingerprint`)
	if err != nil {
		return nil, q.fail("list key fingerprints", err)
	}
	return out, nil
}

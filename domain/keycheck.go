package domain

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"strings"
)

// ErrWrongKEK means the kiosk's key-encryption key is not the one the
// store's card secrets were sealed with, or not the one that chains its
// audit trail: every unlock would fail at its last step.
var ErrWrongKEK = errors.New("the key-encryption key does not match the database")

// KeyCheckStore is what CheckKEK reads.
type KeyCheckStore interface {
	KEKFingerprints(ctx context.Context) ([]string, error)
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditEvent, error)
}

// CheckKEK tells at start-up whether the kiosk holds the right key: every
// stored card secret must have been sealed under fingerprint, and the
// newest audit row must link to the one before under chain. An empty
// store passes.
func CheckKEK(ctx context.Context, s KeyCheckStore, fingerprint string, chain AuditChain) error {
	fps, err := s.KEKFingerprints(ctx)
	if err != nil {
		return fmt.Errorf("check key: %w", err)
	}
	var others []string
	for _, fp := range fps {
		if fp != fingerprint {
			others = append(others, fp)
		}
	}
	if len(others) > 0 {
		return fmt.Errorf("%w: card secrets were sealed with key %s, this kiosk has key %s (check --kek-file)",
			ErrWrongKEK, strings.Join(others, ", "), fingerprint)
	}
	last, err := s.ListAudit(ctx, AuditFilter{Limit: 2})
	if err != nil {
		return fmt.Errorf("check key: %w", err)
	}
	if len(last) == 0 || last[0].MAC == nil {
		return nil
	}
	var prev []byte
	if len(last) == 2 {
		prev = last[1].MAC
	}
	if !hmac.Equal(chain.AuditMAC(prev, last[0]), last[0].MAC) {
		return fmt.Errorf("%w: the audit trail's newest row (%d) was not written with this kiosk's key %s (check --kek-file, then run kiosk audit verify)",
			ErrWrongKEK, last[0].ID, fingerprint)
	}
	return nil
}

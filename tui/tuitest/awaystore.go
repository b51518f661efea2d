package tuitest

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/smartcard-service-centre/kiosk/domain"
)

// AwayStore is the store as a service sees it, which a test can take
// away as a database failing over is: while Down, Ping and card look-ups
// fail with domain.ErrStoreUnavailable, as the stores report a connection
// refused. Refused counts the calls refused so.
type AwayStore struct {
	domain.Store
	Down    atomic.Bool
	Refused atomic.Int64
}

// Away is the error a call meets now: nil while the store is up.
func (a *AwayStore) Away() error {
	if !a.Down.Load() {
		return nil
	}
	a.Refused.Add(1)
	return fmt.Errorf("%w: dial tcp 192.0.2.7:5432: connect: connection refused", domain.ErrStoreUnavailable)
}

func (a *AwayStore) Ping(ctx context.Context) error {
	if err := a.Away(); err != nil {
		return err
	}
	return a.Store.Ping(ctx)
}

func (a *AwayStore) GetSmartcard(ctx context.Context, s domain.CardSerial) (domain.Smartcard, error) {
	if err := a.Away(); err != nil {
		return domain.Smartcard{}, err
	}
	return a.Store.GetSmartcard(ctx, s)
}

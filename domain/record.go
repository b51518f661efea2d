package domain

import (
	"context"
	"time"
)

// RecordTimeout bounds writing down what already happened (an audit row,
// a card write's outcome).
const RecordTimeout = 10 * time.Second

// RecordContext is for writing down what already happened: it outlives
// ctx (a pulled card or a screen that gave up waiting must not lose the
// record) but not for long.
func RecordContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), RecordTimeout)
}

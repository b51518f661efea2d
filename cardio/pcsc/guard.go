package pcsc

import (
	"context"
	"fmt"
	"time"
)

// callTimeout caps a single PC/SC call so a hung service cannot hang the
// kiosk even when the caller's context has no deadline. It is generous
// because on-card key generation takes seconds on real cards.
const callTimeout = 2 * time.Minute

// guard runs f, a blocking PC/SC call, in its own goroutine and stops
// waiting when ctx ends or callTimeout passes. A C call cannot be
// interrupted, so when guard gives up, onAbandon runs at once (mark the
// handle unusable) and cleanup runs with f's result whenever f returns
// (release what it produced). Either hook may be nil.
func guard[T any](ctx context.Context, op string, f func() (T, error), onAbandon func(), cleanup func(T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		// Not started: nothing to abandon.
		return zero, fmt.Errorf("pcsc: %s: %w", op, err)
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := f()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, mapErr(op, r.err)
	case <-ctx.Done():
		if onAbandon != nil {
			onAbandon()
		}
		go func() {
			r := <-done
			if cleanup != nil {
				cleanup(r.v, r.err)
			}
		}()
		return zero, fmt.Errorf("pcsc: %s: no answer from the PC/SC service: %w", op, ctx.Err())
	}
}

// guardErr is guard for calls that return only an error.
func guardErr(ctx context.Context, op string, f func() error, onAbandon func(), cleanup func()) error {
	_, err := guard(ctx, op, func() (struct{}, error) { return struct{}{}, f() }, onAbandon,
		func(struct{}, error) {
			if cleanup != nil {
				cleanup()
			}
		})
	return err
}

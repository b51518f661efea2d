package tui

import "time"

// WithTimings shortens the call timeout and the reader retry for tests;
// 0 keeps the default.
func WithTimings(callTimeout, readerRetry time.Duration) func(*Options) {
	return func(o *Options) {
		o.callTimeout, o.readerRetry = callTimeout, readerRetry
	}
}

// WithDeliveryPoll makes the code screen ask how far the code's email has
// got every d.
func WithDeliveryPoll(d time.Duration) func(*Options) {
	return func(o *Options) { o.deliveryPoll = d }
}

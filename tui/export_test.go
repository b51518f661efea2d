package tui

import "time"

// WithTimings shortens the call timeout and the reader retry for tests;
// 0 keeps the default.
func WithTimings(callTimeout, readerRetry time.Duration) func(*Options) {
	return func(o *Options) {
		o.callTimeout, o.readerRetry = callTimeout, readerRetry
	}
}

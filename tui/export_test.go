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

// WithOutageTimings makes the kiosk ask the store every pingEvery (every
// pingAway while it is away), and wait retryBase before the first try
// again of a call the store did not answer; 0 keeps the default.
func WithOutageTimings(pingEvery, pingAway, retryBase time.Duration) func(*Options) {
	return func(o *Options) {
		o.pingEvery, o.pingAway, o.retryBase = pingEvery, pingAway, retryBase
	}
}

package operator

import "time"

// WithOutageTimings makes the terminal ask the store every pingEvery
// (every pingAway while it is away), and wait retryBase before the first
// try again of a call the store did not answer; 0 keeps the default.
func WithOutageTimings(pingEvery, pingAway, retryBase time.Duration) func(*Options) {
	return func(o *Options) {
		o.pingEvery, o.pingAway, o.retryBase = pingEvery, pingAway, retryBase
	}
}

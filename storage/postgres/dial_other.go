//go:build !linux

package postgres

import "syscall"

// controlSocket: TCP_USER_TIMEOUT is Linux's; elsewhere keepalive alone
// finds a dead server.
func controlSocket(string, string, syscall.RawConn) error { return nil }

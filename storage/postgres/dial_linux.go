package postgres

import (
	"strings"
	"syscall"
)

// tcpUserTimeoutOpt is TCP_USER_TIMEOUT (linux/tcp.h), which the syscall
// package does not name.
const tcpUserTimeoutOpt = 0x12

// controlSocket sets TCP_USER_TIMEOUT on a TCP connection before it
// connects: data the server leaves unacknowledged that long (its host
// gone, the network split) closes the connection, where the kernel would
// otherwise retransmit for about 15 minutes. Unix sockets need nothing.
func controlSocket(network, _ string, c syscall.RawConn) error {
	if !strings.HasPrefix(network, "tcp") {
		return nil
	}
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, tcpUserTimeoutOpt, int(tcpUserTimeout.Milliseconds()))
	}); err != nil {
		return err
	}
	return serr
}

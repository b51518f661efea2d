package vpcd

import (
	"net"
	"syscall"
)

// quickAck makes the kernel acknowledge the next segments at once. vpcd
// sends a message's length and body in two writes without TCP_NODELAY, so
// Nagle holds the body until the length is acknowledged; with Linux's
// delayed ACK that costs about 40 ms per command. TCP_QUICKACK is not
// sticky, hence it is set before every read.
func quickAck(c net.Conn) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
}

package store

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// userTimeout makes the kernel give up on a connection whose sent data
// stays unacknowledged for 5 s. A PostgreSQL that vanished without a reset
// (its pod deleted, its address gone) otherwise holds a query for the
// kernel's retransmission time, many minutes: with it the query fails and
// the request is answered 503 while the database comes back.
func userTimeout(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, 5000) // #nosec G115 -- a file descriptor
	})
	if err != nil {
		return err
	}
	return serr
}

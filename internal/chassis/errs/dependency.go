package errs

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
)

// storageDown is what a client sees while the service's own database (or
// Redis) cannot be reached: a 503 to retry, marked as an upstream fault so
// that the gateway does not blame this instance (every instance shares the
// database), and no address or driver message.
func storageDown(cause error) *Error {
	return &Error{Code: Unavailable, Message: "the service's storage is unavailable; please retry shortly",
		Cause: cause, Upstream: true, RetryAfter: 1}
}

// dependencyDown reports whether err shows a database or cache connection
// failing (refused, reset, closed, or the server shutting down or starting
// up) rather than a fault of the request or the code.
func dependencyDown(err error) bool {
	if err == nil {
		return false
	}
	var op *net.OpError
	// A query still waiting when its request's time ran out was waiting on
	// the database (a connection to a server that vanished is silent until
	// TCP_USER_TIMEOUT): a 503 to retry, not a fault of the code.
	if errors.As(err, &op) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	// PostgreSQL's classes 08 (connection exception) and 57 (operator
	// intervention: shutting down, starting up, terminated by an admin),
	// asked through the driver's error interface so that errs needs no driver.
	var state interface{ SQLState() string }
	if errors.As(err, &state) {
		c := state.SQLState()
		return strings.HasPrefix(c, "08") || strings.HasPrefix(c, "57") && c != "57014"
	}
	return strings.Contains(err.Error(), "conn closed")
}

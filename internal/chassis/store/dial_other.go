//go:build !linux

package store

import "syscall"

// userTimeout is Linux's TCP_USER_TIMEOUT (dial_linux.go); elsewhere the
// connection keeps the system's defaults.
func userTimeout(_, _ string, _ syscall.RawConn) error { return nil }

//go:build unix

package notify

import (
	"os"
	"syscall"
)

// lockFile holds f against other processes (another instance sharing the
// data folder) until unlockFile.
func lockFile(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_EX) } // #nosec G115 -- a file descriptor fits an int

func unlockFile(f *os.File) { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) } // #nosec G115 -- as above

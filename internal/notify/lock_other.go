//go:build !unix

package notify

import "os"

// Without flock, one process at a time writes a data folder's mailbox.
func lockFile(*os.File) error { return nil }

func unlockFile(*os.File) {}

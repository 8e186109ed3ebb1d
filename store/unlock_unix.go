//go:build unix

package store

import (
	"os"
	"syscall"
)

// releaseLock drops bbolt's lock on a file it opened before panicking.
// Closing the file is not enough: bbolt's mapping of it keeps the open
// file, and so the lock, alive.
func releaseLock(f *os.File) {
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	f.Close()
}

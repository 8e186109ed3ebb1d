//go:build unix

package main

import (
	"os"
	"syscall"
)

// lockDir takes an exclusive lock on the directory dir, waiting for
// another process that holds it, and returns its release. Locking the
// directory leaves no lock file behind.
func lockDir(dir string) (func(), error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

//go:build !unix

package store

import "os"

// releaseLock closes a file bbolt opened before panicking.
func releaseLock(f *os.File) { f.Close() }

package store

import (
	"errors"
	"fmt"
	"strings"
)

// Errors of opening a store, wrapped in a *CorruptError naming the file.
var (
	// ErrInvalid is returned when a file does not start with the magic of
	// its kind.
	ErrInvalid = errors.New("store: bad magic")
	// ErrVersionMismatch is returned when a file was written by a format
	// version this build does not read.
	ErrVersionMismatch = errors.New("store: unsupported format version")
	// ErrChecksum is returned when bytes do not match their CRC-32C.
	ErrChecksum = errors.New("store: checksum mismatch")
	// ErrInconsistent is returned when files that are individually intact
	// disagree: a segment shorter than its committed length, items without
	// codes, codes of another length.
	ErrInconsistent = errors.New("store: inconsistent files")
)

// Errors of using a store.
var (
	// ErrNotStore is returned by Open for a directory without store.db.
	ErrNotStore = errors.New("store: not a store directory (no store.db)")
	// ErrExists is returned by Create for a directory that holds a store.
	ErrExists = errors.New("store: directory already holds a store")
	// ErrNotFound is returned for an id that is not a live item.
	ErrNotFound = errors.New("store: no such item")
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("store: closed")
	// ErrLocked is returned by Open when another process holds the store.
	ErrLocked = errors.New("store: opened by another process")
)

// CorruptError reports damage found in one file of a store.
type CorruptError struct {
	// File is the file's name in the store directory: "000003.seg" or
	// "store.db".
	File string
	// Err is ErrInvalid, ErrVersionMismatch, ErrChecksum or ErrInconsistent.
	Err error
	// Detail says where: "at block 7", "item 42".
	Detail string
}

func (e *CorruptError) Error() string {
	kind := "segment"
	if e.File == dbFile {
		kind = "metadata"
	}
	what := strings.TrimPrefix(e.Err.Error(), "store: ")
	if e.Detail != "" {
		what += " " + e.Detail
	}
	return fmt.Sprintf("store: %s %s: %s", kind, e.File, what)
}

func (e *CorruptError) Unwrap() error { return e.Err }

func corrupt(file string, err error, format string, args ...any) error {
	return &CorruptError{File: file, Err: err, Detail: fmt.Sprintf(format, args...)}
}

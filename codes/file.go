package codes

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
)

// The code file: a 32-byte header, the codes, the labels, and a CRC-32C of
// everything before it.
//
//	offset size
//	0      8    magic "LKCODES\x00"
//	8      4    format version (little endian, as all fields)
//	12     4    bits per code
//	16     8    number of codes n
//	24     4    flags (bit 0: labels present)
//	28     4    reserved, zero
//	32     8*n*words   codes
//	...    4*n         labels (int32), when flagged
//	...    4           CRC-32C (Castagnoli) of all preceding bytes
const (
	Magic   = "LKCODES\x00"
	Version = 1

	headerSize = 32
	flagLabels = 1
	// maxFileCodes bounds the count a header may claim before we allocate.
	maxFileCodes = 1 << 32
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors of reading a code file, checked in this order.
var (
	ErrInvalid         = errors.New("codes: not a code file (bad magic)")
	ErrVersionMismatch = errors.New("codes: unsupported code file version")
	ErrChecksum        = errors.New("codes: checksum mismatch (file is corrupt)")
	ErrTruncated       = errors.New("codes: file is truncated")
)

// Write writes the set, and labels when not nil (one per code), to w.
func Write(w io.Writer, s *Set, labels []int32) error {
	if labels != nil && len(labels) != s.Len() {
		return fmt.Errorf("codes: %d labels for %d codes", len(labels), s.Len())
	}
	crc := crc32.New(castagnoli)
	bw := bufio.NewWriter(io.MultiWriter(w, crc))
	var h [headerSize]byte
	copy(h[:8], Magic)
	binary.LittleEndian.PutUint32(h[8:], Version)
	binary.LittleEndian.PutUint32(h[12:], uint32(s.Bits))
	binary.LittleEndian.PutUint64(h[16:], uint64(s.Len()))
	if labels != nil {
		binary.LittleEndian.PutUint32(h[24:], flagLabels)
	}
	bw.Write(h[:])
	var buf [8]byte
	for _, word := range s.Data {
		binary.LittleEndian.PutUint64(buf[:], word)
		bw.Write(buf[:])
	}
	for _, l := range labels {
		binary.LittleEndian.PutUint32(buf[:4], uint32(l))
		bw.Write(buf[:4])
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("codes: write: %w", err)
	}
	binary.LittleEndian.PutUint32(buf[:4], crc.Sum32())
	if _, err := w.Write(buf[:4]); err != nil {
		return fmt.Errorf("codes: write: %w", err)
	}
	return nil
}

// Read reads a code file written by Write. labels is nil when the file has
// none.
func Read(r io.Reader) (s *Set, labels []int32, err error) {
	crc := crc32.New(castagnoli)
	br := io.TeeReader(bufio.NewReader(r), crc)
	var h [headerSize]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, nil, ErrInvalid
		}
		return nil, nil, fmt.Errorf("codes: read header: %w", err)
	}
	if string(h[:8]) != Magic {
		return nil, nil, ErrInvalid
	}
	if v := binary.LittleEndian.Uint32(h[8:]); v != Version {
		return nil, nil, fmt.Errorf("%w: %d (this build reads %d)", ErrVersionMismatch, v, Version)
	}
	nbits := int(binary.LittleEndian.Uint32(h[12:]))
	if err := CheckBits(nbits); err != nil {
		return nil, nil, fmt.Errorf("%w: header: %v", ErrChecksum, err)
	}
	n := binary.LittleEndian.Uint64(h[16:])
	flags := binary.LittleEndian.Uint32(h[24:])
	if n > maxFileCodes || flags&^flagLabels != 0 {
		return nil, nil, fmt.Errorf("%w: header fields out of range", ErrChecksum)
	}
	s = &Set{Bits: nbits}
	words := int(n) * s.Words()
	// Read in chunks so a lying header fails on EOF before allocating it all.
	buf := make([]byte, 8*min(words, 1<<16))
	s.Data = make([]uint64, 0, min(words, 1<<20))
	for len(s.Data) < words {
		chunk := buf[:8*min(words-len(s.Data), len(buf)/8)]
		if _, err := io.ReadFull(br, chunk); err != nil {
			return nil, nil, ErrTruncated
		}
		for i := 0; i < len(chunk); i += 8 {
			s.Data = append(s.Data, binary.LittleEndian.Uint64(chunk[i:]))
		}
	}
	if flags&flagLabels != 0 {
		labels = make([]int32, 0, min(int(n), 1<<20))
		var b [4]byte
		for range n {
			if _, err := io.ReadFull(br, b[:]); err != nil {
				return nil, nil, ErrTruncated
			}
			labels = append(labels, int32(binary.LittleEndian.Uint32(b[:])))
		}
	}
	want := crc.Sum32()
	var sum [4]byte
	if _, err := io.ReadFull(br, sum[:]); err != nil {
		return nil, nil, ErrTruncated
	}
	if binary.LittleEndian.Uint32(sum[:]) != want {
		return nil, nil, ErrChecksum
	}
	return s, labels, nil
}

// WriteFile writes the set atomically: to a temporary file in the same
// directory, synced, then renamed over path.
func WriteFile(path string, s *Set, labels []int32) error {
	return AtomicWrite(path, func(w io.Writer) error { return Write(w, s, labels) })
}

// ReadFile reads a code file, naming it in errors.
func ReadFile(path string) (*Set, []int32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	s, labels, err := Read(f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, labels, nil
}

// AtomicWrite writes a file through write to a temporary sibling, syncs it
// and renames it over path, so that readers see the old file or the whole
// new one, never a part.
func AtomicWrite(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := write(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename to %s: %w", path, err)
	}
	return nil
}

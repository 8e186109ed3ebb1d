package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// corruptFixture writes a small store: two segments (three adds of two
// items, segments of four), one deleted item, closed.
func corruptFixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	s := mustCreate(t, dir, Options{Bits: 64, SegmentItems: 4})
	for i := uint64(0); i < 3; i++ {
		items := []Item{
			{Code: []uint64{i * 7}, Meta: Meta{Label: 1, Path: "unique-path-" + string(rune('a'+2*i))}},
			{Code: []uint64{i*7 + 1}, Meta: Meta{Label: 2, Path: "unique-path-" + string(rune('b'+2*i))}},
		}
		if _, err := s.Add(items); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(1); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// blockOffset returns where block k of a segment file starts.
func blockOffset(t *testing.T, path string, l layout, k int) int64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	off := int64(segHeaderSize)
	for ; k > 0; k-- {
		off += blockHeader + int64(binary.LittleEndian.Uint32(data[off:]))*int64(l.recordSize())
	}
	return off
}

func flip(t *testing.T, path string, offsets ...int64) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range offsets {
		data[off] ^= 0x5a
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// flipAll flips a byte of every occurrence of s in the file: bbolt's copy
// on write leaves stale copies of pages, and the live one may be any.
func flipAll(t *testing.T, path, s string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var offs []int64
	for i := 0; ; {
		j := bytes.Index(data[i:], []byte(s))
		if j < 0 {
			break
		}
		offs = append(offs, int64(i+j+len(s)-1))
		i += j + 1
	}
	if len(offs) == 0 {
		t.Fatalf("%q is not in %s", s, path)
	}
	flip(t, path, offs...)
}

func TestOpen_Damaged(t *testing.T) {
	l := layout{bits: 64}
	tests := []struct {
		name   string
		file   string
		damage func(t *testing.T, path string)
		want   error
		detail string
	}{
		{"segment magic", "000001.seg", func(t *testing.T, p string) { flip(t, p, 0) }, ErrInvalid, ""},
		{"segment version", "000001.seg", func(t *testing.T, p string) { flip(t, p, 8) }, ErrVersionMismatch, ""},
		{"segment header field", "000001.seg", func(t *testing.T, p string) { flip(t, p, 13) }, ErrChecksum, "in the header"},
		{"both count slots", "000002.seg", func(t *testing.T, p string) { flip(t, p, 40, 72) }, ErrChecksum, "in both count slots"},
		{"block 1 payload", "000001.seg", func(t *testing.T, p string) { flip(t, p, blockOffset(t, p, l, 1)+blockHeader+3) }, ErrChecksum, "at block 1"},
		{"block count", "000001.seg", func(t *testing.T, p string) { flip(t, p, blockOffset(t, p, l, 0)) }, ErrChecksum, "at block 0"},
		{"block checksum", "000002.seg", func(t *testing.T, p string) { flip(t, p, blockOffset(t, p, l, 0)+5) }, ErrChecksum, "at block 0"},
		{"segment cut short", "000001.seg", func(t *testing.T, p string) { os.Truncate(p, blockOffset(t, p, l, 1)+4) }, ErrInconsistent, ""},
		{"segment missing", "000002.seg", func(t *testing.T, p string) { os.Remove(p) }, ErrInconsistent, "missing"},
		{"segment emptied", "000002.seg", func(t *testing.T, p string) { os.Truncate(p, 0) }, ErrInvalid, ""},
		{"item record", dbFile, func(t *testing.T, p string) { flipAll(t, p, "unique-path-c") }, ErrChecksum, "in item 2"},
		{"config", dbFile, func(t *testing.T, p string) { flipAll(t, p, `"lookalike-store"`) }, ErrChecksum, "in the config"},
		{"both meta pages", dbFile, func(t *testing.T, p string) { flip(t, p, 40, int64(os.Getpagesize())+40) }, ErrChecksum, ""},
		{"not a database", dbFile, func(t *testing.T, p string) { os.WriteFile(p, []byte("hello"), 0o644) }, ErrInvalid, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := corruptFixture(t)
			tc.damage(t, filepath.Join(dir, tc.file))
			s, err := Open(dir)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded on a damaged store")
			}
			var ce *CorruptError
			if !errors.As(err, &ce) || ce.File != tc.file || !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want a *CorruptError in %s wrapping %v", err, tc.file, tc.want)
			}
			if !strings.Contains(err.Error(), tc.file) || !strings.Contains(err.Error(), tc.detail) {
				t.Fatalf("message %q does not name %s and %q", err, tc.file, tc.detail)
			}
			t.Log(err)
		})
	}
}

// TestOpen_EveryByteOfASegment flips each byte of a segment in turn: Open
// must refuse the store naming the segment, except for a byte of the
// older count slot, which Open does not need and must ignore.
func TestOpen_EveryByteOfASegment(t *testing.T) {
	dir := corruptFixture(t)
	path := filepath.Join(dir, "000001.seg")
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	newest := int64(32)
	if binary.LittleEndian.Uint64(orig[64:]) > binary.LittleEndian.Uint64(orig[32:]) {
		newest = 64
	}
	older := 96 - newest
	for off := int64(0); off < int64(len(orig)); off++ {
		flip(t, path, off)
		s, err := Open(dir)
		inOlder := off >= older && off < older+slotSize
		switch {
		case err == nil && !inOlder:
			s.Close()
			t.Fatalf("byte %d flipped: Open succeeded", off)
		case err == nil:
			if got := s.Len(); got != 5 {
				t.Fatalf("byte %d of the older slot flipped: %d items, want 5", off, got)
			}
			s.Close()
		case inOlder:
			t.Fatalf("byte %d of the older slot flipped: %v", off, err)
		case !strings.Contains(err.Error(), "000001.seg"):
			t.Fatalf("byte %d flipped: %v does not name the segment", off, err)
		}
		if err := os.WriteFile(path, orig, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestOpen_RandomBytesOfTheDatabase flips random bytes of store.db: Open
// must refuse it naming store.db, or return exactly the items it had (the
// byte was in a free page, or in the older meta page, which bbolt does
// not need). A flip in the newer meta page makes bbolt fall back to the
// older one, as after a crash while writing it: the store is then as
// before its last commit (the fixture's delete of item 1).
func TestOpen_RandomBytesOfTheDatabase(t *testing.T) {
	dir := corruptFixture(t)
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint64]Item{}
	for _, id := range s.IDs() {
		want[id], _ = s.Get(id)
	}
	s.Close()
	path := filepath.Join(dir, dbFile)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Most of a small database is zeros of unused pages: flip the bytes
	// that say something, and page headers.
	var candidates []int64
	for off, b := range orig {
		if b != 0 || off%os.Getpagesize() < 16 {
			candidates = append(candidates, int64(off))
		}
	}
	rng := rand.New(rand.NewPCG(11, 11))
	refused := 0
	for range 300 {
		off := candidates[rng.IntN(len(candidates))]
		flip(t, path, off)
		s, err := Open(dir)
		if err != nil {
			if !strings.Contains(err.Error(), dbFile) {
				t.Fatalf("byte %d flipped: %v does not name %s", off, err, dbFile)
			}
			refused++
		} else {
			ids := s.IDs()
			if int(off) < 2*os.Getpagesize() && len(ids) == len(want)+1 {
				ids = slices.DeleteFunc(ids, func(id uint64) bool { return id == 1 })
			}
			if len(ids) != len(want) {
				t.Fatalf("byte %d flipped: %d items, want %d", off, len(ids), len(want))
			}
			for _, id := range ids {
				it, err := s.Get(id)
				w, ok := want[id]
				if err != nil || !ok || !slices.Equal(it.Code, w.Code) || it.Meta != w.Meta {
					t.Fatalf("byte %d flipped: item %d read as %+v (%v)", off, id, it, err)
				}
			}
			s.Close()
		}
		if err := os.WriteFile(path, orig, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d of 300 flips refused, the rest in bytes Open does not read", refused)
}

package store

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
)

// A segment file: a header, then blocks of records. Little endian
// throughout.
//
//	offset size
//	0      8    magic "LKSEG\x00\x00\x00"
//	8      4    format version
//	12     4    bits per code
//	16     4    descriptor dimension (0: none)
//	20     8    file number (the name's digits)
//	28     4    CRC-32C of bytes 0..28
//	32     32   count slot 0
//	64     32   count slot 1
//	96          blocks
//
// A count slot records how far the file is written: seq (8), count of
// records (8), end offset of the last block (8), reserved (4), and a
// CRC-32C of the slot's first 28 bytes. Appends write the slot that does
// not hold the newest seq, so a torn slot write leaves the other one;
// the valid slot with the higher seq is the file's count. The count is a
// cross-check: store.db holds the committed count and end, and a count
// slot below them means lost data.
//
// A block is count (4), a CRC-32C (4) of the count's bytes and the
// payload, then count records of id (8), the code's words (8 each) and the
// descriptor's float32s (4 each).
const (
	segMagic   = "LKSEG\x00\x00\x00"
	segVersion = 1

	segHeaderSize = 96
	slotSize      = 32
	blockHeader   = 8
	// maxBlockPayload bounds a block, so that a damaged one is found
	// within 64 KiB and a lying count cannot make a reader allocate more.
	maxBlockPayload = 64 << 10
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// layout is the shape of a store's records.
type layout struct {
	bits, dim int
}

func (l layout) words() int      { return (l.bits + 63) / 64 }
func (l layout) recordSize() int { return 8 + 8*l.words() + 4*l.dim }

// blockItems is the most records one block holds.
func (l layout) blockItems() int { return max(1, maxBlockPayload/l.recordSize()) }

// records are items in segment order: ids, codes (words per id) and
// descriptors (dim per id), which segments hold, and the label and
// whether there is a path, which store.db holds and memory keeps so that
// search results need no database read.
type records struct {
	ids    []uint64
	codes  []uint64
	desc   []float32
	labels []int32
	named  []bool
}

func (r *records) len() int { return len(r.ids) }

// segment is one segment file as the store tracks it.
type segment struct {
	file  uint64 // number in the name
	start uint64 // first id of the range it covers: its key in store.db
	count int    // committed records
	end   int64  // committed end offset
	seq   uint64 // newest count slot's seq
	f     *os.File
}

func segName(file uint64) string { return fmt.Sprintf("%06d.seg", file) }

func (s *segment) name() string { return segName(s.file) }

// slot is one count slot.
type slot struct {
	seq, count uint64
	end        int64
}

func encodeSlot(s slot) []byte {
	b := make([]byte, slotSize)
	binary.LittleEndian.PutUint64(b[0:], s.seq)
	binary.LittleEndian.PutUint64(b[8:], s.count)
	binary.LittleEndian.PutUint64(b[16:], uint64(s.end))
	binary.LittleEndian.PutUint32(b[28:], crc32.Checksum(b[:28], castagnoli))
	return b
}

func decodeSlot(b []byte) (slot, bool) {
	if binary.LittleEndian.Uint32(b[28:]) != crc32.Checksum(b[:28], castagnoli) {
		return slot{}, false
	}
	s := slot{seq: binary.LittleEndian.Uint64(b[0:]), count: binary.LittleEndian.Uint64(b[8:]),
		end: int64(binary.LittleEndian.Uint64(b[16:]))}
	return s, s.seq > 0 && s.end >= segHeaderSize
}

func encodeHeader(l layout, file uint64) []byte {
	h := make([]byte, segHeaderSize)
	copy(h, segMagic)
	binary.LittleEndian.PutUint32(h[8:], segVersion)
	binary.LittleEndian.PutUint32(h[12:], uint32(l.bits))
	binary.LittleEndian.PutUint32(h[16:], uint32(l.dim))
	binary.LittleEndian.PutUint64(h[20:], file)
	binary.LittleEndian.PutUint32(h[28:], crc32.Checksum(h[:28], castagnoli))
	copy(h[32+slotSize*(1%2):], encodeSlot(slot{seq: 1, end: segHeaderSize}))
	return h
}

// readHeader validates a segment's header, in the order magic, version,
// checksum, fields, and returns its newest valid count slot.
func readHeader(f *os.File, name string, l layout, file uint64) (slot, error) {
	h := make([]byte, segHeaderSize)
	if _, err := f.ReadAt(h, 0); err != nil {
		if errors.Is(err, io.EOF) {
			return slot{}, corrupt(name, ErrInvalid, "(file shorter than its header)")
		}
		return slot{}, fmt.Errorf("store: read %s: %w", name, err)
	}
	if string(h[:8]) != segMagic {
		return slot{}, corrupt(name, ErrInvalid, "")
	}
	if v := binary.LittleEndian.Uint32(h[8:]); v != segVersion {
		return slot{}, corrupt(name, ErrVersionMismatch, "%d (this build reads %d)", v, segVersion)
	}
	if binary.LittleEndian.Uint32(h[28:]) != crc32.Checksum(h[:28], castagnoli) {
		return slot{}, corrupt(name, ErrChecksum, "in the header")
	}
	bits, dim := int(binary.LittleEndian.Uint32(h[12:])), int(binary.LittleEndian.Uint32(h[16:]))
	if bits != l.bits || dim != l.dim {
		return slot{}, corrupt(name, ErrInconsistent, "(%d bits, %d dimensions; the store has %d, %d)", bits, dim, l.bits, l.dim)
	}
	if n := binary.LittleEndian.Uint64(h[20:]); n != file {
		return slot{}, corrupt(name, ErrInconsistent, "(header says file %d)", n)
	}
	a, okA := decodeSlot(h[32:64])
	b, okB := decodeSlot(h[64:96])
	switch {
	case okA && (!okB || a.seq > b.seq):
		return a, nil
	case okB:
		return b, nil
	}
	return slot{}, corrupt(name, ErrChecksum, "in both count slots")
}

// encodeBlocks appends the records of r as blocks to buf.
func encodeBlocks(buf []byte, l layout, r *records) []byte {
	w, per := l.words(), l.blockItems()
	for lo := 0; lo < r.len(); lo += per {
		hi := min(lo+per, r.len())
		at := len(buf)
		buf = binary.LittleEndian.AppendUint32(buf, uint32(hi-lo))
		buf = append(buf, 0, 0, 0, 0) // the CRC, once the payload is in
		for i := lo; i < hi; i++ {
			buf = binary.LittleEndian.AppendUint64(buf, r.ids[i])
			for _, word := range r.codes[i*w : (i+1)*w] {
				buf = binary.LittleEndian.AppendUint64(buf, word)
			}
			for _, v := range r.desc[i*l.dim : (i+1)*l.dim] {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			}
		}
		crc := crc32.Update(crc32.Checksum(buf[at:at+4], castagnoli), castagnoli, buf[at+blockHeader:])
		binary.LittleEndian.PutUint32(buf[at+4:], crc)
	}
	return buf
}

// readBlocks reads the blocks of [segHeaderSize, end) of a segment,
// checking each checksum, and appends their records to r. Ids must
// increase, from at least from.
func readBlocks(f *os.File, name string, l layout, end int64, from uint64, r *records) (int, error) {
	br := bufio.NewReaderSize(io.NewSectionReader(f, segHeaderSize, end-segHeaderSize), 1<<20)
	w, rs := l.words(), l.recordSize()
	buf := make([]byte, blockHeader+maxBlockPayload)
	n := 0
	for block := 0; ; block++ {
		hdr := buf[:blockHeader]
		if _, err := io.ReadFull(br, hdr); errors.Is(err, io.EOF) {
			return n, nil
		} else if err != nil {
			return n, blockReadError(name, block, err)
		}
		count := int(binary.LittleEndian.Uint32(hdr))
		if count < 1 || count > l.blockItems() {
			return n, corrupt(name, ErrChecksum, "at block %d (count %d)", block, count)
		}
		payload := buf[blockHeader : blockHeader+count*rs]
		if _, err := io.ReadFull(br, payload); err != nil {
			return n, blockReadError(name, block, err)
		}
		crc := crc32.Update(crc32.Checksum(hdr[:4], castagnoli), castagnoli, payload)
		if crc != binary.LittleEndian.Uint32(hdr[4:]) {
			return n, corrupt(name, ErrChecksum, "at block %d", block)
		}
		for i := 0; i < count; i++ {
			rec := payload[i*rs : (i+1)*rs]
			id := binary.LittleEndian.Uint64(rec)
			if id < from || id == math.MaxUint64 {
				return n, corrupt(name, ErrInconsistent, "at block %d: id %d out of order", block, id)
			}
			from = id + 1
			r.ids = append(r.ids, id)
			for j := 0; j < w; j++ {
				r.codes = append(r.codes, binary.LittleEndian.Uint64(rec[8+8*j:]))
			}
			for j := 0; j < l.dim; j++ {
				r.desc = append(r.desc, math.Float32frombits(binary.LittleEndian.Uint32(rec[8+8*w+4*j:])))
			}
			n++
		}
	}
}

// blockReadError reports a failed block read. The reader stops at the
// committed end, which the caller has checked the file reaches, so a
// block running past it has a damaged count.
func blockReadError(name string, block int, err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return corrupt(name, ErrChecksum, "at block %d (it runs past the committed end)", block)
	}
	return fmt.Errorf("store: read %s: %w", name, err)
}

// createSegment writes a new, empty segment file and syncs it and the
// directory: a file the metadata will name must survive a crash.
func createSegment(dir string, l layout, file, start uint64) (*segment, error) {
	s := &segment{file: file, start: start, end: segHeaderSize, seq: 1}
	path := filepath.Join(dir, s.name())
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("store: create %s: %w", s.name(), err)
	}
	_, err = f.Write(encodeHeader(l, file))
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("store: create %s: %w", s.name(), err)
	}
	s.f = f
	return s, nil
}

// appendRecords writes r after the segment's end, then the spare count
// slot, then syncs: on return the records are durable but not committed,
// and the segment's end and count are unchanged until commit says so.
func (s *segment) appendRecords(l layout, r *records) (slot, error) {
	data := encodeBlocks(nil, l, r)
	next := slot{seq: s.seq + 1, count: uint64(s.count + r.len()), end: s.end + int64(len(data))}
	if _, err := s.f.WriteAt(data, s.end); err != nil {
		return slot{}, fmt.Errorf("store: write %s: %w", s.name(), err)
	}
	if err := s.writeSlot(next); err != nil {
		return slot{}, err
	}
	return next, nil
}

// writeSlot writes a count slot into the slot its seq selects and syncs.
func (s *segment) writeSlot(sl slot) error {
	if _, err := s.f.WriteAt(encodeSlot(sl), 32+slotSize*int64(sl.seq%2)); err != nil {
		return fmt.Errorf("store: write %s: %w", s.name(), err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("store: sync %s: %w", s.name(), err)
	}
	return nil
}

// commit records that the metadata now names sl as the segment's state.
func (s *segment) commit(sl slot) {
	s.seq, s.count, s.end = sl.seq, int(sl.count), sl.end
}

// writeSegment writes a whole new segment file holding r.
func writeSegment(dir string, l layout, file, start uint64, r *records) (*segment, error) {
	s, err := createSegment(dir, l, file, start)
	if err != nil {
		return nil, err
	}
	sl, err := s.appendRecords(l, r)
	if err != nil {
		s.f.Close()
		os.Remove(filepath.Join(dir, s.name()))
		return nil, err
	}
	s.commit(sl)
	return s, nil
}

// syncDir syncs a directory, so that files created or removed in it stay
// so after a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

package vector

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

// The HNSW file: a 64-byte header, the vectors, the layers, the links, and
// a CRC-32C of everything before it. All fields are little endian.
//
//	offset size
//	0      8    magic "LKHNSW\x00\x00"
//	8      4    format version
//	12     1    metric (0 ip, 1 cosine, 2 l2)
//	13     3    reserved, zero
//	16     4    dimension
//	20     4    M
//	24     4    efConstruction
//	28     4    efSearch
//	32     8    seed
//	40     8    number of vectors n
//	48     4    entry point
//	52     4    top layer
//	56     8    words of upper-layer links u
//	64     4*n*dim     vectors (float32; unit length under cosine)
//	...    n           each node's top layer
//	...    4*n*(2M+1)  bottom-layer links: count, then 2M slots
//	...    4*u         upper-layer links: per node with layers, per
//	                   layer 1..top, count then M slots
//	...    4           CRC-32C (Castagnoli) of all preceding bytes
const (
	Magic   = "LKHNSW\x00\x00"
	Version = 1

	headerSize = 64
	// maxFileVectors bounds the count a header may claim before we
	// allocate.
	maxFileVectors = 1 << 31
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors of reading an HNSW file, checked in this order.
var (
	ErrInvalid         = errors.New("vector: not an HNSW file (bad magic)")
	ErrVersionMismatch = errors.New("vector: unsupported HNSW file version")
	ErrTruncated       = errors.New("vector: HNSW file is truncated")
	ErrChecksum        = errors.New("vector: checksum mismatch (file is corrupt)")
	// ErrCorrupt is returned for a header or graph that is inconsistent
	// although its checksum matches: a file not written by this package.
	ErrCorrupt = errors.New("vector: HNSW file is inconsistent")
)

// Encode writes the graph to w.
func (h *HNSW) Encode(w io.Writer) error {
	crc := crc32.New(castagnoli)
	bw := bufio.NewWriterSize(io.MultiWriter(w, crc), 1<<16)
	var hd [headerSize]byte
	copy(hd[:8], Magic)
	le := binary.LittleEndian
	le.PutUint32(hd[8:], Version)
	hd[12] = byte(h.metric)
	le.PutUint32(hd[16:], uint32(h.dim))
	le.PutUint32(hd[20:], uint32(h.m))
	le.PutUint32(hd[24:], uint32(h.efConstruction))
	le.PutUint32(hd[28:], uint32(h.EfSearch))
	le.PutUint64(hd[32:], h.seed)
	le.PutUint64(hd[40:], uint64(h.n))
	le.PutUint32(hd[48:], h.entry)
	le.PutUint32(hd[52:], uint32(h.maxLevel))
	le.PutUint64(hd[56:], uint64(len(h.upper)))
	bw.Write(hd[:])
	var b [4]byte
	for i := range h.n {
		for _, x := range h.vecs[i*h.stride : i*h.stride+h.dim] {
			le.PutUint32(b[:], math.Float32bits(x))
			bw.Write(b[:])
		}
	}
	bw.Write(h.levels)
	for _, ws := range [][]uint32{h.links0, h.upper} {
		for _, x := range ws {
			le.PutUint32(b[:], x)
			bw.Write(b[:])
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("vector: write: %w", err)
	}
	le.PutUint32(b[:], crc.Sum32())
	if _, err := w.Write(b[:]); err != nil {
		return fmt.Errorf("vector: write: %w", err)
	}
	return nil
}

// DecodeHNSW reads a graph written by Encode. Its Workers is
// runtime.GOMAXPROCS(0).
func DecodeHNSW(r io.Reader) (*HNSW, error) { return decode(r, -1) }

// decode reads a graph from r, which holds size bytes (-1: unknown).
// Knowing the size, it checks it against the header's counts and
// allocates the arrays once, in huge pages.
func decode(r io.Reader, size int64) (*HNSW, error) {
	crc := crc32.New(castagnoli)
	br := io.TeeReader(bufio.NewReaderSize(r, 1<<16), crc)
	var hd [headerSize]byte
	if _, err := io.ReadFull(br, hd[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, ErrInvalid
		}
		return nil, fmt.Errorf("vector: read header: %w", err)
	}
	if string(hd[:8]) != Magic {
		return nil, ErrInvalid
	}
	le := binary.LittleEndian
	if v := le.Uint32(hd[8:]); v != Version {
		return nil, fmt.Errorf("%w: %d (this build reads %d)", ErrVersionMismatch, v, Version)
	}
	metric, dim, m := Metric(hd[12]), le.Uint32(hd[16:]), le.Uint32(hd[20:])
	n, words := le.Uint64(hd[40:]), le.Uint64(hd[56:])
	maxLevel := le.Uint32(hd[52:])
	if !metric.valid() || hd[13]|hd[14]|hd[15] != 0 || dim < 1 || dim > 1<<20 || m < 2 || m > 1<<15 ||
		n > maxFileVectors || maxLevel >= maxLayers || words > n*maxLayers*uint64(m+1) {
		return nil, fmt.Errorf("%w: header fields out of range", ErrCorrupt)
	}
	h := NewHNSW(int(dim), HNSWConfig{Metric: metric, M: int(m), EfConstruction: int(le.Uint32(hd[24:])),
		EfSearch: int(le.Uint32(hd[28:])), Seed: le.Uint64(hd[32:])})
	h.n, h.entry, h.maxLevel = int(n), le.Uint32(hd[48:]), int(maxLevel)
	m0 := 2 * uint64(m)
	want := uint64(headerSize) + 4*n*uint64(dim) + n + 4*n*(m0+1) + 4*words + 4
	sized := size >= 0
	switch {
	case sized && uint64(size) < want:
		return nil, ErrTruncated
	case sized && uint64(size) > want:
		return nil, fmt.Errorf("%w: %d bytes after the checksum", ErrCorrupt, uint64(size)-want)
	case sized:
		h.vecs = growHuge[float32](nil, h.n*h.stride)
		h.links0 = growHuge[uint32](nil, h.n*(h.m0+1))
	default:
		// Grow as the data comes, so that a lying header fails on EOF
		// before all it claims is allocated.
		h.vecs = make([]float32, 0, min(h.n*h.stride, 1<<20))
		h.links0 = make([]uint32, 0, min(h.n*(h.m0+1), 1<<20))
	}
	buf := make([]byte, 1<<16)
	readWords := func(count int, put func(i int, w uint32)) error {
		for i := 0; i < count; {
			chunk := buf[:4*min(count-i, len(buf)/4)]
			if _, err := io.ReadFull(br, chunk); err != nil {
				return ErrTruncated
			}
			for j := 0; j < len(chunk); j, i = j+4, i+1 {
				put(i, le.Uint32(chunk[j:]))
			}
		}
		return nil
	}
	err := readWords(h.n*h.dim, func(i int, w uint32) {
		if i%h.dim == 0 {
			h.vecs = append(h.vecs, make([]float32, h.stride)...)
		}
		h.vecs[i/h.dim*h.stride+i%h.dim] = math.Float32frombits(w)
	})
	if err != nil {
		return nil, err
	}
	h.levels = make([]uint8, 0, min(h.n, 1<<20))
	for len(h.levels) < h.n {
		chunk := buf[:min(h.n-len(h.levels), len(buf))]
		if _, err := io.ReadFull(br, chunk); err != nil {
			return nil, ErrTruncated
		}
		h.levels = append(h.levels, chunk...)
	}
	if err := readWords(h.n*(h.m0+1), func(_ int, w uint32) { h.links0 = append(h.links0, w) }); err != nil {
		return nil, err
	}
	h.upper = make([]uint32, 0, min(int(words), 1<<20))
	if err := readWords(int(words), func(_ int, w uint32) { h.upper = append(h.upper, w) }); err != nil {
		return nil, err
	}
	sum := crc.Sum32()
	var b [4]byte
	if _, err := io.ReadFull(br, b[:]); err != nil {
		return nil, ErrTruncated
	}
	if le.Uint32(b[:]) != sum {
		return nil, ErrChecksum
	}
	if err := h.check(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if !sized {
		h.vecs, h.links0 = hugeCopy(h.vecs), hugeCopy(h.links0)
	}
	return h, nil
}

// check validates a decoded graph (and fills upperOff): every link names
// a node, no list is over its size, the layers add up.
func (h *HNSW) check() error {
	if h.n == 0 {
		if h.entry != 0 || h.maxLevel != 0 || len(h.upper) != 0 {
			return errors.New("empty graph with an entry point")
		}
		return nil
	}
	if int(h.entry) >= h.n || int(h.levels[h.entry]) != h.maxLevel {
		return fmt.Errorf("entry point %d is not on the top layer %d", h.entry, h.maxLevel)
	}
	h.upperOff = make([]uint32, h.n)
	lists := 0
	for i, lv := range h.levels {
		if int(lv) > h.maxLevel {
			return fmt.Errorf("node %d on layer %d above the top %d", i, lv, h.maxLevel)
		}
		h.upperOff[i] = uint32(lists)
		lists += int(lv)
	}
	if lists*(h.m+1) != len(h.upper) {
		return fmt.Errorf("%d upper-layer words for %d lists", len(h.upper), lists)
	}
	for i := range h.n {
		for l := 0; l <= int(h.levels[i]); l++ {
			ls := h.list(uint32(i), l)
			if int(ls[0]) > len(ls)-1 {
				return fmt.Errorf("node %d layer %d: %d links", i, l, ls[0])
			}
			for _, x := range ls[1 : 1+ls[0]] {
				if int(x) >= h.n || h.levels[x] < uint8(l) {
					return fmt.Errorf("node %d layer %d: link to %d", i, l, x)
				}
			}
		}
	}
	return nil
}

// Save writes the graph to path atomically: to a temporary file in the
// same directory, synced, then renamed over path.
func (h *HNSW) Save(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := h.Encode(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// LoadHNSW reads a graph written by Save, naming the file in errors.
func LoadHNSW(path string) (*HNSW, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	h, err := decode(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return h, nil
}

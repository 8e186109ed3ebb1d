// Package album is an indexed folder of photos: for every image file under
// a root folder, its path, size, modification time and global descriptor,
// kept in one file that an interrupted or repeated indexing run updates
// incrementally: new and changed files are described, removed ones
// dropped, the rest kept as they are.
package album

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"sort"

	"github.com/lookalike/lookalike/codes"
	"github.com/lookalike/lookalike/descriptor"
)

// Entry is one indexed file.
type Entry struct {
	// Path is relative to the album's root, with forward slashes.
	Path    string
	Size    int64
	ModTime int64 // Unix nanoseconds
	// Vector is the L2-normalized descriptor, before any whitening.
	Vector []float32
}

// Settings say how descriptors were made; a rerun with other settings
// describes every file again.
type Settings struct {
	Backbone string             `json:"backbone"`
	Pooling  descriptor.Pooling `json:"pooling"`
	// Sizes are the input sides of the scales averaged.
	Sizes []int `json:"sizes"`
	// Whiten, when positive, is the dimension of the PCA whitening learned
	// on the album's own descriptors and applied in search.
	Whiten int `json:"whiten,omitempty"`
}

// Album is the index of one folder.
type Album struct {
	Root     string
	Settings Settings
	Dim      int
	Entries  []Entry
	// Whitening is learned by Learn when Settings.Whiten > 0.
	Whitening *descriptor.Whitening

	searchable [][]float32 // the whitened descriptors, made at first search
}

// File format: the magic, a little-endian uint32 header length, the JSON
// header, the entries (path length uint32, path, size int64, mtime int64,
// Dim float32), the whitening when the header says so (mean, then
// projection, float32), and a CRC-32C (Castagnoli) of everything before it.
const magic = "LKALBUM1"

type header struct {
	Version  int      `json:"version"`
	Root     string   `json:"root"`
	Settings Settings `json:"settings"`
	Dim      int      `json:"dim"`
	Count    int      `json:"count"`
	Whitened int      `json:"whitened,omitempty"`
}

const version = 1

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrFormat reports an album file that is not one, is of another version
// or is damaged.
var ErrFormat = errors.New("not a valid album file")

// Save writes the album to path atomically: a crash leaves the previous
// file whole.
func (a *Album) Save(path string) error {
	return codes.AtomicWrite(path, func(w io.Writer) error {
		crc := crc32.New(castagnoli)
		bw := bufio.NewWriter(io.MultiWriter(w, crc))
		h := header{Version: version, Root: a.Root, Settings: a.Settings, Dim: a.Dim, Count: len(a.Entries)}
		if a.Whitening != nil {
			h.Whitened = a.Whitening.Out
		}
		js, err := json.Marshal(h)
		if err != nil {
			return err
		}
		bw.WriteString(magic)
		binary.Write(bw, binary.LittleEndian, uint32(len(js)))
		bw.Write(js)
		for _, e := range a.Entries {
			if len(e.Vector) != a.Dim {
				return fmt.Errorf("album: %s has a %d-dimensional descriptor, want %d", e.Path, len(e.Vector), a.Dim)
			}
			binary.Write(bw, binary.LittleEndian, uint32(len(e.Path)))
			bw.WriteString(e.Path)
			binary.Write(bw, binary.LittleEndian, e.Size)
			binary.Write(bw, binary.LittleEndian, e.ModTime)
			writeFloats(bw, e.Vector)
		}
		if a.Whitening != nil {
			writeFloats(bw, a.Whitening.Mean)
			writeFloats(bw, a.Whitening.Proj)
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		return binary.Write(w, binary.LittleEndian, crc.Sum32())
	})
}

func writeFloats(w *bufio.Writer, v []float32) {
	var b [4]byte
	for _, x := range v {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(x))
		w.Write(b[:])
	}
}

// Load reads an album file.
func Load(path string) (*Album, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s: %w: %s", path, ErrFormat, fmt.Sprintf(format, args...))
	}
	if len(data) < len(magic)+8 || string(data[:len(magic)]) != magic {
		return nil, bad("wrong magic")
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, bad("checksum mismatch (the file is damaged)")
	}
	r := body[len(magic):]
	n := int(binary.LittleEndian.Uint32(r))
	r = r[4:]
	if n > len(r) {
		return nil, bad("truncated header")
	}
	var h header
	if err := json.Unmarshal(r[:n], &h); err != nil {
		return nil, bad("header: %v", err)
	}
	if h.Version != version {
		return nil, bad("format version %d, this build reads %d", h.Version, version)
	}
	r = r[n:]
	if h.Count < 0 || h.Dim < 0 || h.Whitened < 0 {
		return nil, bad("negative sizes in the header")
	}
	// Each entry takes at least 20 bytes: a header cannot make Load
	// allocate more than the file holds.
	a := &Album{Root: h.Root, Settings: h.Settings, Dim: h.Dim, Entries: make([]Entry, 0, min(h.Count, len(r)/20))}
	floats := func(k int) ([]float32, bool) {
		if k < 0 || 4*k > len(r) {
			return nil, false
		}
		v := make([]float32, k)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(r[4*i:]))
		}
		r = r[4*k:]
		return v, true
	}
	for i := 0; i < h.Count; i++ {
		if len(r) < 4 {
			return nil, bad("truncated at entry %d", i)
		}
		pl := int(binary.LittleEndian.Uint32(r))
		if len(r) < 4+pl+16 {
			return nil, bad("truncated at entry %d", i)
		}
		e := Entry{Path: string(r[4 : 4+pl])}
		e.Size = int64(binary.LittleEndian.Uint64(r[4+pl:]))
		e.ModTime = int64(binary.LittleEndian.Uint64(r[12+pl:]))
		r = r[20+pl:]
		var ok bool
		if e.Vector, ok = floats(h.Dim); !ok {
			return nil, bad("truncated at entry %d", i)
		}
		a.Entries = append(a.Entries, e)
	}
	if h.Whitened > 0 {
		mean, ok1 := floats(h.Dim)
		proj, ok2 := floats(h.Whitened * h.Dim)
		if !ok1 || !ok2 {
			return nil, bad("truncated whitening")
		}
		a.Whitening = &descriptor.Whitening{Dim: h.Dim, Out: h.Whitened, Mean: mean, Proj: proj}
	}
	if len(r) != 0 {
		return nil, bad("%d bytes after the last entry", len(r))
	}
	return a, nil
}

// Learn refits the whitening on the album's descriptors when the settings
// ask for one and there are enough of them (more than its dimension);
// otherwise it removes any whitening.
func (a *Album) Learn() error {
	a.Whitening, a.searchable = nil, nil
	out := a.Settings.Whiten
	if out <= 0 || len(a.Entries) <= out {
		return nil
	}
	x := make([]float32, 0, len(a.Entries)*a.Dim)
	for _, e := range a.Entries {
		x = append(x, e.Vector...)
	}
	w, err := descriptor.FitWhitening(x, a.Dim, min(out, a.Dim))
	if err != nil {
		return fmt.Errorf("album: %w", err)
	}
	a.Whitening = w
	a.searchable = nil
	return nil
}

// Hit is one search result.
type Hit struct {
	Entry *Entry
	// Score is the cosine similarity (of the whitened descriptors when the
	// album is whitened): 1 for the same descriptor.
	Score float32
}

// Search returns the k entries most similar to the descriptor q (as the
// album's extraction makes it), best first, ties by path. It is an exact
// scan; the first search of a whitened album whitens every descriptor and
// keeps them, so concurrent searches need that first one done, or a lock.
func (a *Album) Search(q []float32, k int) []Hit {
	if a.Whitening != nil {
		q = a.Whitening.Apply(q)
		if len(a.searchable) != len(a.Entries) {
			a.searchable = make([][]float32, len(a.Entries))
			for i, e := range a.Entries {
				a.searchable[i] = a.Whitening.Apply(e.Vector)
			}
		}
	}
	hits := make([]Hit, len(a.Entries))
	for i := range a.Entries {
		v := a.Entries[i].Vector
		if a.Whitening != nil {
			v = a.searchable[i]
		}
		var s float32
		for j, x := range q {
			s += x * v[j]
		}
		hits[i] = Hit{Entry: &a.Entries[i], Score: s}
	}
	sort.Slice(hits, func(i, j int) bool {
		if hits[i].Score != hits[j].Score {
			return hits[i].Score > hits[j].Score
		}
		return hits[i].Entry.Path < hits[j].Entry.Path
	})
	return hits[:min(k, len(hits))]
}

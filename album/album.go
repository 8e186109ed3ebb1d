// Package album is an indexed folder of photos: for every image file under
// a root folder, its path, size, modification time and global descriptor,
// kept in one file that an interrupted or repeated indexing run updates
// incrementally: new and changed files are described, removed ones
// dropped, the rest kept as they are.
package album

import (
	"bufio"
	"bytes"
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
	"github.com/lookalike/lookalike/encoder"
	"github.com/lookalike/lookalike/hashing"
	"github.com/lookalike/lookalike/modelfile"
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
	// Hash, when set, names an unsupervised shallow hashing method of
	// package hashing (lsh, pcah, itq, sh) that Learn fits on the
	// (whitened) descriptors: search then ranks by the Hamming distance of
	// Bits-bit codes, ties by cosine.
	Hash string `json:"hash,omitempty"`
	Bits int    `json:"bits,omitempty"`
	// Head, when Pooling names a learned head of package learned (gordo,
	// solar), is that head's ID: descriptors made with another head are
	// not comparable.
	Head string `json:"head,omitempty"`
}

// Album is the index of one folder.
type Album struct {
	Root     string
	Settings Settings
	Dim      int
	Entries  []Entry
	// Whitening is learned by Learn when Settings.Whiten > 0.
	Whitening *descriptor.Whitening
	// Hasher is learned by Learn when Settings.Hash is set.
	Hasher encoder.Shallow

	searchable [][]float32 // the whitened descriptors, made at first search
	codes      *codes.Set  // their codes, made at first search of a hashed album
}

// File format: the magic, a little-endian uint32 header length, the JSON
// header, the entries (path length uint32, path, size int64, mtime int64,
// Dim float32), the whitening when the header says so (mean, then
// projection, float32), the hasher when the header says so, and a CRC-32C
// (Castagnoli) of everything before it. A linear hasher is its input mean,
// then its input x bits projection, float32; any other is hash_bytes
// bytes of model-file variables (modelfile.WriteVariables) of the
// header's hash_kind, a modelfile kind. Version 1 files have only linear
// hashers.
const magic = "LKALBUM1"

type header struct {
	Version  int      `json:"version"`
	Root     string   `json:"root"`
	Settings Settings `json:"settings"`
	Dim      int      `json:"dim"`
	Count    int      `json:"count"`
	Whitened int      `json:"whitened,omitempty"`
	Hashed   int      `json:"hashed,omitempty"` // code bits
	HashDim  int      `json:"hash_dim,omitempty"`
	// HashKind is empty for a linear hasher.
	HashKind  string `json:"hash_kind,omitempty"`
	HashBytes int    `json:"hash_bytes,omitempty"`
}

const version = 2

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
		var hashVars bytes.Buffer
		linear, _ := a.Hasher.(*encoder.Linear)
		if a.Hasher != nil {
			h.Hashed, h.HashDim = a.Hasher.Outputs(), a.Hasher.Inputs()
			if linear == nil {
				kind, vars, err := modelfile.ShallowVariables(a.Hasher)
				if err != nil {
					return fmt.Errorf("album: hasher: %w", err)
				}
				if err := modelfile.WriteVariables(&hashVars, vars); err != nil {
					return err
				}
				h.HashKind, h.HashBytes = kind, hashVars.Len()
			}
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
		if linear != nil {
			writeFloats(bw, linear.Mean)
			writeFloats(bw, linear.Projection)
		} else if a.Hasher != nil {
			bw.Write(hashVars.Bytes())
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
	if h.Version < 1 || h.Version > version || h.Version == 1 && h.HashKind != "" {
		return nil, bad("format version %d, this build reads 1 to %d", h.Version, version)
	}
	r = r[n:]
	if h.Count < 0 || h.Dim < 0 || h.Whitened < 0 || h.Hashed < 0 || h.HashDim < 0 || h.HashBytes < 0 || h.Hashed > codes.MaxBits {
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
	switch {
	case h.Hashed > 0 && h.HashKind == "":
		mean, ok1 := floats(h.HashDim)
		proj, ok2 := floats(h.HashDim * h.Hashed)
		if !ok1 || !ok2 {
			return nil, bad("truncated hash projection")
		}
		a.Hasher = &encoder.Linear{Mean: mean, Projection: proj, Dim: h.HashDim, Out: h.Hashed}
	case h.Hashed > 0:
		if h.HashBytes > len(r) {
			return nil, bad("truncated hasher")
		}
		vars, err := modelfile.ReadVariables(r[:h.HashBytes])
		if err != nil {
			return nil, bad("hasher: %v", err)
		}
		if a.Hasher, err = modelfile.ShallowEncoder(h.HashKind, vars, h.HashDim, h.Hashed); err != nil {
			return nil, bad("hasher: %v", err)
		}
		r = r[h.HashBytes:]
	}
	if len(r) != 0 {
		return nil, bad("%d bytes after the last entry", len(r))
	}
	return a, nil
}

// Learn refits the whitening and the hash on the album's descriptors when
// the settings ask for them and there are enough descriptors (more than
// the whitened dimension, more than the code bits); otherwise it removes
// them, and search uses the plain descriptors.
func (a *Album) Learn() error {
	a.Whitening, a.Hasher, a.searchable, a.codes = nil, nil, nil, nil
	if out := a.Settings.Whiten; out > 0 && len(a.Entries) > out {
		x := make([]float32, 0, len(a.Entries)*a.Dim)
		for _, e := range a.Entries {
			x = append(x, e.Vector...)
		}
		w, err := descriptor.FitWhitening(x, a.Dim, min(out, a.Dim))
		if err != nil {
			return fmt.Errorf("album: %w", err)
		}
		a.Whitening = w
	}
	if a.Settings.Hash == "" || len(a.Entries) <= a.Settings.Bits {
		return nil
	}
	m, err := hashing.Lookup(a.Settings.Hash)
	if err != nil {
		return fmt.Errorf("album: %w", err)
	}
	shallow, ok := m.(hashing.Shallow)
	if !ok {
		return fmt.Errorf("album: %s is not a method that learns from descriptors without training a network", a.Settings.Hash)
	}
	if m.Info().Supervised {
		return fmt.Errorf("album: %s learns from labels, which an album's photos do not have", a.Settings.Hash)
	}
	vecs := a.vectors()
	x := make([]float32, 0, len(vecs)*len(vecs[0]))
	for _, v := range vecs {
		x = append(x, v...)
	}
	h, err := shallow.Fit(x, len(vecs[0]), nil, a.Settings.Bits, 0)
	if err != nil {
		return fmt.Errorf("album: %s: %w", a.Settings.Hash, err)
	}
	a.Hasher = h
	return nil
}

// vectors returns the descriptors search compares: whitened when the album
// is, computed once.
func (a *Album) vectors() [][]float32 {
	if len(a.searchable) != len(a.Entries) {
		a.searchable = make([][]float32, len(a.Entries))
		for i, e := range a.Entries {
			if a.Whitening != nil {
				a.searchable[i] = a.Whitening.Apply(e.Vector)
			} else {
				a.searchable[i] = e.Vector
			}
		}
	}
	return a.searchable
}

// code returns the codes of vectors (each of the hasher's input dimension).
func (a *Album) code(vecs [][]float32) (*codes.Set, error) {
	x := make([]float32, 0, len(vecs)*a.Hasher.Inputs())
	for _, v := range vecs {
		x = append(x, v...)
	}
	out, err := a.Hasher.Encode(x, len(vecs))
	if err != nil {
		return nil, err
	}
	return codes.FromSigns(a.Hasher.Outputs(), out)
}

// Hit is one search result.
type Hit struct {
	Entry *Entry
	// ID is the entry's position in Entries.
	ID int
	// Score is the cosine similarity (of the whitened descriptors when the
	// album is whitened): 1 for the same descriptor.
	Score float32
	// Distance is the Hamming distance of the codes in a hashed album, 0
	// otherwise.
	Distance int
}

// Search returns the k entries most similar to the descriptor q (as the
// album's extraction makes it), best first: by cosine, or in a hashed
// album by Hamming distance then cosine; then by path. It is an exact
// scan. The first search whitens and codes every descriptor and keeps
// them, so concurrent searches need that first one done, or a lock.
func (a *Album) Search(q []float32, k int) ([]Hit, error) {
	if a.Whitening != nil {
		q = a.Whitening.Apply(q)
	}
	vecs := a.vectors()
	var qc []uint64
	if a.Hasher != nil {
		if a.codes == nil || a.codes.Len() != len(vecs) {
			cs, err := a.code(vecs)
			if err != nil {
				return nil, fmt.Errorf("album: %w", err)
			}
			a.codes = cs
		}
		cs, err := a.code([][]float32{q})
		if err != nil {
			return nil, fmt.Errorf("album: %w", err)
		}
		qc = cs.At(0)
	}
	hits := make([]Hit, len(a.Entries))
	for i, v := range vecs {
		var s float32
		for j, x := range q {
			s += x * v[j]
		}
		hits[i] = Hit{Entry: &a.Entries[i], ID: i, Score: s}
		if qc != nil {
			hits[i].Distance = codes.Hamming(qc, a.codes.At(i))
		}
	}
	sort.Slice(hits, func(i, j int) bool {
		if hits[i].Distance != hits[j].Distance {
			return hits[i].Distance < hits[j].Distance
		}
		if hits[i].Score != hits[j].Score {
			return hits[i].Score > hits[j].Score
		}
		return hits[i].Entry.Path < hits[j].Entry.Path
	})
	return hits[:min(k, len(hits))], nil
}

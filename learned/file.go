package learned

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"

	"github.com/lookalike/lookalike/codes"
)

// A head file (.lkh) is the magic, a little-endian uint32 format version,
// a uint32 header length, the JSON header (method, backbone, sizes,
// training record, and each variable's name and dimensions), the
// variables' values as little-endian float32 in header order, and a
// CRC-32C (Castagnoli) of everything before it. Readers check the magic,
// then the version, then the checksum, then that the header's variables
// are the method's with consistent shapes and fill the file exactly.
const (
	magic       = "LKHEAD\r\n"
	fileVersion = 1
)

// The errors of Load and Decode, wrapped with the file's name and the
// detail; test them with errors.Is.
var (
	// ErrMagic is returned for a file that is not a head file.
	ErrMagic = errors.New("learned: not a head file (wrong magic)")
	// ErrVersion is returned for a head file of a format version this
	// build does not read.
	ErrVersion = errors.New("learned: unsupported head file version")
	// ErrChecksum is returned when the file's checksum does not match its
	// contents: it was damaged.
	ErrChecksum = errors.New("learned: head file checksum mismatch (the file is damaged)")
	// ErrCorrupt is returned when a file with a valid checksum does not
	// hold a consistent head.
	ErrCorrupt = errors.New("learned: corrupt head file")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type fileVar struct {
	Name string `json:"name"`
	Dims []int  `json:"dims"`
}

type fileHeader struct {
	Method   Method    `json:"method"`
	Backbone string    `json:"backbone"`
	Channels int       `json:"channels"`
	Dim      int       `json:"dim"`
	Training Info      `json:"training"`
	Vars     []fileVar `json:"vars"`
}

// Encode writes the head in the file format.
func (h *Head) Encode(w io.Writer) error {
	if err := h.check(); err != nil {
		return err
	}
	hd := fileHeader{Method: h.Method, Backbone: h.Backbone, Channels: h.Channels, Dim: h.Dim, Training: h.Training}
	for _, v := range h.Vars {
		hd.Vars = append(hd.Vars, fileVar{v.Name, v.Dims})
	}
	js, err := json.Marshal(hd)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	b.WriteString(magic)
	binary.Write(&b, binary.LittleEndian, uint32(fileVersion))
	binary.Write(&b, binary.LittleEndian, uint32(len(js)))
	b.Write(js)
	var f [4]byte
	for _, v := range h.Vars {
		for _, x := range v.Data {
			binary.LittleEndian.PutUint32(f[:], math.Float32bits(x))
			b.Write(f[:])
		}
	}
	binary.Write(&b, binary.LittleEndian, crc32.Checksum(b.Bytes(), castagnoli))
	_, err = w.Write(b.Bytes())
	return err
}

// ID identifies the head's weights and record: the first 16 hex digits of
// the SHA-256 of its encoding. An index records it so that a search with
// another head is refused.
func (h *Head) ID() (string, error) {
	s := sha256.New()
	if err := h.Encode(s); err != nil {
		return "", err
	}
	return hex.EncodeToString(s.Sum(nil))[:16], nil
}

// Save writes the head to path atomically (a crash leaves the old file or
// the new one).
func (h *Head) Save(path string) error {
	return codes.AtomicWrite(path, h.Encode)
}

// Load reads a head file.
func Load(path string) (*Head, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	h, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return h, nil
}

// Decode reads a head from the bytes of a head file.
func Decode(data []byte) (*Head, error) {
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
	}
	if len(data) < len(magic) || string(data[:len(magic)]) != magic {
		return nil, ErrMagic
	}
	rest := data[len(magic):]
	if len(rest) < 12 {
		return nil, corrupt("truncated (%d bytes)", len(data))
	}
	if v := binary.LittleEndian.Uint32(rest); v != fileVersion {
		return nil, fmt.Errorf("%w: version %d, this build reads %d", ErrVersion, v, fileVersion)
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, ErrChecksum
	}
	r := body[len(magic)+4:]
	n := uint64(binary.LittleEndian.Uint32(r))
	r = r[4:]
	if n > uint64(len(r)) {
		return nil, corrupt("header of %d bytes in %d", n, len(r))
	}
	var hd fileHeader
	if err := json.Unmarshal(r[:n], &hd); err != nil {
		return nil, corrupt("header: %v", err)
	}
	r = r[n:]
	h := &Head{Method: hd.Method, Backbone: hd.Backbone, Channels: hd.Channels, Dim: hd.Dim, Training: hd.Training}
	for _, fv := range hd.Vars {
		size := 1
		for _, d := range fv.Dims {
			if d < 1 || d > len(r)/4 || size > len(r)/4/d {
				return nil, corrupt("variable %s of dimensions %v does not fit the file", fv.Name, fv.Dims)
			}
			size *= d
		}
		if 4*size > len(r) {
			return nil, corrupt("variable %s truncated", fv.Name)
		}
		v := Var{Name: fv.Name, Dims: fv.Dims, Data: make([]float32, size)}
		for i := range v.Data {
			v.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(r[4*i:]))
		}
		r = r[4*size:]
		h.Vars = append(h.Vars, v)
	}
	if len(r) != 0 {
		return nil, corrupt("%d bytes after the last variable", len(r))
	}
	if err := h.check(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return h, nil
}

// check verifies that the head's variables are its method's, with shapes
// consistent with Channels and Dim.
func (h *Head) check() error {
	if _, err := ParseMethod(string(h.Method)); err != nil {
		return err
	}
	if h.Channels < 1 || h.Dim < 1 {
		return fmt.Errorf("learned: %d channels and dimension %d", h.Channels, h.Dim)
	}
	c, d := h.Channels, h.Dim
	var want []fileVar
	switch h.Method {
	case Gordo:
		want = []fileVar{{gordoShift, []int{c}}, {gordoProjection, []int{c, d}}}
	case SOLAR:
		mid := 0
		if len(h.Vars) > 0 && len(h.Vars[0].Dims) == 2 {
			mid = h.Vars[0].Dims[1]
		}
		want = []fileVar{
			{solarF, []int{c, mid}}, {solarFBias, []int{mid}},
			{solarG, []int{c, mid}}, {solarGBias, []int{mid}},
			{solarH, []int{c, mid}}, {solarHBias, []int{mid}},
			{solarV, []int{mid, c}}, {solarVBias, []int{c}},
			{solarWhiten, []int{c, d}}, {solarWhitenBias, []int{d}},
		}
	}
	if len(h.Vars) != len(want) {
		return fmt.Errorf("learned: %s head with %d variables, want %d", h.Method, len(h.Vars), len(want))
	}
	for i, w := range want {
		v := h.Vars[i]
		size := 1
		for _, x := range v.Dims {
			size *= x
		}
		if v.Name != w.Name || !equalInts(v.Dims, w.Dims) || len(v.Data) != size || size == 0 {
			return fmt.Errorf("learned: %s head variable %d is %s %v (%d values), want %s %v",
				h.Method, i, v.Name, v.Dims, len(v.Data), w.Name, w.Dims)
		}
	}
	return nil
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

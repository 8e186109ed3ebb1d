// Package modelfile reads and writes trained models: a JSON header that
// records everything encoding needs (method, bits, architecture,
// preprocessing) and the network's variables, with a checksum.
//
// The same format holds training checkpoints, whose header also records
// the training state and whose variables include the optimizer's.
package modelfile

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

	"github.com/lookalike/lookalike/codes"
	"github.com/lookalike/lookalike/encoder"
	"github.com/lookalike/lookalike/quantize"
)

// The model file:
//
//	offset size
//	0      8    magic "LKMODEL\x00"
//	8      4    format version (little endian, as all fields)
//	12     4    header length h
//	16     h    header, JSON
//	...         variables, each: name length (u16), name, dtype (u8),
//	            rank (u8), dims (u32 each), values (8 bytes for int64 and
//	            float64, 4 for float32 and int32)
//	...    4    CRC-32C (Castagnoli) of all preceding bytes
const (
	Magic   = "LKMODEL\x00"
	Version = 1

	maxFile     = 1 << 31
	maxElements = 1 << 28
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors of reading a model file, checked in this order.
var (
	ErrInvalid         = errors.New("modelfile: not a Lookalike model file (bad magic)")
	ErrVersionMismatch = errors.New("modelfile: unsupported model file version")
	ErrChecksum        = errors.New("modelfile: checksum mismatch (file is corrupt)")
	ErrTruncated       = errors.New("modelfile: file is truncated")
)

// Preprocess says how images become network input.
type Preprocess struct {
	Height   int `json:"height"`
	Width    int `json:"width"`
	Channels int `json:"channels"`
	// Scale multiplies 8-bit pixel values (1/255: inputs in [0, 1]).
	Scale float64 `json:"scale"`
}

// Encoder kinds recorded in Header.Kind.
const (
	// KindCNN is a network (Header.Network) with its variables.
	KindCNN = "cnn"
	// KindLinear is an encoder.Linear over the flattened pixels; it and
	// the other shallow kinds store the variables ShallowVariables lists.
	KindLinear = "linear"
	// KindSpectral is an encoder.Spectral (spectral hashing).
	KindSpectral = "spectral"
	// KindKernel is an encoder.Kernel (RBF kernel features, SDH).
	KindKernel = "kernel"
	// KindQuantized is a network whose outputs a composite quantizer
	// codes (DVSQ): the network's variables, plus QuantizerCodebooks and
	// QuantizerMetric; Header.Codewords gives the codewords per codebook.
	KindQuantized = "cnn-quantized"
)

// Variables of a KindQuantized model besides the network's.
const (
	QuantizerCodebooks = "/method/codebooks"
	QuantizerMetric    = "/method/label_embeddings"
)

// Header is the JSON part of a model file.
type Header struct {
	Method string `json:"method"`
	Bits   int    `json:"bits"`
	// Kind says which encoder the variables describe; empty means KindCNN.
	Kind    string      `json:"kind,omitempty"`
	Network encoder.CNN `json:"network"`
	// Codewords is the number of codewords per codebook of a
	// KindQuantized model.
	Codewords  int        `json:"codewords,omitempty"`
	Preprocess Preprocess `json:"preprocess"`
	// Training records how the model was trained.
	Training Training `json:"training"`
}

// Training records the training run; for a checkpoint, Epoch is the number
// of epochs completed.
type Training struct {
	Protocol     string  `json:"protocol"`
	Images       int     `json:"images"`
	Epochs       int     `json:"epochs"`
	BatchSize    int     `json:"batch_size"`
	LearningRate float64 `json:"learning_rate"`
	Seed         int64   `json:"seed"`
	Epoch        int     `json:"epoch"`
	Seconds      float64 `json:"seconds"`
	// Unlabelled counts the unlabelled images a semi-supervised method
	// drew from.
	Unlabelled int `json:"unlabelled,omitempty"`
	// Schedule is the learning-rate schedule; empty means constant.
	Schedule string `json:"schedule,omitempty"`
	// Optimizer is "sgd" for SGD with momentum; empty means Adam.
	Optimizer string `json:"optimizer,omitempty"`
}

// DType is the element type of a stored variable.
type DType uint8

// Stored element types.
const (
	Float32 DType = 1
	Float64 DType = 2
	Int32   DType = 3
	Int64   DType = 4
	Uint64  DType = 5
)

func (d DType) size() int {
	switch d {
	case Float32, Int32:
		return 4
	case Float64, Int64, Uint64:
		return 8
	}
	return 0
}

// Variable is one named tensor. Values holds the raw little-endian bits of
// each element (float bits for float types) widened to 64 bits.
type Variable struct {
	Name   string
	DType  DType
	Dims   []int
	Values []uint64
}

// Model is a decoded model file.
type Model struct {
	Header    Header
	Variables []Variable
}

// Validate checks the header for values encoding cannot use.
func (h *Header) Validate() error {
	if err := codes.CheckBits(h.Bits); err != nil {
		return err
	}
	p := h.Preprocess
	if p.Height < 1 || p.Width < 1 || p.Channels < 1 {
		return fmt.Errorf("modelfile: input shape %dx%dx%d is invalid", p.Height, p.Width, p.Channels)
	}
	// Checked factor by factor, so that the product cannot overflow.
	if p.Height > maxElements || p.Width > maxElements || p.Height*p.Width > maxElements ||
		p.Channels > maxElements || p.Height*p.Width*p.Channels > maxElements {
		return fmt.Errorf("modelfile: input shape %dx%dx%d is too large", p.Height, p.Width, p.Channels)
	}
	switch {
	case h.Kind == "" || h.Kind == KindCNN:
		if err := h.Network.Validate(); err != nil {
			return err
		}
		if h.Network.Outputs != h.Bits {
			return fmt.Errorf("modelfile: network has %d outputs for %d bits", h.Network.Outputs, h.Bits)
		}
	case h.Kind == KindQuantized:
		if err := h.Network.Validate(); err != nil {
			return err
		}
		per := 0
		for 1<<per < h.Codewords {
			per++
		}
		if h.Codewords < 2 || h.Codewords > 256 || h.Bits%per != 0 {
			return fmt.Errorf("modelfile: %d codewords per codebook do not make %d-bit codes", h.Codewords, h.Bits)
		}
	case IsShallow(h.Kind):
	default:
		return fmt.Errorf("modelfile: unknown encoder kind %q", h.Kind)
	}
	return nil
}

// Encoder builds the model's encoder.
func (m *Model) Encoder() (encoder.Encoder, error) {
	if IsShallow(m.Header.Kind) {
		p := m.Header.Preprocess
		return ShallowEncoder(m.Header.Kind, m.Variables, p.Height*p.Width*p.Channels, m.Header.Bits)
	}
	store, err := ToStore(nil, m.Variables)
	if err != nil {
		return nil, err
	}
	return encoder.NewRunner(m.Header.Network, store)
}

// Quantizer returns the composite quantizer of a KindQuantized model.
func (m *Model) Quantizer() (*quantize.Quantizer, error) {
	h := m.Header
	if h.Kind != KindQuantized {
		return nil, fmt.Errorf("modelfile: a %s model has no quantizer", h.Method)
	}
	if err := h.Validate(); err != nil {
		return nil, err
	}
	var books, metric *Variable
	for i := range m.Variables {
		switch v := &m.Variables[i]; v.Name {
		case QuantizerCodebooks:
			books = v
		case QuantizerMetric:
			metric = v
		}
	}
	dim := h.Network.Outputs
	switch {
	case books == nil || metric == nil:
		return nil, fmt.Errorf("modelfile: quantized model lacks %s or %s", QuantizerCodebooks, QuantizerMetric)
	case books.DType != Float32 || len(books.Dims) != 2 || books.Dims[1] != dim || books.Dims[0]%h.Codewords != 0:
		return nil, fmt.Errorf("modelfile: %s is %v %v, want float32 [M*%d %d]", books.Name, books.DType, books.Dims, h.Codewords, dim)
	case metric.DType != Float32 || len(metric.Dims) != 2 || metric.Dims[1] != dim:
		return nil, fmt.Errorf("modelfile: %s is %v %v, want float32 [classes %d]", metric.Name, metric.DType, metric.Dims, dim)
	}
	q := &quantize.Quantizer{M: books.Dims[0] / h.Codewords, K: h.Codewords, Dim: dim,
		Codebooks: books.Float32s(), Metric: quantize.UnitRows(metric.Float32s(), dim), L: metric.Dims[0]}
	if q.Bits() != h.Bits {
		return nil, fmt.Errorf("modelfile: %d codebooks of %d codewords make %d-bit codes, header says %d", q.M, q.K, q.Bits(), h.Bits)
	}
	if err := q.Validate(); err != nil {
		return nil, fmt.Errorf("modelfile: %w", err)
	}
	return q, nil
}

// Write encodes m to w.
func Write(w io.Writer, m *Model) error {
	hdr, err := json.Marshal(m.Header)
	if err != nil {
		return fmt.Errorf("modelfile: encode header: %w", err)
	}
	crc := crc32.New(castagnoli)
	bw := bufio.NewWriter(io.MultiWriter(w, crc))
	le := binary.LittleEndian
	bw.WriteString(Magic)
	binary.Write(bw, le, uint32(Version))
	binary.Write(bw, le, uint32(len(hdr)))
	bw.Write(hdr)
	writeVariables(bw, m.Variables)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("modelfile: write: %w", err)
	}
	return binary.Write(w, le, crc.Sum32())
}

// WriteVariables encodes vars as a model file stores them, for files that
// embed a model's variables (albums do).
func WriteVariables(w io.Writer, vars []Variable) error {
	bw := bufio.NewWriter(w)
	writeVariables(bw, vars)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("modelfile: write variables: %w", err)
	}
	return nil
}

// writeVariables writes to bw, whose Flush reports any error.
func writeVariables(bw *bufio.Writer, vars []Variable) {
	le := binary.LittleEndian
	for _, v := range vars {
		binary.Write(bw, le, uint16(len(v.Name)))
		bw.WriteString(v.Name)
		bw.WriteByte(byte(v.DType))
		bw.WriteByte(byte(len(v.Dims)))
		for _, d := range v.Dims {
			binary.Write(bw, le, uint32(d))
		}
		var buf [8]byte
		size := v.DType.size()
		for _, x := range v.Values {
			le.PutUint64(buf[:], x)
			bw.Write(buf[:size])
		}
	}
}

// ReadVariables decodes variables written by WriteVariables, all of data.
// It trusts no size: a corrupt block gives an error.
func ReadVariables(data []byte) ([]Variable, error) {
	var vars []Variable
	for len(data) > 0 {
		v, rest, err := readVariable(data)
		if err != nil {
			return nil, err
		}
		vars, data = append(vars, v), rest
	}
	return vars, nil
}

// Read decodes a model file. It checks the magic, then the version, then
// the checksum of the whole file, before it trusts any other byte.
func Read(r io.Reader) (*Model, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFile+1))
	if err != nil {
		return nil, fmt.Errorf("modelfile: read: %w", err)
	}
	le := binary.LittleEndian
	if len(data) < len(Magic) || string(data[:len(Magic)]) != Magic {
		return nil, ErrInvalid
	}
	if len(data) < 20 {
		return nil, ErrTruncated
	}
	if version := le.Uint32(data[8:]); version != Version {
		return nil, fmt.Errorf("%w: %d (this build reads %d)", ErrVersionMismatch, version, Version)
	}
	if len(data) > maxFile {
		return nil, fmt.Errorf("modelfile: file over %d bytes", maxFile)
	}
	body := data[:len(data)-4]
	if crc32.Checksum(body, castagnoli) != le.Uint32(data[len(data)-4:]) {
		return nil, ErrChecksum
	}
	hlen := int(le.Uint32(data[12:]))
	if 16+hlen > len(body) {
		return nil, ErrTruncated
	}
	m := &Model{}
	if err := json.Unmarshal(body[16:16+hlen], &m.Header); err != nil {
		return nil, fmt.Errorf("modelfile: header: %w", err)
	}
	if m.Variables, err = ReadVariables(body[16+hlen:]); err != nil {
		return nil, err
	}
	return m, nil
}

// readVariable decodes the variable at the start of data and returns the
// bytes after it. Sizes are checked against the bytes left before any
// allocation.
func readVariable(data []byte) (Variable, []byte, error) {
	le := binary.LittleEndian
	var v Variable
	if len(data) < 2 {
		return v, nil, ErrTruncated
	}
	nlen := int(le.Uint16(data))
	data = data[2:]
	if len(data) < nlen+2 {
		return v, nil, ErrTruncated
	}
	v.Name = string(data[:nlen])
	dt, rank := data[nlen], int(data[nlen+1])
	data = data[nlen+2:]
	v.DType = DType(dt)
	if v.DType.size() == 0 || rank > 8 {
		return v, nil, fmt.Errorf("%w: variable %q has dtype %d, rank %d", ErrChecksum, v.Name, dt, rank)
	}
	if len(data) < 4*rank {
		return v, nil, ErrTruncated
	}
	n := 1
	for i := range rank {
		d := int(le.Uint32(data[4*i:]))
		v.Dims = append(v.Dims, d)
		n *= d
		if n > maxElements {
			return v, nil, fmt.Errorf("%w: variable %q too large", ErrChecksum, v.Name)
		}
	}
	data = data[4*rank:]
	size := v.DType.size()
	if len(data) < size*n {
		return v, nil, ErrTruncated
	}
	v.Values = make([]uint64, n)
	for i := range v.Values {
		if size == 4 {
			v.Values[i] = uint64(le.Uint32(data[i*4:]))
		} else {
			v.Values[i] = le.Uint64(data[i*8:])
		}
	}
	return v, data[size*n:], nil
}

// Float32s returns the values of a float32 variable.
func (v *Variable) Float32s() []float32 {
	out := make([]float32, len(v.Values))
	for i, x := range v.Values {
		out[i] = math.Float32frombits(uint32(x))
	}
	return out
}

// WriteFile writes m atomically to path.
func WriteFile(path string, m *Model) error {
	return codes.AtomicWrite(path, func(w io.Writer) error { return Write(w, m) })
}

// ReadFile reads and validates the model file at path.
func ReadFile(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := m.Header.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

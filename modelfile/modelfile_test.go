package modelfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"path/filepath"
	"testing"

	"github.com/lookalike/lookalike/encoder"
)

func sample() *Model {
	return &Model{
		Header: Header{Method: "dsh", Bits: 48, Network: encoder.Reference(48),
			Preprocess: Preprocess{Height: 28, Width: 28, Channels: 1, Scale: 1.0 / 255}},
		Variables: []Variable{
			{Name: "/net/w", DType: Float32, Dims: []int{2, 2}, Values: []uint64{
				uint64(math.Float32bits(1.5)), uint64(math.Float32bits(-2)), 0, uint64(math.Float32bits(3))}},
			{Name: "/step", DType: Int64, Dims: nil, Values: []uint64{42}},
			{Name: "/rng", DType: Uint64, Dims: []int{3}, Values: []uint64{1, 1 << 63, 3}},
		},
	}
}

func TestWriteRead_RoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.lkm")
	if err := WriteFile(path, sample()); err != nil {
		t.Fatal(err)
	}
	m, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Method != "dsh" || m.Header.Network.String() != encoder.Reference(48).String() || len(m.Variables) != 3 {
		t.Fatalf("got %+v", m.Header)
	}
	if w := m.Variables[0].Float32s(); w[0] != 1.5 || w[1] != -2 || w[3] != 3 {
		t.Fatalf("weights %v", w)
	}
	if m.Variables[2].Values[1] != 1<<63 {
		t.Fatalf("uint64 values %v", m.Variables[2].Values)
	}
	// Through GoMLX tensors and back.
	store, err := ToStore(nil, m.Variables)
	if err != nil {
		t.Fatal(err)
	}
	back, err := FromStore(store, "/net/")
	if err != nil || len(back) != 1 || back[0].Values[1] != m.Variables[0].Values[1] {
		t.Fatalf("FromStore: %v %v", back, err)
	}
}

func TestRead_Corrupt(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, sample()); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	tests := []struct {
		name   string
		mutate func([]byte) []byte
		want   error
	}{
		{"bad magic", func(b []byte) []byte { b[3] = 'x'; return b }, ErrInvalid},
		{"empty", func(b []byte) []byte { return nil }, ErrInvalid},
		{"other version", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[8:], 2); return b }, ErrVersionMismatch},
		{"flipped header byte", func(b []byte) []byte { b[20] ^= 4; return b }, ErrChecksum},
		{"flipped weight byte", func(b []byte) []byte { b[len(b)-30] ^= 1; return b }, ErrChecksum},
		{"truncated", func(b []byte) []byte { return b[:len(b)-7] }, ErrChecksum},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(tc.mutate(append([]byte(nil), good...))))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestHeader_Validate(t *testing.T) {
	h := sample().Header
	h.Bits = 0
	if h.Validate() == nil {
		t.Error("0 bits accepted")
	}
	h = sample().Header
	h.Network.Outputs = 12
	if h.Validate() == nil {
		t.Error("outputs != bits accepted")
	}
}

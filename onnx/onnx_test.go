package onnx

import (
	"bytes"
	"testing"
)

// The encodings below were worked out by hand from the protocol buffer
// wire format: a tag byte is field<<3 | wire type.
func TestAttrEncoding(t *testing.T) {
	tests := []struct {
		attr Attr
		want []byte
	}{
		// name "axis" (field 1, bytes), i = 1 (field 3, varint), type INT = 2
		// (field 20, varint: tag 160 = 0xa0 0x01).
		{Int("axis", 1), []byte{0x0a, 4, 'a', 'x', 'i', 's', 0x18, 1, 0xa0, 0x01, 2}},
		// ints 1, 300 (field 8: tag 0x40; 300 = 0xac 0x02), type INTS = 7.
		{Ints("k", 1, 300), []byte{0x0a, 1, 'k', 0x40, 1, 0x40, 0xac, 0x02, 0xa0, 0x01, 7}},
		// f = 1.0 (field 2, 32-bit: tag 0x15, then 0x3f800000 little-endian).
		{Float("a", 1), []byte{0x0a, 1, 'a', 0x15, 0, 0, 0x80, 0x3f, 0xa0, 0x01, 1}},
		// s = "SAME" (field 4, bytes: tag 0x22), type STRING = 3.
		{String("p", "SAME"), []byte{0x0a, 1, 'p', 0x22, 4, 'S', 'A', 'M', 'E', 0xa0, 0x01, 3}},
	}
	for _, tc := range tests {
		if got := tc.attr.marshal(); !bytes.Equal(got, tc.want) {
			t.Errorf("%s: % x, want % x", tc.attr.Name, got, tc.want)
		}
	}
}

func TestTensorEncoding(t *testing.T) {
	// dims 2 (field 1), data_type FLOAT 1 (field 2), name "w" (field 8),
	// raw_data (field 9) 8 bytes: 1.0 and -2.0 little-endian.
	got := (&Tensor{Name: "w", Dims: []int64{2}, Float: []float32{1, -2}}).marshal()
	want := []byte{0x08, 2, 0x10, 1, 0x42, 1, 'w', 0x4a, 8, 0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0}
	if !bytes.Equal(got, want) {
		t.Errorf("% x, want % x", got, want)
	}
}

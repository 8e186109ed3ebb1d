package codes

import (
	"bytes"
	"encoding/binary"
	"errors"
	"path/filepath"
	"testing"
)

func TestSet_AppendSigns(t *testing.T) {
	tests := []struct {
		name   string
		bits   int
		values []float32
		want   []uint64
	}{
		{"one word", 4, []float32{1, -1, 0.5, 0}, []uint64{0b0101}},
		{"two codes", 2, []float32{-1, 2, 3, -4}, []uint64{0b10, 0b01}},
		{"crosses a word", 65, append(make([]float32, 64), 1), []uint64{0, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.bits)
			if err != nil {
				t.Fatal(err)
			}
			s.AppendSigns(tc.values)
			if !equal(s.Data, tc.want) {
				t.Fatalf("data = %b, want %b", s.Data, tc.want)
			}
		})
	}
}

func TestHamming(t *testing.T) {
	tests := []struct {
		a, b []uint64
		want int
	}{
		{[]uint64{0}, []uint64{0}, 0},
		{[]uint64{0b1011}, []uint64{0b0110}, 3},
		{[]uint64{^uint64(0), 1}, []uint64{0, 0}, 65},
	}
	for _, tc := range tests {
		if got := Hamming(tc.a, tc.b); got != tc.want {
			t.Errorf("Hamming(%b, %b) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestNew_BadBits(t *testing.T) {
	for _, b := range []int{0, -1, MaxBits + 1} {
		if _, err := New(b); err == nil {
			t.Errorf("New(%d) succeeded", b)
		}
	}
}

func sample() (*Set, []int32) {
	s := &Set{Bits: 70}
	s.AppendSigns(append(make([]float32, 69), 1))
	v := make([]float32, 70)
	for i := range v {
		v[i] = float32(i%3) - 1
	}
	s.AppendSigns(v)
	return s, []int32{3, 7}
}

func TestWriteRead_RoundTrip(t *testing.T) {
	s, labels := sample()
	path := filepath.Join(t.TempDir(), "c.lkc")
	if err := WriteFile(path, s, labels); err != nil {
		t.Fatal(err)
	}
	got, gotLabels, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Bits != 70 || !equal(got.Data, s.Data) || gotLabels[0] != 3 || gotLabels[1] != 7 {
		t.Fatalf("round trip gave %+v %v", got, gotLabels)
	}
	var buf bytes.Buffer
	if err := Write(&buf, s, nil); err != nil {
		t.Fatal(err)
	}
	if _, l, err := Read(&buf); err != nil || l != nil {
		t.Fatalf("without labels: labels %v, err %v", l, err)
	}
}

func TestRead_Corrupt(t *testing.T) {
	s, labels := sample()
	var buf bytes.Buffer
	if err := Write(&buf, s, labels); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	tests := []struct {
		name   string
		mutate func([]byte) []byte
		want   error
	}{
		{"bad magic", func(b []byte) []byte { b[0] = 'X'; return b }, ErrInvalid},
		{"empty", func(b []byte) []byte { return b[:0] }, ErrInvalid},
		{"version", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[8:], 9); return b }, ErrVersionMismatch},
		{"flipped code byte", func(b []byte) []byte { b[40] ^= 1; return b }, ErrChecksum},
		{"flipped label byte", func(b []byte) []byte { b[len(b)-6] ^= 0x80; return b }, ErrChecksum},
		{"flipped checksum", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, ErrChecksum},
		{"truncated", func(b []byte) []byte { return b[:len(b)-10] }, ErrTruncated},
		{"huge count", func(b []byte) []byte { binary.LittleEndian.PutUint64(b[16:], 1<<40); return b }, ErrChecksum},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.mutate(append([]byte(nil), good...))
			_, _, err := Read(bytes.NewReader(b))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func equal(a, b []uint64) bool {
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

func TestFromSigns(t *testing.T) {
	// Rows (1, -1, 0.5) and (-2, 0, 3): bits 0 and 2 of the first, bit 2
	// of the second (zero is not positive).
	s, err := FromSigns(3, []float32{1, -1, 0.5, -2, 0, 3})
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 2 || s.At(0)[0] != 0b101 || s.At(1)[0] != 0b100 {
		t.Fatalf("codes %b %b", s.At(0)[0], s.At(1)[0])
	}
	if _, err := FromSigns(0, nil); err == nil {
		t.Error("0 bits accepted")
	}
}

// Package codes holds binary hash codes packed into 64-bit words, and their
// file format.
package codes

import (
	"fmt"
	"math/bits"
)

// MaxBits is the longest code supported.
const MaxBits = 1024

// Set holds Len() codes of Bits bits each, packed Words() uint64 per code
// (bit j of a code is bit j%64 of word j/64; unused high bits are zero).
type Set struct {
	Bits int
	Data []uint64
}

// New returns an empty set of codes of the given length.
func New(nbits int) (*Set, error) {
	if err := CheckBits(nbits); err != nil {
		return nil, err
	}
	return &Set{Bits: nbits}, nil
}

// CheckBits reports a code length the package cannot hold.
func CheckBits(nbits int) error {
	if nbits < 1 || nbits > MaxBits {
		return fmt.Errorf("codes: %d bits is outside the supported range 1..%d", nbits, MaxBits)
	}
	return nil
}

// WordsFor returns the number of 64-bit words a code of nbits occupies.
func WordsFor(nbits int) int { return (nbits + 63) / 64 }

// Words returns the number of 64-bit words per code.
func (s *Set) Words() int { return WordsFor(s.Bits) }

// Len returns the number of codes.
func (s *Set) Len() int { return len(s.Data) / s.Words() }

// At returns code i, sharing storage with the set.
func (s *Set) At(i int) []uint64 {
	w := s.Words()
	return s.Data[i*w : (i+1)*w]
}

// FromSigns returns the codes of the rows of values (rows of bits values):
// each bit is set where its value is positive, as AppendSigns.
func FromSigns(bits int, values []float32) (*Set, error) {
	s, err := New(bits)
	if err != nil {
		return nil, err
	}
	s.AppendSigns(values)
	return s, nil
}

// AppendSigns appends one code per row of values (rows of s.Bits values):
// bit j is set when value j is positive. Zero maps to 0, as sign(0) <= 0.
func (s *Set) AppendSigns(values []float32) {
	w := s.Words()
	for r := 0; r+s.Bits <= len(values); r += s.Bits {
		code := make([]uint64, w)
		for j, v := range values[r : r+s.Bits] {
			if v > 0 {
				code[j/64] |= 1 << (j % 64)
			}
		}
		s.Data = append(s.Data, code...)
	}
}

// Signs returns code i as +1/-1 values.
func (s *Set) Signs(i int) []float32 {
	out := make([]float32, s.Bits)
	c := s.At(i)
	for j := range out {
		if c[j/64]>>(j%64)&1 == 1 {
			out[j] = 1
		} else {
			out[j] = -1
		}
	}
	return out
}

// Hamming returns the number of differing bits of two codes of equal length.
func Hamming(a, b []uint64) int {
	d := 0
	for i := range a {
		d += bits.OnesCount64(a[i] ^ b[i])
	}
	return d
}

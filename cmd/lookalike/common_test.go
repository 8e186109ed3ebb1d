package main

import (
	"testing"

	"github.com/lookalike/lookalike/quantize"
)

// TestRankQuantized: two database items whose reconstructions differ in
// length more than in direction. The query (10, 1.5) lies at 8.5 degrees;
// item 0, (9, 1), at 6.3 degrees, is its match; item 1, (11, -1), at -5.2
// degrees, has the larger inner product (108.5 against 91.5) only through
// its length. Ranked by cosine, item 0 comes first: AP 1; by inner
// product second: AP 1/2.
func TestRankQuantized(t *testing.T) {
	quant := &quantize.Quantizer{M: 1, K: 4, Dim: 2, Codebooks: []float32{9, 1, 11, -1, 0, 0, 0, 0}}
	db := []float32{9, 1, 11, -1}
	for _, tc := range []struct {
		cosine bool
		want   float64
	}{{true, 1}, {false, 0.5}} {
		r, err := rankQuantized(quant, 2, []float32{10, 1.5}, []int32{0}, db, []int32{0, 1}, tc.cosine)
		if err != nil {
			t.Fatal(err)
		}
		if r.MAPAll != tc.want || r.Bits != 2 {
			t.Errorf("cosine %v: mAP@all %v, bits %d; want %v and 2", tc.cosine, r.MAPAll, r.Bits, tc.want)
		}
	}
}

package quantize

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestEncodeDecode: two codebooks of two codewords in 2-d, identity
// metric. Codebook 0 = {(1, 0), (-1, 0)}, codebook 1 = {(0, 2), (0, -2)}:
// every sum is one of the four points (+-1, +-2), so each of them encodes
// exactly and decodes back.
func TestEncodeDecode(t *testing.T) {
	q := &Quantizer{M: 2, K: 2, Dim: 2, Codebooks: []float32{1, 0, -1, 0, 0, 2, 0, -2}}
	x := []float32{1, 2, -1, 2, 1, -2, -1, -2, 0.9, -1.5}
	want := []uint8{0, 0, 1, 0, 0, 1, 1, 1, 0, 1}
	codes, err := q.Encode(x, 5, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if codes[i] != want[i] {
			t.Fatalf("codes = %v, want %v", codes, want)
		}
	}
	rec, _ := q.Decode(codes, 5)
	for i, v := range rec[:8] {
		if v != x[i] {
			t.Fatalf("decoded %v, want %v", rec[:8], x[:8])
		}
	}
	// (0.9, -1.5) -> (1, -2): error 0.01 + 0.25, the mean over 5 is 0.052.
	if e, _ := q.Error(x, codes, 5); math.Abs(e-0.052) > 1e-6 {
		t.Errorf("Error = %v, want 0.052", e)
	}
}

// TestEncodeMetric: with the metric (1, 0) only the first coordinate
// counts, so (0.9, 5) takes codeword (1, 0) and either second codeword.
func TestEncodeMetric(t *testing.T) {
	q := &Quantizer{M: 2, K: 2, Dim: 2, Codebooks: []float32{1, 0, -1, 0, 0, 2, 0, -2}, Metric: []float32{1, 0}, L: 1}
	codes, err := q.Encode([]float32{-0.9, 5}, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	if codes[0] != 1 {
		t.Errorf("first codeword %d, want 1 (-1, 0)", codes[0])
	}
	if e, _ := q.Error([]float32{-0.9, 5}, codes, 1); math.Abs(e-0.01) > 1e-6 {
		t.Errorf("metric error %v, want 0.01", e)
	}
}

// TestFitCodebooks: vectors that are exact sums of two codebooks' words
// are reconstructed exactly by the least-squares codebooks (up to the tiny
// ridge), whatever the codebooks started at.
func TestFitCodebooks(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	truth := &Quantizer{M: 2, K: 4, Dim: 3, Codebooks: make([]float32, 2*4*3)}
	for i := range truth.Codebooks {
		truth.Codebooks[i] = rng.Float32()*4 - 2
	}
	const n = 200
	codes := make([]uint8, n*2)
	for i := range codes {
		codes[i] = uint8(rng.IntN(4))
	}
	x, _ := truth.Decode(codes, n)
	q, err := New(2, 4, 3, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.FitCodebooks(x, codes, n, 1e-6); err != nil {
		t.Fatal(err)
	}
	if e, _ := q.Error(x, codes, n); e > 1e-6 {
		t.Errorf("error after least squares %v, want ~0", e)
	}
}

// TestFitLowersError: k-means initialization, then ICM and least-squares
// rounds, each round no worse than the one before.
func TestFitLowersError(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n, dim = 500, 8
	x := make([]float32, n*dim)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	q, _ := New(2, 16, dim, nil, 0)
	if err := q.InitKMeans(x, n, 10, 5); err != nil {
		t.Fatal(err)
	}
	prev := math.Inf(1)
	for round := 0; round < 4; round++ {
		codes, err := q.Encode(x, n, 4)
		if err != nil {
			t.Fatal(err)
		}
		e, _ := q.Error(x, codes, n)
		if e > prev+1e-6 {
			t.Fatalf("round %d: error rose from %v to %v", round, prev, e)
		}
		prev = e
		if err := q.FitCodebooks(x, codes, n, 1e-3); err != nil {
			t.Fatal(err)
		}
	}
	// Variance is 8; 2 x 4 bits must explain a good part of it.
	if prev > 6 {
		t.Errorf("final error %v, want well under the variance 8", prev)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		q    Quantizer
	}{
		{"no codebooks", Quantizer{M: 0, K: 4, Dim: 2}},
		{"K too big", Quantizer{M: 1, K: 300, Dim: 2, Codebooks: make([]float32, 600)}},
		{"short codebooks", Quantizer{M: 1, K: 4, Dim: 2, Codebooks: make([]float32, 7)}},
		{"short metric", Quantizer{M: 1, K: 2, Dim: 2, Codebooks: make([]float32, 4), Metric: []float32{1}, L: 1}},
		{"NaN", Quantizer{M: 1, K: 2, Dim: 1, Codebooks: []float32{0, float32(math.NaN())}}},
	}
	for _, tc := range tests {
		if err := tc.q.Validate(); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	if (&Quantizer{M: 6, K: 256}).Bits() != 48 {
		t.Error("6 codebooks of 256 words are not 48 bits")
	}
}

// TestUnitRows: (3, 4) -> (0.6, 0.8); a zero row stays zero.
func TestUnitRows(t *testing.T) {
	got := UnitRows([]float32{3, 4, 0, 0}, 2)
	want := []float32{0.6, 0.8, 0, 0}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-6 {
			t.Fatalf("UnitRows = %v, want %v", got, want)
		}
	}
}

package hashing

import (
	"math"
	"testing"
)

// TestRNNHash_Loss with alpha = beta = 0.01, 2 bits, margin 4.
//
// u = [[1, -1], [0.5, 0.5]]: ||u0-u1||^2 = 2.5; the pair term is
// 1/2 mean(0, 2.5, 2.5, 0) = 0.625 for a similar pair and
// 1/2 mean(0, 4-2.5, 4-2.5, 0) = 0.375 for a dissimilar one. The
// quantization error is 0 for u0 and (0.5-1)^2 * 2 = 0.5 for u1, mean
// 0.25, weighted 0.0025. The bit means are 0.75 and -0.25, balance
// 0.5625 + 0.0625 = 0.625, weighted 0.00625.
//
// u = [[1, 1], [-1, -1]] is binary and balanced: only the pair term
// remains, 1/2 mean(0, 8, 8, 0) = 2 when similar and 0 when dissimilar
// (8 is past the margin).
func TestRNNHash_Loss(t *testing.T) {
	m := RNNHash{MarginPerBit: 2, Alpha: 0.01, Beta: 0.01, Hidden: 128}
	mixed := [][]float32{{1, -1}, {0.5, 0.5}}
	binary := [][]float32{{1, 1}, {-1, -1}}
	for _, tc := range []struct {
		name   string
		u      [][]float32
		labels []int32
		want   float64
	}{
		{"similar", mixed, []int32{3, 3}, 0.625 + 0.0025 + 0.00625},
		{"dissimilar", mixed, []int32{3, 4}, 0.375 + 0.0025 + 0.00625},
		{"binary similar", binary, []int32{1, 1}, 2},
		{"binary dissimilar", binary, []int32{1, 2}, 0},
	} {
		if got := evalLoss(t, m, tc.u, tc.labels); math.Abs(got-tc.want) > 1e-6 {
			t.Errorf("%s: loss = %v, want %v", tc.name, got, tc.want)
		}
	}
}

package hashing

import (
	"math"
	"testing"
)

// TestSSDH_Loss: one bit, u = (1, 0.5, -1, 0.8), labels (0, 0, 1, none).
// Squared distances: d01 = 0.25, d02 = 4, d03 = 0.04, d12 = 2.25,
// d13 = 0.09, d23 = 3.24.
//
// Ranking, m_r = 4: triplets (q, p, n) = (0, 1, 2): 4 + 0.25 - 4 = 0.25 and
// (1, 0, 2): 4 + 0.25 - 2.25 = 2; mean 1.125. The unlabelled image 3 is in
// no triplet.
//
// Embedding, k = 1: nearest of 0 is 3, of 1 is 3, of 2 is 1, of 3 is 0,
// so neighbours {0,3}, {1,3}, {1,2} cost d: 0.04 + 0.09 + 2.25, and the
// rest cost max(0, 2 - d): {0,1} 1.75, {0,2} 0, {2,3} 0. Both orders of
// the 6 pairs: 2 * 4.13 / 12 = 0.688333, times lambda 0.1.
//
// Quantization: | |u| - 1 | = 0, 0.5, 0, 0.2, mean 0.175, times 0.01.
func TestSSDH_Loss(t *testing.T) {
	m := SSDH{RankMarginPerBit: 4, EmbedMarginPerBit: 2, Lambda: 0.1, Alpha: 0.01, Neighbours: 1}
	u := [][]float32{{1}, {0.5}, {-1}, {0.8}}
	tests := []struct {
		name   string
		m      SSDH
		labels []int32
		want   float64
	}{
		{"semi-supervised", m, []int32{0, 0, 1, Unlabelled}, 1.125 + 0.0688333 + 0.00175},
		// All unlabelled: no triplet, the embedding and quantization remain.
		{"unlabelled", m, []int32{Unlabelled, Unlabelled, Unlabelled, Unlabelled}, 0.0688333 + 0.00175},
	}
	for _, tc := range tests {
		if got := evalBatchLoss(t, tc.m, u, tc.labels, 0, 1); math.Abs(got-tc.want) > 1e-5 {
			t.Errorf("%s: loss = %.6f, want %.6f", tc.name, got, tc.want)
		}
	}
}

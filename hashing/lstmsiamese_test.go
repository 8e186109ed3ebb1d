package hashing

import (
	"math"
	"testing"
)

// TestLSTMSiamese_Loss with 2 bits: margin sqrt(4) = 2, alpha = 0.01.
//
// u = [[1, -1], [0.5, 0.5]]: D^2 = 2.5, D = 1.5811388 (1.5811391 with
// the floor 1e-6 under the root); regularizer rows 0 and 1, mean 0.5,
// weighted 0.005. A similar pair costs 1/2 mean(0, 2.5, 2.5, 0) = 0.625;
// a dissimilar one 1/2 mean(0, (2-D)^2, (2-D)^2, 0) = 1/4 * 0.1754444 =
// 0.0438611.
//
// u = [[1, 1], [-1, -1]]: D = 2.828 is past the margin, so a dissimilar
// pair costs nothing, and the outputs are binary.
func TestLSTMSiamese_Loss(t *testing.T) {
	m := LSTMSiamese{MarginPerBit: 2, Alpha: 0.01, Hidden: 64}
	mixed := [][]float32{{1, -1}, {0.5, 0.5}}
	for _, tc := range []struct {
		name   string
		u      [][]float32
		labels []int32
		want   float64
	}{
		{"similar", mixed, []int32{3, 3}, 0.625 + 0.005},
		{"dissimilar", mixed, []int32{3, 4}, 0.0438611 + 0.005},
		{"far dissimilar", [][]float32{{1, 1}, {-1, -1}}, []int32{0, 1}, 0},
	} {
		if got := evalLoss(t, m, tc.u, tc.labels); math.Abs(got-tc.want) > 1e-6 {
			t.Errorf("%s: loss = %v, want %v", tc.name, got, tc.want)
		}
	}
}

package hashing

import (
	"math"
	"testing"
)

// TestDHN_Loss: u = [[1, 1], [0.5, 0.5]]; halved inner products
// w00 = 1, w11 = 0.25, w01 = 0.5.
//
//	similar:    log(1+e^-1) + log(1+e^-0.25) + 2 log(1+e^-0.5)
//	            = 0.313262 + 0.575939 + 0.948154 = 1.837355, / 4 = 0.459339
//	dissimilar: the off-diagonal terms become log(1+e^0.5) = 0.974077:
//	            0.889201 + 1.948154 = 2.837355, / 4 = 0.709339
//	quantization: log cosh(0) twice, log cosh(-0.5) = 0.120115 twice,
//	            mean 0.060058, times 0.1 = 0.006006
func TestDHN_Loss(t *testing.T) {
	u := [][]float32{{1, 1}, {0.5, 0.5}}
	m := DHN{Lambda: 0.1}
	tests := []struct {
		labels []int32
		want   float64
	}{
		{[]int32{2, 2}, 0.459339 + 0.006006},
		{[]int32{2, 5}, 0.709339 + 0.006006},
	}
	for _, tc := range tests {
		if got := evalLoss(t, m, u, tc.labels); math.Abs(got-tc.want) > 1e-5 {
			t.Errorf("labels %v: loss %v, want %v", tc.labels, got, tc.want)
		}
	}
}

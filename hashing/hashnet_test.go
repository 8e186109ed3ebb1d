package hashing

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/lookalike/lookalike/encoder"
)

// TestHashNet_LossAt: u = [[1, -1], [0.5, 0.5]], beta 1, 2 bits, alpha 5.
// h0 = (tanh 1, -tanh 1), h1 = (tanh .5, tanh .5): <h0, h1> = 0,
// alpha<h0,h0> = 5.8002, alpha<h1,h1> = 2.1355.
//
//	similar pair: every w = 1; terms log(1+e^-5.8002) = 0.003021,
//	  log(1+e^-2.1355) = 0.111690, and log 2 twice: sum 1.501005 / 4 = 0.375255
//	dissimilar:   |S1| = |S0| = 2, so w = 2; the off-diagonal terms are
//	  log(1 + e^0) - 0 = log 2: the same sum, times 2, / 4 = 0.750511
func TestHashNet_LossAt(t *testing.T) {
	m := HashNet{Gamma: 0.005, Power: 0.5, StepSize: 200, AlphaBits: 10}
	b, _ := encoder.Backend()
	tests := []struct {
		labels []int32
		beta   float32
		want   float64
	}{
		{[]int32{0, 0}, 1, 0.3752553596},
		{[]int32{0, 1}, 1, 0.7505107193},
		{[]int32{0, 1}, 2, 0.6947042923},
	}
	for _, tc := range tests {
		out, err := ExecOnce(b, func(u, l, beta *Node) *Node { return m.LossAt(u, l, beta) },
			tensors.FromValue([][]float32{{1, -1}, {0.5, 0.5}}), tensors.FromValue(tc.labels), tensors.FromValue(tc.beta))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := tensors.CopyFlatData[float32](out)
		if math.Abs(float64(got[0])-tc.want) > 1e-5 {
			t.Errorf("labels %v beta %v: loss %v, want %v", tc.labels, tc.beta, got[0], tc.want)
		}
	}
}

func TestHashNet_Beta(t *testing.T) {
	m := HashNet{Gamma: 0.005, Power: 0.5, StepSize: 200, AlphaBits: 10}
	tests := []struct {
		step int64
		want float64
	}{
		{0, 1}, {199, 1}, {200, math.Sqrt(2)}, {399, math.Sqrt(2)}, {600, 2}, {1600, 3},
	}
	for _, tc := range tests {
		if got := m.Beta(tc.step); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("Beta(%d) = %v, want %v", tc.step, got, tc.want)
		}
	}
}

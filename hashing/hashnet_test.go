package hashing

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/lookalike/lookalike/encoder"
)

// evalBatchLoss evaluates m's loss at step of a run of steps.
func evalBatchLoss(t *testing.T, m Deep, u [][]float32, labels []int32, step float32, steps int) float64 {
	t.Helper()
	b, err := encoder.Backend()
	if err != nil {
		t.Fatal(err)
	}
	out, err := ExecOnce(b, func(u, l, s *Node) *Node { return m.Loss(Batch{U: u, Labels: l, Step: s, Steps: steps}) },
		tensors.FromValue(u), tensors.FromValue(labels), tensors.FromValue(step))
	if err != nil {
		t.Fatal(err)
	}
	v, err := tensors.CopyFlatData[float32](out)
	if err != nil {
		t.Fatal(err)
	}
	return float64(v[0])
}

// TestHashNet_Loss checks the weighted cross-entropy against values worked
// out from the formula, with alpha = 5.
//
// Two images u0 = (1, 1), u1 = (0.5, 0.5) at beta = 1:
// <h0, h1> = 2 tanh(1) tanh(0.5) = 2 * 0.761594 * 0.462117 = 0.703891,
// theta = 3.519457. Only the two off-diagonal pairs count, all of one
// kind, weight 1: similar costs softplus(theta) - theta = 0.029185,
// dissimilar softplus(theta) = 3.548643.
//
// Three images, labels (0, 0, 1): 6 ordered pairs, 2 similar (weight
// 6/2 = 3) and 4 dissimilar (weight 6/4 = 1.5); the loss is
// (3 * 2 * 0.029185 + 1.5 * 2 * (softplus(theta02) + softplus(theta12))) / 6
// with theta02 = 0.770861, theta12 = 0.467740: 1.081788. At step 117 of
// 1,170 the stage is floor(117 * 50 / 1170) = 5 and beta = sqrt(6): the
// same pairs give 0.727492.
func TestHashNet_Loss(t *testing.T) {
	two := [][]float32{{1, 1}, {0.5, 0.5}}
	three := [][]float32{{1, 1}, {0.5, 0.5}, {-1, 2}}
	m := HashNet{Alpha: 5, Stages: 50, Gamma: 1}
	tests := []struct {
		name   string
		u      [][]float32
		labels []int32
		step   float32
		want   float64
	}{
		{"similar pair", two, []int32{4, 4}, 0, 0.029185},
		{"dissimilar pair", two, []int32{4, 5}, 0, 3.548643},
		{"weighted", three, []int32{0, 0, 1}, 0, 1.081788},
		{"stage 5", three, []int32{0, 0, 1}, 117, 0.727492},
		{"stage 4 just before", three, []int32{0, 0, 1}, 116, -1},
	}
	for _, tc := range tests {
		got := evalBatchLoss(t, m, tc.u, tc.labels, tc.step, 1170)
		if tc.want < 0 {
			// Stage 4 has beta = sqrt(5): not the stage-5 value.
			if math.Abs(got-0.727492) < 1e-3 {
				t.Errorf("%s: loss %v already at stage 5", tc.name, got)
			}
			continue
		}
		if math.Abs(got-tc.want) > 1e-5 {
			t.Errorf("%s: loss = %.6f, want %.6f", tc.name, got, tc.want)
		}
	}
}

// TestHashNet_Beta: 50 stages over 1,000 steps, 20 steps each; beta =
// sqrt(1 + stage), reaching sqrt(50) = 7.07 in the last stage, as the
// authors' (1 + 0.005 t)^0.5 at t = 9,800 of 10,000.
func TestHashNet_Beta(t *testing.T) {
	m := HashNet{Alpha: 5, Stages: 50, Gamma: 1}
	tests := []struct {
		step int
		want float64
	}{
		{0, 1}, {19, 1}, {20, math.Sqrt(2)}, {500, math.Sqrt(26)}, {999, math.Sqrt(50)}, {5000, math.Sqrt(50)},
	}
	for _, tc := range tests {
		if got := m.Beta(tc.step, 1000); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("Beta(%d, 1000) = %v, want %v", tc.step, got, tc.want)
		}
	}
}

// TestDHN_Loss: u0 = (1, 1), u1 = (0.5, 0.5): theta = 1/2 (0.5 + 0.5) =
// 0.5. The quantization term is 0 for u0 and 2 log cosh(-0.5) = 0.240229
// for u1, mean 0.120115, times lambda 0.1 = 0.012011. Similar pair:
// softplus(0.5) - 0.5 = 0.474077; dissimilar: softplus(0.5) = 0.974077.
func TestDHN_Loss(t *testing.T) {
	u := [][]float32{{1, 1}, {0.5, 0.5}}
	m := DHN{Lambda: 0.1}
	for _, tc := range []struct {
		labels []int32
		want   float64
	}{
		{[]int32{1, 1}, 0.474077 + 0.012011},
		{[]int32{1, 2}, 0.974077 + 0.012011},
	} {
		if got := evalBatchLoss(t, m, u, tc.labels, 0, 100); math.Abs(got-tc.want) > 1e-5 {
			t.Errorf("labels %v: loss = %.6f, want %.6f", tc.labels, got, tc.want)
		}
	}
}

// TestSoftplusLogCosh: the stable forms (GoMLX's Softplus, LogCosh) agree with the plain ones where
// those do not overflow, and stay finite where they would.
func TestSoftplusLogCosh(t *testing.T) {
	b, err := encoder.Backend()
	if err != nil {
		t.Fatal(err)
	}
	xs := []float32{-100, -3, 0, 0.5, 3, 100}
	for _, tc := range []struct {
		name string
		fn   func(*Node) *Node
		ref  func(float64) float64
	}{
		{"softplus", Softplus, func(x float64) float64 {
			if x > 30 {
				return x
			}
			return math.Log1p(math.Exp(x))
		}},
		{"logcosh", LogCosh, func(x float64) float64 {
			if math.Abs(x) > 30 {
				return math.Abs(x) - math.Ln2
			}
			return math.Log(math.Cosh(x))
		}},
	} {
		out, err := ExecOnce(b, tc.fn, tensors.FromValue(xs))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := tensors.CopyFlatData[float32](out)
		for i, x := range xs {
			if want := tc.ref(float64(x)); math.Abs(float64(got[i])-want) > 1e-5*math.Max(1, math.Abs(want)) {
				t.Errorf("%s(%v) = %v, want %v", tc.name, x, got[i], want)
			}
		}
	}
}

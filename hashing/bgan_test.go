package hashing

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/lookalike/lookalike/encoder"
)

// evalGraph runs f on the inputs and returns its flat float32 output.
func evalGraph(t *testing.T, f func([]*Node) *Node, inputs ...any) []float32 {
	t.Helper()
	b, err := encoder.Backend()
	if err != nil {
		t.Fatal(err)
	}
	out, err := ExecOnce(b, f, inputs...)
	if err != nil {
		t.Fatal(err)
	}
	v, err := tensors.CopyFlatData[float32](out)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func near(got []float32, want []float64, tol float64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if math.Abs(float64(got[i])-want[i]) > tol {
			return false
		}
	}
	return true
}

// TestNeighbourSimilarity: five 2-pixel images x0 = (1, 0), x1 = (1, 0.1),
// x2 = (0, 1), x3 = (0.1, 1), x4 = (1, 0.8). Cosines: c01 = c23 = 0.995,
// c14 = 0.839, c04 = 0.781, c34 = 0.699, c24 = 0.625, c13 = 0.198,
// c12 = 0.0995, c03 = 0.0995, c02 = 0.
//
//	k = 1: nearest of 0, 1, 2, 3, 4 are 1, 0, 3, 2, 1: pairs {0,1}, {2,3}, {1,4}.
//	k = 2: 0: {1,4}, 1: {0,4}, 2: {3,4}, 3: {2,4}, 4: {1,0}; symmetrized,
//	       4 neighbours all the others.
func TestNeighbourSimilarity(t *testing.T) {
	images := [][][][]float32{
		{{{1}, {0}}}, {{{1}, {0.1}}}, {{{0}, {1}}}, {{{0.1}, {1}}}, {{{1}, {0.8}}},
	}
	tests := []struct {
		k    int
		want []float64
	}{
		{1, []float64{
			0, 1, 0, 0, 0,
			1, 0, 0, 0, 1,
			0, 0, 0, 1, 0,
			0, 0, 1, 0, 0,
			0, 1, 0, 0, 0,
		}},
		{2, []float64{
			0, 1, 0, 0, 1,
			1, 0, 0, 0, 1,
			0, 0, 0, 1, 1,
			0, 0, 1, 0, 1,
			1, 1, 1, 1, 0,
		}},
	}
	for _, tc := range tests {
		got := evalGraph(t, func(x []*Node) *Node { return NeighbourSimilarity(x[0], tc.k) }, images)
		if !near(got, tc.want, 0) {
			t.Errorf("k = %d: S = %v, want %v", tc.k, got, tc.want)
		}
	}
}

// TestNeighbourhoodLoss: h = (1, 1), (1, -1), (-1, -1) at L = 2 have
// h h^T / L = [[1, 0, -1], [0, 1, 0], [-1, 0, 1]].
//
//	S with the pair {0, 1}: neighbours (0,1), (1,0) err (1-0)^2 = 1, mean 1;
//	  others (0,2), (2,0) err (-1+1)^2 = 0, (1,2), (2,1) err 1, mean 0.5:
//	  1.5.
//	  (targets: 1 for neighbours, -1 for the others)
//	S empty: no neighbours (0); the 6 distinct pairs, target -1, errors
//	  (-1-0)^2 = 1, (-1+1)^2 = 0, (-1-0)^2 = 1 twice each: 4/6.
func TestNeighbourhoodLoss(t *testing.T) {
	h := [][]float32{{1, 1}, {1, -1}, {-1, -1}}
	tests := []struct {
		name string
		s    [][]float32
		want float64
	}{
		{"one pair", [][]float32{{0, 1, 0}, {1, 0, 0}, {0, 0, 0}}, 1.5},
		{"no neighbours", [][]float32{{0, 0, 0}, {0, 0, 0}, {0, 0, 0}}, 4.0 / 6},
	}
	for _, tc := range tests {
		got := evalGraph(t, func(x []*Node) *Node { return NeighbourhoodLoss(x[0], x[1]) }, h, tc.s)
		if !near(got, []float64{tc.want}, 1e-6) {
			t.Errorf("%s: L_N = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestContentLoss: pixels (0, 1) against (0.5, 0.5), squared errors 0.25
// each, mean 0.25; features (1, 2) against (1, 0), mean (0 + 4)/2 = 2,
// relative to the real features' mean square (1 + 4)/2 = 2.5: 0.8.
func TestContentLoss(t *testing.T) {
	got := evalGraph(t, func(x []*Node) *Node { return ContentLoss(x[0], x[1], x[2], x[3]) }, [][]float32{{0, 1}}, [][]float32{{0.5, 0.5}}, [][]float32{{1, 2}}, [][]float32{{1, 0}})
	if !near(got, []float64{1.05}, 1e-6) {
		t.Errorf("L_C = %v, want 1.05", got)
	}
}

// TestContinuationTanh: 50 stages over 100 steps, gamma 1: step 0 is
// stage 0, tanh(1) = 0.761594; step 50 stage 25, tanh(sqrt 26) =
// 0.999926; step 100 is capped at stage 49, tanh(sqrt 50) = 0.9999986.
func TestContinuationTanh(t *testing.T) {
	for _, tc := range []struct {
		step float32
		want float64
	}{{0, 0.761594}, {50, 0.999926}, {100, 0.9999986}} {
		got := evalGraph(t, func(x []*Node) *Node { return ContinuationTanh(x[0], x[1], 100, 50, 1) }, [][]float32{{1}}, tc.step)
		if !near(got, []float64{tc.want}, 1e-6) {
			t.Errorf("step %v: %v, want %v", tc.step, got, tc.want)
		}
	}
}

// TestBGAN_Registered: bgan is an unsupervised generative deep method.
func TestBGAN_Registered(t *testing.T) {
	m, err := Lookup("bgan")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.(Generative); !ok || m.Info().Supervised {
		t.Errorf("bgan registered as %+v", m.Info())
	}
}

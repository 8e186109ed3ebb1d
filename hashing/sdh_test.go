package hashing

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/lookalike/lookalike/encoder"
)

// TestRBF: x = (0, 0) and (3, 4) on anchors (0, 0) and (3, 4): distances
// 0, 5, 5, 0, so sigma = 2.5, 2 sigma^2 = 12.5, and phi = exp(-d^2/12.5)
// with the constant 1 appended.
func TestRBF(t *testing.T) {
	tests := []struct {
		name      string
		anchors   []float32
		sigma     float64
		wantPhi   []float64
		wantWidth int
	}{
		{"one anchor", []float32{0, 0}, 2.5, []float64{1, 1, math.Exp(-2), 1}, 2},
		{"two anchors", []float32{0, 0, 3, 4}, 2.5, []float64{1, math.Exp(-2), 1, math.Exp(-2), 1, 1}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			phi, sigma := rbf([]float32{0, 0, 3, 4}, tc.anchors, 2)
			if math.Abs(sigma-tc.sigma) > 1e-12 {
				t.Errorf("sigma %v, want %v", sigma, tc.sigma)
			}
			if _, c := phi.Dims(); c != tc.wantWidth {
				t.Fatalf("%d features, want %d", c, tc.wantWidth)
			}
			if !mat.EqualApprox(phi, mat.NewDense(2, tc.wantWidth, tc.wantPhi), 1e-12) {
				t.Errorf("phi\n%v\nwant %v", mat.Formatted(phi), tc.wantPhi)
			}
		})
	}
}

// TestDCC: one code, W = [1; 2] (W W^T = [[1, 2], [2, 4]]), q = (0.5, 1).
// From B = 0: bit 0 = sgn(0.5 - 0) = 1, bit 1 = sgn(1 - 1*2) = -1, and a
// second sweep changes nothing. ||B W||^2 - 2 tr(B^T Q) is 2 there, a
// coordinate-wise minimum: the global one, 0 at (-1, 1), is a fixed point
// too, which DCC reaches from (1, 1) but not from 0.
func TestDCC(t *testing.T) {
	w := mat.NewDense(2, 1, []float64{1, 2})
	q := mat.NewDense(1, 2, []float64{0.5, 1})
	tests := []struct {
		start, want []float64
		objective   float64
	}{
		{[]float64{0, 0}, []float64{1, -1}, 2},
		{[]float64{-1, -1}, []float64{1, -1}, 2},
		// bit 0 = sgn(0.5 - 2) = -1, bit 1 = sgn(1 + 2) = 1.
		{[]float64{1, 1}, []float64{-1, 1}, 0},
		{[]float64{-1, 1}, []float64{-1, 1}, 0},
	}
	for _, tc := range tests {
		b := mat.NewDense(1, 2, slices.Clone(tc.start))
		dcc(b, q, w, 10)
		if got := b.RawRowView(0); !slices.Equal(got, tc.want) {
			t.Errorf("from %v: B = %v, want %v", tc.start, got, tc.want)
		}
		if got := bStepObjective(b, q, w); got != tc.objective {
			t.Errorf("from %v: objective %v, want %v", tc.start, got, tc.objective)
		}
	}
}

// bStepObjective is what the B-step minimizes, ||B W||^2 - 2 tr(B^T Q).
func bStepObjective(b, q, w *mat.Dense) float64 {
	var bw mat.Dense
	bw.Mul(b, w)
	f := mat.Norm(&bw, 2)
	return f*f - 2*mat.Sum(mulElem(b, q))
}

func mulElem(a, b *mat.Dense) *mat.Dense {
	var c mat.Dense
	c.MulElem(a, b)
	return &c
}

// TestDCC_LowersObjective: from a random code matrix, each sweep lowers
// the B-step objective or leaves it, and the first lowers it.
func TestDCC_LowersObjective(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	const n, bits, classes = 60, 8, 3
	gauss := func(r, c int) *mat.Dense {
		m := mat.NewDense(r, c, nil)
		for i := 0; i < r; i++ {
			for j := 0; j < c; j++ {
				m.Set(i, j, rng.NormFloat64())
			}
		}
		return m
	}
	w, q, b := gauss(bits, classes), gauss(n, bits), gauss(n, bits)
	b.Apply(func(_, _ int, v float64) float64 { return sgn(v) }, b)
	prev := bStepObjective(b, q, w)
	for sweep := 0; sweep < 5; sweep++ {
		dcc(b, q, w, 1)
		f := bStepObjective(b, q, w)
		if f > prev+1e-9 || sweep == 0 && f >= prev {
			t.Fatalf("sweep %d: objective %v after %v", sweep, f, prev)
		}
		prev = f
	}
}

// blobs returns n points per class in dim dimensions, class c around
// 3 e_c, with labels.
func blobs(n, dim, classes int, seed uint64) ([]float32, []int32) {
	rng := rand.New(rand.NewPCG(seed, 7))
	var x []float32
	var labels []int32
	for c := 0; c < classes; c++ {
		for i := 0; i < n; i++ {
			for d := 0; d < dim; d++ {
				v := 0.5 * rng.NormFloat64()
				if d == c {
					v += 3
				}
				x = append(x, float32(v))
			}
			labels = append(labels, int32(10*c+1))
		}
	}
	return x, labels
}

// TestSDH_Fit: on three separated classes the codes of new points of the
// same class agree on far more bits than those of different classes, and
// the same seed gives the same encoder.
func TestSDH_Fit(t *testing.T) {
	x, labels := blobs(40, 5, 3, 1)
	m := SDH{Anchors: 50, Lambda: 1, Nu: 1e-5, Ridge: 1e-2, Iterations: 5, Sweeps: 10}
	e, err := m.Fit(x, 5, labels, 16, 3)
	if err != nil {
		t.Fatal(err)
	}
	k, ok := e.(*encoder.Kernel)
	if !ok || k.M != 50 || k.Out != 16 || k.Inputs() != 5 {
		t.Fatalf("learned %T %+v", e, e)
	}
	test, testLabels := blobs(20, 5, 3, 2)
	out, err := k.Encode(test, len(testLabels))
	if err != nil {
		t.Fatal(err)
	}
	var same, other, nSame, nOther float64
	for i := range testLabels {
		for j := i + 1; j < len(testLabels); j++ {
			d := 0.0
			for b := 0; b < 16; b++ {
				if (out[i*16+b] > 0) != (out[j*16+b] > 0) {
					d++
				}
			}
			if testLabels[i] == testLabels[j] {
				same, nSame = same+d, nSame+1
			} else {
				other, nOther = other+d, nOther+1
			}
		}
	}
	if same/nSame > 2 || other/nOther < 6 {
		t.Errorf("mean Hamming distance %.2f within classes, %.2f across", same/nSame, other/nOther)
	}
	again, err := m.Fit(x, 5, labels, 16, 3)
	if err != nil || !slices.Equal(again.(*encoder.Kernel).Projection, k.Projection) {
		t.Errorf("same seed, different encoder (%v)", err)
	}
	for _, bad := range [][]int32{nil, labels[:10]} {
		if _, err := m.Fit(x, 5, bad, 16, 3); err == nil {
			t.Errorf("%d labels for %d vectors accepted", len(bad), len(labels))
		}
	}
}

// TestOneHot: labels 7, 3, 7, 9 are columns 1, 0, 1, 2.
func TestOneHot(t *testing.T) {
	got := oneHot([]int32{7, 3, 7, 9})
	want := mat.NewDense(4, 3, []float64{0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1})
	if !mat.Equal(got, want) {
		t.Errorf("one-hot\n%v", mat.Formatted(got))
	}
}

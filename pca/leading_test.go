package pca

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestLeading: on 300 rows of 200 dimensions with decaying scales (the
// shape of CNN descriptors' spectra), the subspace iteration gives the
// variances and directions (up to sign) of the full eigendecomposition.
func TestLeading(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	n, dim, k := 300, 200, 8
	x := make([]float32, n*dim)
	for i := 0; i < n; i++ {
		for j := 0; j < dim; j++ {
			x[i*dim+j] = float32(rng.NormFloat64() * math.Pow(0.97, float64(j)))
		}
	}
	_, c := Centre(x, n, dim)
	wp, vp, err := Principal(c, k)
	if err != nil {
		t.Fatal(err)
	}
	wl, vl, err := Leading(c, k, 1)
	if err != nil {
		t.Fatal(err)
	}
	for j := 0; j < k; j++ {
		if math.Abs(vl[j]-vp[j]) > 1e-6*vp[0] {
			t.Errorf("variance %d: %v, exact %v", j, vl[j], vp[j])
		}
		dot := 0.0
		for i := 0; i < dim; i++ {
			dot += wl.At(i, j) * wp.At(i, j)
		}
		if math.Abs(math.Abs(dot)-1) > 1e-6 {
			t.Errorf("direction %d: |cos| %v, want 1", j, math.Abs(dot))
		}
	}
	if _, _, err := Leading(c, dim+1, 1); err == nil {
		t.Error("more components than dimensions accepted")
	}
}

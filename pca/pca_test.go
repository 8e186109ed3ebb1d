package pca

import (
	"math"
	"testing"
)

// Rows (2,0), (-2,0), (0,1), (0,-1): mean 0; variances (over n-1 = 3)
// 8/3 along x and 2/3 along y.
func TestPrincipal(t *testing.T) {
	x := []float32{2, 0, -2, 0, 0, 1, 0, -1}
	mean, c := Centre(x, 4, 2)
	if mean[0] != 0 || mean[1] != 0 {
		t.Fatalf("mean %v", mean)
	}
	w, v, err := Principal(c, 2)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(v[0]-8.0/3) > 1e-12 || math.Abs(v[1]-2.0/3) > 1e-12 {
		t.Errorf("variances %v, want [8/3 2/3]", v)
	}
	if math.Abs(math.Abs(w.At(0, 0))-1) > 1e-12 || math.Abs(w.At(1, 0)) > 1e-12 {
		t.Errorf("first direction (%v, %v), want +-(1, 0)", w.At(0, 0), w.At(1, 0))
	}
	if _, _, err := Principal(c, 3); err == nil {
		t.Error("3 components of 2-D data accepted")
	}
}

// TestPrincipalDual: with fewer rows than dimensions the Gram-matrix path
// gives the variances and directions (up to sign) of the covariance path,
// which three copies of the rows (more rows than dimensions, same
// covariance up to the n-1 factor) take.
func TestPrincipalDual(t *testing.T) {
	x := []float32{1, 2, 0, 4, -1, 0, 3, 1, 2, 2, 2, 0, 5, 1, 1, 0, 0, 1, -2, 3}
	_, c := Centre(x, 4, 5)
	wd, vd, err := Principal(c, 3)
	if err != nil {
		t.Fatal(err)
	}
	x3 := append(append(append([]float32{}, x...), x...), x...)
	_, c3 := Centre(x3, 12, 5)
	wc, vc, err := Principal(c3, 3)
	if err != nil {
		t.Fatal(err)
	}
	for j := 0; j < 3; j++ {
		// Sums of squares triple; divided by n-1 = 3 and 11: 9/11.
		if math.Abs(vd[j]*9/11-vc[j]) > 1e-9 {
			t.Errorf("variance %d: dual %v, covariance %v", j, vd[j]*9/11, vc[j])
		}
		dot := 0.0
		for i := 0; i < 5; i++ {
			dot += wd.At(i, j) * wc.At(i, j)
		}
		if math.Abs(math.Abs(dot)-1) > 1e-9 {
			t.Errorf("direction %d: |cos| %v, want 1", j, math.Abs(dot))
		}
	}
}

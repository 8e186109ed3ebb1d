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

package hashing

import (
	"math"
	"testing"
)

func evalLoss(t *testing.T, m Deep, u [][]float32, labels []int32) float64 {
	t.Helper()
	return evalBatchLoss(t, m, u, labels, 0, 1)
}

// TestDSH_Loss: u = [[1, -1], [0.5, 0.5]], 2 bits, margin m = 4,
// ||u0 - u1||^2 = 0.25 + 2.25 = 2.5; regularizer rows: 0 and
// |0.5-1|+|0.5-1| = 1, mean 0.5, times alpha 0.01 = 0.005.
//
//	similar pair:    1/2 * mean([0, 2.5, 2.5, 0])             = 0.625
//	dissimilar pair: 1/2 * mean([0, 4-2.5, 4-2.5, 0])         = 0.375
//	(the diagonal pairs are "similar" at distance 0)
func TestDSH_Loss(t *testing.T) {
	u := [][]float32{{1, -1}, {0.5, 0.5}}
	tests := []struct {
		name   string
		labels []int32
		want   float64
	}{
		{"similar", []int32{3, 3}, 0.625 + 0.005},
		{"dissimilar", []int32{3, 4}, 0.375 + 0.005},
	}
	m := DSH{Alpha: 0.01, MarginPerBit: 2}
	for _, tc := range tests {
		if got := evalLoss(t, m, u, tc.labels); math.Abs(got-tc.want) > 1e-6 {
			t.Errorf("%s: loss = %v, want %v", tc.name, got, tc.want)
		}
	}
	// Past the margin a dissimilar pair costs nothing: distance 16 > 4.
	far := [][]float32{{1, 1}, {-1, -1}}
	if got := evalLoss(t, m, far, []int32{0, 1}); math.Abs(got) > 1e-6 {
		t.Errorf("far dissimilar pair: loss = %v, want 0", got)
	}
}

func TestRegistry(t *testing.T) {
	m, err := Lookup("dsh")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.(Deep); !ok || !m.Info().Supervised || m.Info().Paper == "" {
		t.Errorf("dsh registered as %+v", m.Info())
	}
	if _, err := Lookup("nope"); err == nil {
		t.Error("unknown method found")
	}
	defer func() {
		if recover() == nil {
			t.Error("registering dsh twice did not panic")
		}
	}()
	Register(DSH{})
}

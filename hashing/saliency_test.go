package hashing

import (
	"math"
	"testing"

	"github.com/lookalike/lookalike/encoder"
)

// TestSaliency_Loss: the loss is DSH's, so TestDSH_Loss's batch gives
// its values: u = [[1, -1], [0.5, 0.5]], margin 4, ||u0-u1||^2 = 2.5,
// regularizer 0.005; a similar pair costs 1/2 mean(0, 2.5, 2.5, 0) = 0.625,
// a dissimilar one 1/2 mean(0, 1.5, 1.5, 0) = 0.375.
func TestSaliency_Loss(t *testing.T) {
	u := [][]float32{{1, -1}, {0.5, 0.5}}
	m := Saliency{Pair: DSH{Alpha: 0.01, MarginPerBit: 2}, Units: 32}
	for _, tc := range []struct {
		name   string
		labels []int32
		want   float64
	}{
		{"similar", []int32{3, 3}, 0.630},
		{"dissimilar", []int32{3, 4}, 0.380},
	} {
		if got := evalLoss(t, m, u, tc.labels); math.Abs(got-tc.want) > 1e-6 {
			t.Errorf("%s: loss = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestArchitects_Network checks the registered network changes on the
// reference network: each adds its layer, leaves the rest as it was, and
// gives a network that validates.
func TestArchitects_Network(t *testing.T) {
	for _, tc := range []struct {
		method string
		want   string
	}{
		{"saliency", "28x28x1 conv32-bn-relu-pool conv64-bn-relu-pool attention32 fc512-relu fc48"},
		{"rnnhash", "28x28x1 conv32-bn-relu-pool conv64-bn-relu-pool fuse rnn256-rows-seq fc512-relu fc48"},
		{"lstmsiamese", "28x28x1 conv32-bn-relu-pool conv64-bn-relu-pool lstm64-seq fc512-relu fc48"},
	} {
		m, err := Lookup(tc.method)
		if err != nil {
			t.Fatal(err)
		}
		a, ok := m.(Architect)
		if _, deep := m.(Deep); !ok || !deep || !m.Info().Supervised || m.Info().Paper == "" {
			t.Fatalf("%s registered as %+v", tc.method, m.Info())
		}
		net := a.Network(encoder.Reference(48))
		if err := net.Validate(); err != nil {
			t.Errorf("%s: %v", tc.method, err)
		}
		if got := net.String(); got != tc.want {
			t.Errorf("%s: network %q, want %q", tc.method, got, tc.want)
		}
	}
}

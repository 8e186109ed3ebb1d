package hashing

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/lookalike/lookalike/encoder"
)

// TestDBDMQ_Objective: u = atanh of h0 = (0.5, -0.5) and h1 = (-0.5,
// -0.5), codes (1, -1) and (-1, -1). The identity decoder reconstructs
// the codes, error 0.25 + 0.25 = 0.5 for both; the decoder diag(0.6, 0.5)
// gives (0.6, -0.5) and (-0.6, -0.5), error 0.01 for both, and wins the
// min. The mean descriptor is (0, -0.5): J2 = 0.25 and J3 = 0.25.
// With lambda1 = 0.5 and lambda2 = 1: J = J1 - 0.125 + 0.25.
func TestDBDMQ_Objective(t *testing.T) {
	a := float32(math.Atanh(0.5))
	u := [][]float32{{a, -a}, {-a, -a}}
	identity := [][]float32{{1, 0}, {0, 1}}
	scaled := [][]float32{{0.6, 0}, {0, 0.5}}
	tests := []struct {
		name     string
		decoders [][][]float32
		want     float64
	}{
		{"rigid sign", [][][]float32{identity}, 0.5 - 0.125 + 0.25},
		{"best of two", [][][]float32{identity, scaled}, 0.01 - 0.125 + 0.25},
		{"best of two, other order", [][][]float32{scaled, identity}, 0.01 - 0.125 + 0.25},
	}
	m := DBDMQ{Lambda1: 0.5, Lambda2: 1}
	b, err := encoder.Backend()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		out, err := ExecOnce(b, m.objective, tensors.FromValue(u), tensors.FromValue(tc.decoders))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := tensors.CopyFlatData[float32](out)
		if math.Abs(float64(got[0])-tc.want) > 1e-5 {
			t.Errorf("%s: J = %.6f, want %.6f", tc.name, got[0], tc.want)
		}
	}
}

// TestDBDMQ_Loss: the loss makes K decoders of bits x bits near the
// identity, so that on the batch above it is near the rigid sign's 0.625
// (noise of 0.01 moves the reconstructions by about 0.01).
func TestDBDMQ_Loss(t *testing.T) {
	m := DBDMQ{K: 3, Lambda1: 0.5, Lambda2: 1}
	backend, err := encoder.Backend()
	if err != nil {
		t.Fatal(err)
	}
	store := model.NewStore()
	exec, err := model.NewExec(backend, store, func(scope *model.Scope, u *Node) *Node {
		return m.Loss(Batch{U: u, Scope: scope, Bits: 2})
	})
	if err != nil {
		t.Fatal(err)
	}
	a := float32(math.Atanh(0.5))
	out, err := exec.Exec(tensors.FromValue([][]float32{{a, -a}, {-a, -a}}))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := tensors.CopyFlatData[float32](out[0])
	if math.Abs(float64(got[0])-0.625) > 0.05 {
		t.Errorf("loss = %v, want about 0.625", got[0])
	}
	dims := map[string][]int{}
	for v := range store.IterVariables() {
		val, err := v.Value()
		if err != nil {
			t.Fatal(err)
		}
		dims[v.Name()] = val.Shape().Dimensions
	}
	if d := dims[DBDMQDecoders]; len(d) != 3 || d[0] != 3 || d[1] != 2 || d[2] != 2 {
		t.Errorf("decoders of dimensions %v, want [3 2 2]", d)
	}
}

// TestDBDMQ_Invariance: the rotation and decorrelation terms add to J, so
// the loss with them less the loss without is theirs alone (the decoders'
// noise is seeded, the same in both). u = atanh of h: the image h0 = (0.5,
// -0.5) and its copy rotated by 10 degrees h1 = (0.5, 0.5), one bit
// flipped: ||h0 - h1||^2 = 1, weighed by C = exp(-1/2) = 0.606531 (Sigma
// 10). Over the two rows h^T h / 2 = diag(0.25, 0.25), so the
// decorrelation term is 2 * 0.75^2 = 1.125 over 2 bits, 0.5625.
func TestDBDMQ_Invariance(t *testing.T) {
	a := float32(math.Atanh(0.5))
	u := [][]float32{{a, -a}, {a, a}}
	base := DBDMQ{K: 2, Lambda1: 0.5, Lambda2: 1, Angles: []float64{10}, Sigma: 10}
	tests := []struct {
		name             string
		lambda3, lambda4 float64
		want             float64
	}{
		{"off", 0, 0, 0},
		{"rotation", 2, 0, 2 * 0.606531},
		{"decorrelation", 0, 3, 3 * 0.5625},
		{"both", 1, 1, 0.606531 + 0.5625},
	}
	backend, err := encoder.Backend()
	if err != nil {
		t.Fatal(err)
	}
	loss := func(m DBDMQ) float64 {
		exec, err := model.NewExec(backend, model.NewStore(), func(scope *model.Scope, u *Node) *Node {
			return m.Loss(Batch{U: u, Scope: scope, Bits: 2, Views: 2})
		})
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Exec(tensors.FromValue(u))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := tensors.CopyFlatData[float32](out[0])
		return float64(got[0])
	}
	without := loss(base)
	for _, tc := range tests {
		m := base
		m.Lambda3, m.Lambda4 = tc.lambda3, tc.lambda4
		if got := loss(m) - without; math.Abs(got-tc.want) > 1e-5 {
			t.Errorf("%s: added %.6f, want %.6f", tc.name, got, tc.want)
		}
	}
	if m := (DBDMQ{Angles: []float64{-10, 10}}); m.Views() != 3 {
		t.Errorf("views = %d, want 3", m.Views())
	}
}

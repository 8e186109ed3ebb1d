package training

import (
	"context"
	"math"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"

	"github.com/lookalike/lookalike/hashing"
	"github.com/lookalike/lookalike/modelfile"
)

// Two terms of a probe loss on network outputs u, different enough that
// dropping either's gradient changes the trained weights.
func firstTerm(u *Node) *Node  { return ReduceAllMean(Square(AddScalar(u, -0.3))) }
func secondTerm(u *Node) *Node { return ReduceAllMean(Exp(MulScalar(u, 0.5))) }

// plainProbe is the two terms on the batch's outputs.
type plainProbe struct{ hashing.DSH }

func (plainProbe) Loss(b hashing.Batch) *Node { return Add(firstTerm(b.U), secondTerm(b.U)) }

// sharedProbe is the same loss with the second term on the network's
// shared pass over the batch's own images: the same outputs, so the same
// gradient, which reaches the network by automatic differentiation
// instead of the tape.
type sharedProbe struct{ plainProbe }

func (sharedProbe) Generate(b hashing.Batch) *Node { return b.Images }

func (sharedProbe) SharedLoss(b hashing.Batch, net hashing.Network) *Node {
	if net.OutputWeights == nil || net.OutputWeights.Shape().Dimensions[1] != b.U.Shape().Dimensions[1] {
		panic("no output layer")
	}
	return Add(firstTerm(b.U), secondTerm(net.Encode(b.Images)))
}

// TestTrain_SharedNetwork: training with a loss that runs the network a
// second time (hashing.SharedDiscriminator) ends where the loss on the
// batch's outputs alone ends: the tape's gradient and automatic
// differentiation's add up, and the second pass leaves the batch
// normalization's running statistics alone (updating them twice would
// move them further).
func TestTrain_SharedNetwork(t *testing.T) {
	c, s := tiny()
	c.Method = plainProbe{}
	want, err := Train(context.Background(), c, s)
	if err != nil {
		t.Fatal(err)
	}
	c.Method = sharedProbe{}
	got, err := Train(context.Background(), c, s)
	if err != nil {
		t.Fatal(err)
	}
	g := floats(got)
	checked := 0
	for name, w := range floats(want) {
		v, ok := g[name]
		if !ok || len(v) != len(w) {
			t.Errorf("%s: %d values, want %d", name, len(v), len(w))
			continue
		}
		for i := range w {
			if math.Abs(float64(v[i]-w[i])) > 1e-4*(1+math.Abs(float64(w[i]))) {
				t.Errorf("%s[%d] = %v, want %v", name, i, v[i], w[i])
				break
			}
		}
		checked++
	}
	if checked < 8 {
		t.Errorf("compared %d variables", checked)
	}
}

func floats(m *modelfile.Model) map[string][]float32 {
	out := map[string][]float32{}
	for _, v := range m.Variables {
		if v.DType != modelfile.Float32 {
			continue
		}
		f := make([]float32, len(v.Values))
		for i, x := range v.Values {
			f[i] = math.Float32frombits(uint32(x))
		}
		out[v.Name] = f
	}
	return out
}

package hashing

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/lookalike/lookalike/encoder"
)

// gahEval returns GAH's loss on u and its gradient with respect to u, with
// the attention network as in store (fresh: every a = 1/2).
func gahEval(t *testing.T, m GAH, store *model.Store, u [][]float32, labels []int32) (float64, []float32) {
	t.Helper()
	backend, err := encoder.Backend()
	if err != nil {
		t.Fatal(err)
	}
	exec, err := model.NewExec(backend, store, func(scope *model.Scope, u, labels *Node) []*Node {
		loss := m.Loss(Batch{U: u, Labels: labels, Scope: scope})
		return []*Node{loss, Gradient(loss, u)[0]}
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Exec(tensors.FromValue(u), tensors.FromValue(labels))
	if err != nil {
		t.Fatal(err)
	}
	loss, _ := tensors.CopyFlatData[float32](out[0])
	grad, _ := tensors.CopyFlatData[float32](out[1])
	return float64(loss[0]), grad
}

// TestGAH_Loss: u0 = (2, -0.5), u1 = (0.5, 0.5), one class, DSH with
// alpha 0.01 and margin 4.
//
//	L(u) = 1/2 mean([0, 3.25, 3.25, 0]) + 0.01 mean([1.5, 1]) = 0.825
//	g0 = (u0 - u1)/2 + 0.005 (sign(|u|-1) sign(u)) = (0.755, -0.495), g1 = -g0
//	RMS(g) = 0.638377; with a = 1/2 and eta = 1 the look-ahead codes are
//	u - g/(2 RMS) = (1.408656, -0.112298), (1.091344, 0.112298)
//	L(ahead) = 0.100693/4 + 0.01 mean([1.296358, 0.979046]) = 0.049160
//
// The value is L(u) + L(ahead) = 0.874160, and the network's gradient is
// the attended a g = g/2, not g nor anything through the look-ahead.
func TestGAH_Loss(t *testing.T) {
	m := GAH{Base: DSH{Alpha: 0.01, MarginPerBit: 2}, Eta: 1}
	loss, grad := gahEval(t, m, model.NewStore(), [][]float32{{2, -0.5}, {0.5, 0.5}}, []int32{1, 1})
	if math.Abs(loss-0.874160) > 1e-5 {
		t.Errorf("loss = %.6f, want 0.874160", loss)
	}
	want := []float64{0.3775, -0.2475, -0.3775, 0.2475}
	for i, w := range want {
		if math.Abs(float64(grad[i])-w) > 1e-6 {
			t.Errorf("dL/du = %v, want %v", grad, want)
			break
		}
	}
}

// TestGAH_AttentionLearns: a few plain gradient steps on the attention
// network's own variables (the network's outputs held fixed) lower the
// look-ahead loss, and the attention stops being uniform.
func TestGAH_AttentionLearns(t *testing.T) {
	m := GAH{Base: DSH{Alpha: 0.01, MarginPerBit: 2}, Eta: 1}
	u := [][]float32{{2, -0.5}, {0.5, 0.5}, {-1, 1}, {0.2, -0.3}}
	labels := []int32{1, 1, 2, 2}
	backend, err := encoder.Backend()
	if err != nil {
		t.Fatal(err)
	}
	store := model.NewStore()
	store.SetParam(model.ParamInitialSeed, int64(1))
	exec, err := model.NewExec(backend, store, func(scope *model.Scope, u, labels *Node) *Node {
		loss := m.Loss(Batch{U: u, Labels: labels, Scope: scope})
		var vars []*model.Variable
		var nodes []*Node
		for v := range scope.IterVariables() {
			if v.Trainable {
				vars = append(vars, v)
				nodes = append(nodes, v.NodeValue(u.Graph()))
			}
		}
		for i, gv := range Gradient(loss, nodes...) {
			vars[i].SetNodeValue(Sub(nodes[i], MulScalar(gv, 0.5)))
		}
		return loss
	})
	if err != nil {
		t.Fatal(err)
	}
	var first, last float64
	for step := range 30 {
		out, err := exec.Exec(tensors.FromValue(u), tensors.FromValue(labels))
		if err != nil {
			t.Fatal(err)
		}
		v, _ := tensors.CopyFlatData[float32](out[0])
		if step == 0 {
			first = float64(v[0])
		}
		last = float64(v[0])
	}
	if !(last < first-1e-3) {
		t.Errorf("loss went from %v to %v after 30 attention steps; want a decrease", first, last)
	}
}

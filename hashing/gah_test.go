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
// the attention network as in store (fresh: every a = 1/2) and the output
// layer's inputs features (nil for none).
func gahEval(t *testing.T, m GAH, store *model.Store, u, features [][]float32, labels []int32) (float64, []float32) {
	t.Helper()
	backend, err := encoder.Backend()
	if err != nil {
		t.Fatal(err)
	}
	exec, err := model.NewExec(backend, store, func(scope *model.Scope, inputs []*Node) []*Node {
		b := Batch{U: inputs[0], Labels: inputs[1], Scope: scope}
		if len(inputs) > 2 {
			b.Features = inputs[2]
		}
		loss := m.Loss(b)
		return []*Node{loss, Gradient(loss, b.U)[0]}
	})
	if err != nil {
		t.Fatal(err)
	}
	args := []any{tensors.FromValue(u), tensors.FromValue(labels)}
	if features != nil {
		args = append(args, tensors.FromValue(features))
	}
	out, err := exec.Exec(args...)
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
//
// Without features the codes move independently (K = I): RMS(g) =
// 0.638377, and with a = 1/2 and eta = 1 the look-ahead codes are
//
//	u - g/(2 RMS) = (1.408656, -0.112298), (1.091344, 0.112298)
//	L(ahead) = 0.151130/4 + 0.01 mean([1.296358, 0.979046]) = 0.049160
//
// With features F = (1; 0), K = F F^T + 1 = [[2, 1], [1, 1]]: K g =
// (g0, 0), RMS(K g) = 0.451401, and the step K (g/2) / RMS moves u0 alone:
//
//	ahead = (1.163715, 0.048293), (0.5, 0.5)
//	L(ahead) = 0.644557/4 + 0.01 mean([1.115422, 1]) = 0.171716
//
// The value is L(u) + L(ahead), and the network's gradient is the
// attended a g = g/2 either way, not g nor anything through the look-ahead.
func TestGAH_Loss(t *testing.T) {
	m := GAH{Base: DSH{Alpha: 0.01, MarginPerBit: 2}, Eta: 1}
	for _, tc := range []struct {
		name     string
		features [][]float32
		want     float64
	}{
		{"independent", nil, 0.874160},
		{"output layer", [][]float32{{1}, {0}}, 0.996716},
	} {
		loss, grad := gahEval(t, m, model.NewStore(), [][]float32{{2, -0.5}, {0.5, 0.5}}, tc.features, []int32{1, 1})
		if math.Abs(loss-tc.want) > 1e-5 {
			t.Errorf("%s: loss = %.6f, want %.6f", tc.name, loss, tc.want)
		}
		want := []float64{0.3775, -0.2475, -0.3775, 0.2475}
		for i, w := range want {
			if math.Abs(float64(grad[i])-w) > 1e-6 {
				t.Errorf("%s: dL/du = %v, want %v", tc.name, grad, want)
				break
			}
		}
	}
}

// TestOutputLayerStep: F = [[1, 0], [1, 2]], so K = F F^T + 1 = [[2, 2],
// [2, 6]], and d = [[1, -1], [2, 0]] gives K d = [[6, -2], [14, -2]];
// without features the step is d itself.
func TestOutputLayerStep(t *testing.T) {
	backend, err := encoder.Backend()
	if err != nil {
		t.Fatal(err)
	}
	d := [][]float32{{1, -1}, {2, 0}}
	for _, tc := range []struct {
		name     string
		features [][]float32
		want     []float32
	}{
		{"features", [][]float32{{1, 0}, {1, 2}}, []float32{6, -2, 14, -2}},
		{"none", nil, []float32{1, -1, 2, 0}},
	} {
		got, err := ExecOnce(backend, func(inputs []*Node) *Node {
			var f *Node
			if len(inputs) > 1 {
				f = inputs[1]
			}
			return OutputLayerStep(f, inputs[0])
		}, append([]any{d}, optional(tc.features)...)...)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := tensors.CopyFlatData[float32](got)
		for i := range tc.want {
			if math.Abs(float64(v[i]-tc.want[i])) > 1e-6 {
				t.Errorf("%s: step = %v, want %v", tc.name, v, tc.want)
				break
			}
		}
	}
}

// optional is the list of x, or nothing when x is nil.
func optional(x [][]float32) []any {
	if x == nil {
		return nil
	}
	return []any{x}
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

package encoder

import (
	"math"
	"testing"

	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
)

// TestAuto checks the automatic layer's backward step on a written layer
// (Dense) followed by y = tanh(x W) * s: the tape's gradients must equal
// those of automatic differentiation through the untaped network.
func TestAuto(t *testing.T) {
	x := tensors.FromFlatDataAndDimensions([]float32{0.5, -1, 2, 0.25, 1.5, -0.75}, 2, 3)
	r := tensors.FromFlatDataAndDimensions([]float32{1, -2, 0.5, 3}, 2, 2)
	// sub opens the layers' scopes: In for the first build, Shared for
	// the second, which reads the same variables.
	net := func(sub func(string, ...any) *model.Scope, t *Tape, x *Node) *Node {
		h := Dense(sub("dense"), t, x, 4, true, false)
		s := sub("auto")
		s = s.WithInitializer(initializer.RandomNormalFn(s, 0.5))
		w := s.VariableWithShape("w", shapes.Make(x.DType(), 4, 2))
		k := s.VariableWithShape("s", shapes.Make(x.DType(), 2))
		return Auto(t, h, []*model.Variable{w, k}, true, func(x *Node, v []*Node) *Node {
			return Mul(Tanh(MatMul(x, v[0])), BroadcastPrefix(v[1], x.Shape().Dimensions[0]))
		})
	}
	backend, _ := Backend()
	store := model.NewStore()
	store.SetParam(model.ParamInitialSeed, int64(7))
	var count int
	exec, err := model.NewExec(backend, store, func(scope *model.Scope, x, r *Node) []*Node {
		tape := NewTape()
		net(scope.In, tape, x)
		hand := tape.Backward(r)
		loss := ReduceAllSum(Mul(net(scope.Shared, nil, x), r))
		vars := tape.Variables()
		count = len(vars)
		nodes := make([]*Node, len(vars))
		for i, v := range vars {
			nodes[i] = v.NodeValue(x.Graph())
		}
		auto := Gradient(loss, nodes...)
		var out []*Node
		for i, v := range vars {
			out = append(out, hand[v], auto[i])
		}
		return out
	})
	if err != nil {
		t.Fatal(err)
	}
	outs, err := exec.Exec(x, r)
	if err != nil {
		t.Fatal(err)
	}
	if count != 4 {
		t.Fatalf("tape has %d variables, want 4 (dense weights and biases, w, s)", count)
	}
	for i := 0; i < len(outs); i += 2 {
		hand, _ := tensors.CopyFlatData[float32](outs[i])
		auto, _ := tensors.CopyFlatData[float32](outs[i+1])
		nonzero := false
		for j := range auto {
			if math.Abs(float64(hand[j]-auto[j])) > 1e-5 {
				t.Fatalf("variable %d [%d]: tape %v, automatic %v", i/2, j, hand[j], auto[j])
			}
			nonzero = nonzero || auto[j] != 0
		}
		if !nonzero {
			t.Errorf("variable %d: all gradients zero, the test checks nothing", i/2)
		}
	}
}

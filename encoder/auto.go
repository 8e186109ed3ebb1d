package encoder

import (
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
)

// Auto is a layer whose backward pass comes from GoMLX's automatic
// differentiation instead of a written one: y = f(x, values of vars). It
// suits small layers on top of the convolutional blocks (attention maps,
// recurrent cells) whose cost is negligible next to the convolutions, so
// the transposes automatic differentiation emits do not matter.
//
// On the tape, the backward step differentiates sum(y * g), g the
// gradient arriving at y held constant, with respect to x and to each
// variable: the vector-Jacobian products that the written layers compute
// by hand. inputGrad false skips x's gradient (the layer reads the raw
// input).
func Auto(t *Tape, x *Node, vars []*model.Variable, inputGrad bool, f func(x *Node, values []*Node) *Node) *Node {
	g := x.Graph()
	values := make([]*Node, len(vars))
	for i, v := range vars {
		values[i] = t.read(v, g)
	}
	if t == nil {
		return f(x, values)
	}
	// Automatic differentiation must not run below the layer's input:
	// the layers before it have their own backward steps.
	in := Identity(StopGradient(x))
	y := f(in, values)
	t.push(func(grad *Node) *Node {
		targets := values
		if inputGrad {
			targets = append([]*Node{in}, values...)
		}
		if len(targets) == 0 {
			return nil
		}
		grads := Gradient(ReduceAllSum(Mul(y, StopGradient(grad))), targets...)
		if inputGrad {
			grads, grad = grads[1:], grads[0]
		} else {
			grad = nil
		}
		for i, v := range vars {
			t.accumulate(v, grads[i])
		}
		return grad
	})
	return y
}

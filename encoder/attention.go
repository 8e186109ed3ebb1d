package encoder

import (
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
)

// Attend weights the maps x ([c, batch, h, w]) with a spatial attention
// map predicted from x itself: a 1x1 convolution to units ReLU channels,
// a second one to a single channel, and a sigmoid, so that every position
// of every map is scaled by a weight in (0, 1) shared by its channels (the
// saliency weighting of S. Wei et al., "Saliency Inside", IEEE TIP 2019).
// The output has x's shape.
//
// The branch is small next to the convolutions, so its backward pass comes
// from automatic differentiation (Auto). inputGrad says whether the
// backward pass returns x's gradient.
func Attend(scope *model.Scope, t *Tape, x *Node, units int, inputGrad bool) *Node {
	c := x.Shape().Dimensions[0]
	dtype := x.DType()
	hidden := scope.In("hidden").WithInitializer(TorchUniform(scope, c))
	out := scope.In("map").WithInitializer(TorchUniform(scope, units))
	vars := []*model.Variable{
		hidden.VariableWithShape("weights", shapes.Make(dtype, c, units)),
		hidden.VariableWithShape("biases", shapes.Make(dtype, units)),
		out.VariableWithShape("weights", shapes.Make(dtype, units, 1)),
		// A zero bias starts every weight at 1/2, so the branch first
		// scales all positions alike and learns to single some out.
		out.WithInitializer(initializer.Zero).VariableWithShape("biases", shapes.Make(dtype, 1)),
	}
	return Auto(t, x, vars, inputGrad, attend)
}

// attend weights x with the attention map computed by the branch whose
// variable values are v: hidden weights [c, units] and biases [units],
// map weights [units, 1] and bias [1].
func attend(x *Node, v []*Node) *Node {
	d := x.Shape().Dimensions
	c, n := d[0], d[1]*d[2]*d[3]
	units := v[1].Shape().Dimensions[0]
	maps := Reshape(x, c, n)
	// Both products contract the channel axis, first on each side.
	h := DotGeneral(v[0], []int{0}, nil, maps, []int{0}, nil) // [units, n]
	h = Relu(Add(h, BroadcastToDims(ExpandAxes(v[1], 1), units, n)))
	a := DotGeneral(v[2], []int{0}, nil, h, []int{0}, nil) // [1, n]
	a = Sigmoid(Add(a, BroadcastToDims(ExpandAxes(v[3], 1), 1, n)))
	return Reshape(Mul(maps, BroadcastToDims(a, c, n)), d...)
}

// Package generative holds the pieces the adversarial hashing methods
// share: small generator and discriminator networks trained by automatic
// differentiation inside a method's loss, the standard GAN losses, and
// the PNG pictures of a run (a grid of generated images, the loss
// curves).
//
// The networks are multi-layer perceptrons: automatic differentiation of
// convolutions is slow on the CPU backend, and a fully connected
// generator and discriminator keep a GAN step within a few times a plain
// hashing step on 28x28 images.
package generative

import (
	"math"

	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"

	"github.com/lookalike/lookalike/encoder"
)

// LeakySlope is the slope of the leaky ReLU below 0 in the discriminators,
// as DCGAN's (Radford et al., ICLR 2016).
const LeakySlope = 0.2

// Dense is the fully connected layer x W + b of x [rows, in] to [rows,
// out], its variables "weights" and "biases" in scope, initialized as
// PyTorch's nn.Linear. A frozen layer stops the gradient at its weights,
// so that a loss through it trains only what feeds it: the generator's
// loss sees the discriminator this way.
func Dense(scope *model.Scope, x *Node, out int, frozen bool) *Node {
	in := x.Shape().Dimensions[1]
	init := initializer.RandomUniformFn(scope, -1/math.Sqrt(float64(in)), 1/math.Sqrt(float64(in)))
	s := scope.WithInitializer(init)
	w := s.VariableWithShape("weights", shapes.Make(x.DType(), in, out)).NodeValue(x.Graph())
	b := s.VariableWithShape("biases", shapes.Make(x.DType(), out)).NodeValue(x.Graph())
	if frozen {
		w, b = StopGradient(w), StopGradient(b)
	}
	return Add(MatMul(x, w), ExpandAxes(b, 0))
}

// LeakyRelu is max(x, slope x) for 0 < slope < 1.
func LeakyRelu(x *Node, slope float64) *Node {
	return Max(x, MulScalar(x, slope))
}

// Flatten reshapes [rows, ...] to [rows, product of the rest].
func Flatten(x *Node) *Node {
	d := x.Shape().Dimensions
	return Reshape(x, d[0], x.Shape().Size()/d[0])
}

// Generator maps z [rows, dim] through ReLU layers of the hidden widths
// to images [rows, height, width, channels] in (0, 1) by a sigmoid, the
// range of the training images.
func Generator(scope *model.Scope, z *Node, hidden []int, height, width, channels int) *Node {
	x := z
	for i, h := range hidden {
		x = encoder.Relu(Dense(scope.At("g%d", i), x, h, false))
	}
	x = Sigmoid(Dense(scope.At("g_out"), x, height*width*channels, false))
	return Reshape(x, z.Shape().Dimensions[0], height, width, channels)
}

// Discriminator maps images [rows, ...] (flattened), joined by cond [rows,
// k] when cond is not nil (a code or a label to condition on), through
// leaky-ReLU layers of the hidden widths to one logit per row. It also
// returns the last hidden layer [rows, hidden[last]], the features that
// perceptual content losses compare. frozen stops the gradient at every
// weight (see Dense).
func Discriminator(scope *model.Scope, images, cond *Node, hidden []int, frozen bool) (logits, features *Node) {
	x := Flatten(images)
	if cond != nil {
		x = Concatenate([]*Node{x, cond}, 1)
	}
	for i, h := range hidden {
		x = LeakyRelu(Dense(scope.At("d%d", i), x, h, frozen), LeakySlope)
	}
	return Reshape(Dense(scope.At("d_out"), x, 1, frozen), x.Shape().Dimensions[0]), x
}

// DiscriminatorLoss is the GAN discriminator's cross-entropy of
// Goodfellow et al. (NeurIPS 2014), -E log D(real) - E log(1 - D(fake)),
// from the logits of D = sigmoid(logits): softplus(-r) = -log sigmoid(r)
// and softplus(f) = -log(1 - sigmoid(f)), stable for large logits.
func DiscriminatorLoss(real, fake *Node) *Node {
	return Add(ReduceAllMean(Softplus(Neg(real))), ReduceAllMean(Softplus(fake)))
}

// GeneratorLoss is the non-saturating generator loss of the same paper,
// -E log D(fake), which gives the generator gradients while the
// discriminator still wins easily (its section 3).
func GeneratorLoss(fake *Node) *Node {
	return ReduceAllMean(Softplus(Neg(fake)))
}

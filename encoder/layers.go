package encoder

import (
	"fmt"
	"math"

	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
)

// Conv2D is a stride-1 "same" convolution written as patch extraction plus
// one matrix product.
//
// The pure-Go backend's own convolution is a naive single-threaded loop;
// concatenating the kernel's shifted views along the channel axis and
// multiplying once by a [kernel*kernel*channels, filters] matrix uses its
// SIMD, multi-core matmul instead, forward and backward.
//
// Input x is [batch, height, width, channels]; the output is
// [batch, height, width, filters]. kernel must be odd. useBias adds a
// learned bias per filter; a convolution followed by batch normalization
// leaves it out, as the normalization subtracts any constant (its gradient
// there is zero), which saves a broadcast add and a reduction per step.
func Conv2D(scope *model.Scope, x *Node, filters, kernel int, useBias bool) *Node {
	if x.Rank() != 4 {
		panic(fmt.Sprintf("encoder.Conv2D: input must be [batch, h, w, c], got %s", x.Shape()))
	}
	if kernel%2 != 1 {
		panic(fmt.Sprintf("encoder.Conv2D: kernel must be odd, got %d", kernel))
	}
	dims := x.Shape().Dimensions
	b, h, w, c := dims[0], dims[1], dims[2], dims[3]
	patches := Patches(x, kernel)
	fanIn := kernel * kernel * c
	weights := scope.WithInitializer(TorchUniform(scope, fanIn)).
		VariableWithShape("weights", shapes.Make(x.DType(), fanIn, filters)).NodeValue(x.Graph())
	y := MatMul(Reshape(patches, b*h*w, kernel*kernel*c), weights)
	if useBias {
		bias := scope.WithInitializer(TorchUniform(scope, fanIn)).VariableWithShape("bias", shapes.Make(x.DType(), filters)).NodeValue(x.Graph())
		y = AddRow(y, bias)
	}
	return Reshape(y, b, h, w, filters)
}

// Patches returns the kernel x kernel neighbourhood of every pixel of x
// ([batch, h, w, c]), zero-padded at the borders, as
// [batch, h, w, kernel*kernel*c] in (dy, dx, c) order.
//
// Padding is built with Concatenate rather than Pad because the pure-Go
// backend has no gradient for Pad.
func Patches(x *Node, kernel int) *Node {
	dims := x.Shape().Dimensions
	b, h, w, c := dims[0], dims[1], dims[2], dims[3]
	r := kernel / 2
	if r == 0 {
		return x
	}
	g := x.Graph()
	zh := Zeros(g, shapes.Make(x.DType(), b, r, w, c))
	xp := Concatenate([]*Node{zh, x, zh}, 1)
	zw := Zeros(g, shapes.Make(x.DType(), b, h+2*r, r, c))
	xp = Concatenate([]*Node{zw, xp, zw}, 2)
	views := make([]*Node, 0, kernel*kernel)
	for dy := 0; dy < kernel; dy++ {
		for dx := 0; dx < kernel; dx++ {
			views = append(views, Slice(xp, AxisRange(), AxisRange(dy, dy+h), AxisRange(dx, dx+w), AxisRange()))
		}
	}
	return Concatenate(views, 3)
}

// MaxPool2 is a 2x2, stride-2 max pooling written as Reshape plus ReduceMax,
// which the pure-Go backend can differentiate (it has no gradient for its
// windowed max pooling). Odd trailing rows and columns are dropped, as
// PyTorch's max_pool2d does.
//
// Input [batch, h, w, c]; output [batch, h/2, w/2, c].
func MaxPool2(x *Node) *Node {
	dims := x.Shape().Dimensions
	b, h, w, c := dims[0], dims[1], dims[2], dims[3]
	if h%2 != 0 || w%2 != 0 {
		x = Slice(x, AxisRange(), AxisRange(0, h-h%2), AxisRange(0, w-w%2), AxisRange())
		h, w = h-h%2, w-w%2
	}
	return ReduceMax(Reshape(x, b, h/2, 2, w/2, 2, c), 2, 4)
}

// Relu is max(x, 0) written with Where, whose gradient is a single select;
// GoMLX's activation.Relu is a Max whose gradient builds sign indicators for
// both operands, several times slower on the pure-Go backend.
func Relu(x *Node) *Node {
	zeros := ZerosLike(x)
	return Where(GreaterThan(x, zeros), x, zeros)
}

// BatchNorm normalizes x ([..., channels]) over every axis but the last, as
// Ioffe and Szegedy's batch normalization, with PyTorch's defaults
// (momentum 0.1 for the running averages, epsilon 1e-5) so that networks
// match the PyTorch references.
//
// It differs from GoMLX's norm.BatchNorm in two ways that matter here: the
// gradient flows through the batch mean and variance (GoMLX stops it there
// unless the backend has a fused op, which the pure-Go backend lacks), and
// the per-channel sums are matrix products, which that backend runs with
// SIMD on all cores, instead of generic reductions.
//
// In training the batch statistics normalize and update the running
// averages (unbiased variance, as PyTorch); in inference the running
// averages normalize.
func BatchNorm(scope *model.Scope, x *Node) *Node {
	g := x.Graph()
	dims := x.Shape().Dimensions
	c := dims[len(dims)-1]
	n := x.Shape().Size() / c
	scope = scope.In("batchnorm")
	vs := shapes.Make(x.DType(), c)
	gamma := scope.WithInitializer(initializer.One).VariableWithShape("scale", vs).NodeValue(g)
	beta := scope.WithInitializer(initializer.Zero).VariableWithShape("offset", vs).NodeValue(g)
	meanVar := scope.WithInitializer(initializer.Zero).VariableWithShape("mean", vs).SetTrainable(false)
	varVar := scope.WithInitializer(initializer.One).VariableWithShape("variance", vs).SetTrainable(false)

	x2 := Reshape(x, n, c)
	var mean, variance *Node
	if scope.IsTraining(g) {
		mean = ReduceMean(x2, 0)
		variance = Sub(ReduceMean(Square(x2), 0), Square(mean))
		const momentum = 0.1
		unbiased := MulScalar(StopGradient(variance), float64(n)/float64(max(n-1, 1)))
		meanVar.SetNodeValue(Add(MulScalar(meanVar.NodeValue(g), 1-momentum), MulScalar(StopGradient(mean), momentum)))
		varVar.SetNodeValue(Add(MulScalar(varVar.NodeValue(g), 1-momentum), MulScalar(unbiased, momentum)))
	} else {
		mean, variance = meanVar.NodeValue(g), varVar.NodeValue(g)
	}
	scale := Div(gamma, Sqrt(AddScalar(variance, 1e-5)))
	shift := Sub(beta, Mul(mean, scale))
	y := AddRow(MulRow(x2, scale), shift)
	return Reshape(y, dims...)
}

// AddRow adds the vector row ([c]) to every row of x ([n, c]).
//
// The row is broadcast explicitly; other forms tried on the pure-Go
// backend (implicit broadcasting, or folding the bias into the matrix
// product as [x 1] @ [W; b]) were slower, the second because packing the
// wider left operand costs more than the add.
func AddRow(x, row *Node) *Node {
	return Add(x, BroadcastToDims(ExpandAxes(row, 0), x.Shape().Dimensions...))
}

// MulRow multiplies every row of x ([n, c]) by the vector row ([c]).
func MulRow(x, row *Node) *Node {
	return Mul(x, BroadcastToDims(ExpandAxes(row, 0), x.Shape().Dimensions...))
}

// Dense is a fully connected layer with bias: [batch, in] -> [batch, out].
func Dense(scope *model.Scope, x *Node, out int) *Node {
	g := x.Graph()
	in := x.Shape().Dimensions[1]
	init := TorchUniform(scope, in)
	w := scope.WithInitializer(init).VariableWithShape("weights", shapes.Make(x.DType(), in, out)).NodeValue(g)
	b := scope.WithInitializer(init).VariableWithShape("biases", shapes.Make(x.DType(), out)).NodeValue(g)
	return AddRow(MatMul(x, w), b)
}

// TorchUniform initializes weights and biases uniformly in
// [-1/sqrt(fanIn), 1/sqrt(fanIn)], PyTorch's default for nn.Linear and
// nn.Conv2d (kaiming_uniform with a = sqrt(5)), so that networks start where
// the PyTorch references start. GoMLX's default (He normal) starts the
// output layer about 2.5 times larger, which changes where DSH's margin
// bites early in training.
func TorchUniform(scope *model.Scope, fanIn int) initializer.VariableInitializer {
	bound := 1 / math.Sqrt(float64(fanIn))
	return initializer.RandomUniformFn(scope, -bound, bound)
}

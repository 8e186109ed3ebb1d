package encoder

import (
	"fmt"
	"math"
	"slices"

	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
)

// The layers below work on channels-first maps, [channels, batch, height,
// width], and each writes its own backward pass onto a Tape.
//
// Both choices come from what the pure-Go backend runs fast. Its matrix
// product is SIMD and multi-core when the contracted axis is last on the
// left and first or last on the right; every other layout costs a
// transpose, which (like reductions and implicit broadcasts) runs through a
// generic per-element iterator several times slower than a plain
// element-wise loop. GoMLX's automatic differentiation of a matrix product
// always emits such transposes, identity ones included, and they made up
// most of a training step. With channels first, the convolution is
// W^T [filters, k] @ patches [k, pixels], and its two gradients are
// products in native layouts too; per-channel sums are products with a
// vector of ones; and the written backward pass of batch normalization
// followed by max-pooling touches the full-size map a few times instead of
// dozens.

// Tape records, during a training forward pass, one backward step per
// layer and the trainable variables each layer read. A nil *Tape records
// nothing: the same layer code then builds the inference graph.
type Tape struct {
	steps []func(grad *Node) *Node
	vars  []*model.Variable
	grads map[*model.Variable]*Node
	// features is the output layer's input, set by the network.
	features *Node
}

// NewTape returns an empty tape.
func NewTape() *Tape { return &Tape{grads: map[*model.Variable]*Node{}} }

// read returns v's value in g and, when taping, remembers v.
func (t *Tape) read(v *model.Variable, g *Graph) *Node {
	if t != nil {
		t.vars = append(t.vars, v)
	}
	return v.NodeValue(g)
}

// push adds a backward step: given the gradient of the loss with respect to
// the layer's output, it records the gradients of the layer's variables and
// returns the gradient with respect to the layer's input (nil when no layer
// before it needs one).
func (t *Tape) push(step func(grad *Node) *Node) {
	if t != nil {
		t.steps = append(t.steps, step)
	}
}

func (t *Tape) accumulate(v *model.Variable, grad *Node) {
	if prev, ok := t.grads[v]; ok {
		grad = Add(prev, grad)
	}
	t.grads[v] = grad
}

// Features returns the activations [batch, width] that the network's
// output layer read in the pass the tape recorded (nil before the output
// layer ran): an SGD step on that layer alone moves the outputs of the
// batch by -rate (F F^T + 1) d for output gradients d, which a loss can use
// to look one step ahead (hashing.GAH).
func (t *Tape) Features() *Node { return t.features }

// Variables lists the trainable variables that Backward gives gradients
// for, in the order the layers read them.
func (t *Tape) Variables() []*model.Variable { return t.vars }

// Backward runs the backward steps in reverse from grad, the gradient of
// the loss with respect to the network's output, and returns the gradient
// of every variable of Variables.
func (t *Tape) Backward(grad *Node) map[*model.Variable]*Node {
	for i := len(t.steps) - 1; i >= 0 && grad != nil; i-- {
		grad = t.steps[i](grad)
	}
	return t.grads
}

// Side collects, during the backward pass, the gradient that later layers
// send to an earlier layer's output through a skip connection.
type Side struct{ grad *Node }

// Branch marks the output of the layers taped so far as read again by a
// later layer (a skip connection). That layer sends its gradient for the
// output with Send; the backward pass adds it to the gradient arriving
// from the layers in between. A nil tape returns nil.
func (t *Tape) Branch() *Side {
	if t == nil {
		return nil
	}
	s := &Side{}
	t.push(func(grad *Node) *Node {
		if s.grad != nil {
			grad = Add(grad, s.grad)
		}
		return grad
	})
	return s
}

// Send adds grad to the gradient of the branched output. It is a no-op on
// a nil Side, as when no tape records.
func (s *Side) Send(grad *Node) {
	if s == nil {
		return
	}
	if s.grad != nil {
		grad = Add(s.grad, grad)
	}
	s.grad = grad
}

// Fuse concatenates, channel-wise, the maps of earlier blocks to x ([c,
// batch, h, w], the last block's output), each earlier map average-pooled
// by 2x2 windows (an odd last row or column dropped, as the blocks'
// max-pooling drops it) until it has x's size. The backward pass returns
// x's share of the gradient and sends each earlier map's share, unpooled,
// to its branch.
func Fuse(t *Tape, x *Node, earlier []*Node, sides []*Side) *Node {
	d := x.Shape().Dimensions
	parts := []*Node{x}
	var shapes [][][]int // per earlier map, its shape before each pooling
	for _, e := range earlier {
		var before [][]int
		for e.Shape().Dimensions[2] > d[2] || e.Shape().Dimensions[3] > d[3] {
			before = append(before, e.Shape().Dimensions)
			e = avgPool2(e)
		}
		if ed := e.Shape().Dimensions; ed[2] != d[2] || ed[3] != d[3] {
			panic(fmt.Sprintf("encoder: cannot pool a %dx%d map to %dx%d", ed[2], ed[3], d[2], d[3]))
		}
		shapes = append(shapes, before)
		parts = append(parts, e)
	}
	t.push(func(grad *Node) *Node {
		at := d[0]
		for i, p := range parts[1:] {
			c := p.Shape().Dimensions[0]
			gp := Slice(grad, AxisRange(at, at+c))
			at += c
			for k := len(shapes[i]) - 1; k >= 0; k-- {
				gp = avgUnpool2(gp, shapes[i][k])
			}
			sides[i].Send(gp)
		}
		return Slice(grad, AxisRange(0, d[0]))
	})
	return Concatenate(parts, 0)
}

// FuseRows concatenates, feature-wise, the outputs of earlier fully
// connected layers ([batch, features] each) after x, the last one's: the
// fully connected form of Fuse. The backward pass returns x's share of the
// gradient and sends each earlier output's share through its side.
func FuseRows(t *Tape, x *Node, earlier []*Node, sides []*Side) *Node {
	parts := append([]*Node{x}, earlier...)
	t.push(func(grad *Node) *Node {
		at := x.Shape().Dimensions[1]
		for i, p := range earlier {
			f := p.Shape().Dimensions[1]
			sides[i].Send(Slice(grad, AxisRange(), AxisRange(at, at+f)))
			at += f
		}
		return Slice(grad, AxisRange(), AxisRange(0, x.Shape().Dimensions[1]))
	})
	return Concatenate(parts, 1)
}

// avgPool2 averages the 2x2 windows of maps [c, batch, h, w].
func avgPool2(x *Node) *Node {
	d := x.Shape().Dimensions
	c, b, h, w := d[0], d[1], d[2], d[3]
	h2, w2 := h/2, w/2
	if h%2 != 0 || w%2 != 0 {
		x = Slice(x, AxisRange(), AxisRange(), AxisRange(0, 2*h2), AxisRange(0, 2*w2))
	}
	x = Reshape(x, c*b*h2, 2, w2, 2)
	corner := func(i, j int) *Node { return Slice(x, AxisRange(), AxisElem(i), AxisRange(), AxisElem(j)) }
	sum := Add(Add(corner(0, 0), corner(0, 1)), Add(corner(1, 0), corner(1, 1)))
	return Reshape(MulScalar(sum, 0.25), c, b, h2, w2)
}

// avgUnpool2 is avgPool2's backward pass: each input of a window gets a
// quarter of the window's gradient, a dropped row or column none. dims is
// the shape of avgPool2's input.
func avgUnpool2(grad *Node, dims []int) *Node {
	c, b, h, w := dims[0], dims[1], dims[2], dims[3]
	h2, w2 := h/2, w/2
	q := Reshape(MulScalar(grad, 0.25), c*b*h2, 1, w2, 1)
	row := Concatenate([]*Node{q, q}, 3)
	out := Reshape(Concatenate([]*Node{row, row}, 1), c, b, 2*h2, 2*w2)
	if h%2 != 0 || w%2 != 0 {
		out = padAxes(out, 0, h%2, 0, w%2)
	}
	return out
}

// ChannelsFirst turns images [batch, h, w, c] into maps [c, batch, h, w].
func ChannelsFirst(x *Node) *Node {
	d := x.Shape().Dimensions
	if d[3] == 1 {
		return Reshape(x, 1, d[0], d[1], d[2])
	}
	return TransposeAllAxes(x, 3, 0, 1, 2)
}

// Flatten turns maps [c, batch, h, w] into rows [batch, h*w*c] in
// (y, x, channel) order, the order of a flattened [batch, h, w, c] image,
// which is what the first dense layer's weights were trained on in model
// files written before the layers went channels-first.
func Flatten(t *Tape, x *Node) *Node {
	d := x.Shape().Dimensions
	c, b, h, w := d[0], d[1], d[2], d[3]
	t.push(func(grad *Node) *Node {
		return TransposeAllAxes(Reshape(grad, b, h, w, c), 3, 0, 1, 2)
	})
	return Reshape(TransposeAllAxes(x, 1, 2, 3, 0), b, h*w*c)
}

// Conv2D is a stride-1 "same" convolution without bias (batch
// normalization follows it and would cancel a bias), written as patch
// extraction plus one matrix product.
//
// Input x is [channels, batch, h, w]; the output is [filters, batch, h,
// w]. kernel must be odd. The weights are [kernel*kernel*channels,
// filters] with rows in (dy, dx, channel) order. inputGrad says whether the
// backward pass must return the gradient with respect to x; the first
// layer of a network does not need it.
func Conv2D(scope *model.Scope, t *Tape, x *Node, filters, kernel int, inputGrad bool) *Node {
	if x.Rank() != 4 {
		panic(fmt.Sprintf("encoder.Conv2D: input must be [c, batch, h, w], got %s", x.Shape()))
	}
	if kernel%2 != 1 {
		panic(fmt.Sprintf("encoder.Conv2D: kernel must be odd, got %d", kernel))
	}
	g := x.Graph()
	d := x.Shape().Dimensions
	c, b, h, w := d[0], d[1], d[2], d[3]
	k := kernel * kernel * c
	v := scope.WithInitializer(TorchUniform(scope, k)).VariableWithShape("weights", shapes.Make(x.DType(), k, filters))
	weights := t.read(v, g)
	patches := Patches(x, kernel)
	y := MatMul(Transpose(weights, 0, 1), patches) // [filters, pixels]
	t.push(func(grad *Node) *Node {
		grad = Reshape(grad, filters, b*h*w)
		// dW = patches @ grad^T: both contract their last axis. The
		// backend's product is faster with the operand of fewer rows on
		// the left (BenchmarkTrain_Reference moves with the choice).
		if k < filters {
			t.accumulate(v, DotGeneral(patches, []int{1}, nil, grad, []int{1}, nil))
		} else {
			t.accumulate(v, Transpose(DotGeneral(grad, []int{1}, nil, patches, []int{1}, nil), 0, 1))
		}
		if !inputGrad {
			return nil
		}
		return patchesGrad(weights, grad, c, b, h, w, kernel)
	})
	return Reshape(y, filters, b, h, w)
}

// Patches returns the kernel x kernel neighbourhood of every pixel of x
// ([c, batch, h, w]), zero-padded at the borders, as
// [kernel*kernel*c, batch*h*w] with rows in (dy, dx, channel) order.
//
// Padding is built with Concatenate, which the pure-Go backend runs several
// times faster than Pad.
func Patches(x *Node, kernel int) *Node {
	d := x.Shape().Dimensions
	c, b, h, w := d[0], d[1], d[2], d[3]
	r := kernel / 2
	if r == 0 {
		return Reshape(x, c, b*h*w)
	}
	xp := padBorders(x, r)
	views := make([]*Node, 0, kernel*kernel)
	for dy := 0; dy < kernel; dy++ {
		for dx := 0; dx < kernel; dx++ {
			views = append(views, Slice(xp, AxisRange(), AxisRange(), AxisRange(dy, dy+h), AxisRange(dx, dx+w)))
		}
	}
	return Reshape(Concatenate(views, 0), kernel*kernel*c, b*h*w)
}

// padBorders surrounds the h and w axes of x ([c, batch, h, w]) with r
// zeros on each side.
func padBorders(x *Node, r int) *Node {
	return padAxes(x, r, r, r, r)
}

// padAxes adds top, bottom zero rows and left, right zero columns to x
// ([c, batch, h, w]).
func padAxes(x *Node, top, bottom, left, right int) *Node {
	return padAxis(padAxis(x, 2, top, bottom), 3, left, right)
}

// padAxis adds before and after zeros along axis of x.
func padAxis(x *Node, axis, before, after int) *Node {
	if before+after == 0 {
		return x
	}
	dims := slices.Clone(x.Shape().Dimensions)
	zeros := func(n int) *Node {
		dims[axis] = n
		return Zeros(x.Graph(), shapes.Make(x.DType(), dims...))
	}
	var parts []*Node
	if before > 0 {
		parts = append(parts, zeros(before))
	}
	parts = append(parts, x)
	if after > 0 {
		parts = append(parts, zeros(after))
	}
	return Concatenate(parts, axis)
}

// patchesGrad is the gradient of a convolution with respect to its input:
// for each kernel offset, the product of that offset's weight rows with the
// output gradient, shifted back to where the offset read it.
//
// One small product per offset avoids slicing the [k, pixels] gradient of
// the patches; shifting by zero-padding the offset's contribution and
// cropping once at the end avoids a slice per offset.
func patchesGrad(weights, grad *Node, c, b, h, w, kernel int) *Node {
	r := kernel / 2
	var sum *Node
	for dy := 0; dy < kernel; dy++ {
		// The offsets of one kernel row share their vertical shift: sum
		// their horizontally shifted contributions, then shift once.
		var row *Node
		for dx := 0; dx < kernel; dx++ {
			o := dy*kernel + dx
			part := Reshape(MatMul(Slice(weights, AxisRange(o*c, (o+1)*c), AxisRange()), grad), c, b, h, w)
			// The offset read input pixel (y+dy-r, x+dx-r) for output (y, x):
			// in the padded frame, its contribution starts at row dy, column dx.
			part = padAxes(part, 0, 0, dx, 2*r-dx)
			if row == nil {
				row = part
			} else {
				row = Add(row, part)
			}
		}
		row = padAxes(row, dy, 2*r-dy, 0, 0)
		if sum == nil {
			sum = row
		} else {
			sum = Add(sum, row)
		}
	}
	if r == 0 {
		return sum
	}
	return Slice(sum, AxisRange(), AxisRange(), AxisRange(r, r+h), AxisRange(r, r+w))
}

// NormPoolRelu is batch normalization, 2x2 stride-2 max pooling and ReLU
// of a block's convolution output x ([c, batch, h, w]); it returns
// [c, batch, h/2, w/2]. Odd trailing rows and columns are dropped, as
// PyTorch's max_pool2d does.
//
// The normalization is Ioffe and Szegedy's with PyTorch's defaults
// (momentum 0.1 for the running averages, epsilon 1e-5, unbiased running
// variance), so that networks match the PyTorch references: in training the
// batch statistics normalize, and the gradient flows through them; in
// inference the running averages normalize.
//
// The three are one function because they are computed in another order
// that gives the same values with less work on the full-size map. The
// normalization is a per-channel affine map s*x + t; the maximum of a
// window of s*x + t is s*max(x) + t where s > 0 and s*min(x) + t where
// s < 0, and ReLU commutes with max-pooling; so the window's maximum or
// minimum is taken first and the affine map and the ReLU run on a quarter
// of the values. The backward pass routes the gradient to the first corner
// holding the selected extreme, as PyTorch's pooling does, and takes the
// normalization's gradient in closed form, dx = s*dy + B*x + A per channel.
func NormPoolRelu(scope *model.Scope, t *Tape, x *Node) *Node {
	g := x.Graph()
	d := x.Shape().Dimensions
	c, b, h, w := d[0], d[1], d[2], d[3]
	m := b * h * w
	h2, w2 := h/2, w/2
	m4 := b * h2 * w2
	dtype := x.DType()
	scope = scope.In("batchnorm")
	vs := shapes.Make(dtype, c)
	gammaVar := scope.WithInitializer(initializer.One).VariableWithShape("scale", vs)
	betaVar := scope.WithInitializer(initializer.Zero).VariableWithShape("offset", vs)
	meanVar := scope.WithInitializer(initializer.Zero).VariableWithShape("mean", vs).SetTrainable(false)
	varVar := scope.WithInitializer(initializer.One).VariableWithShape("variance", vs).SetTrainable(false)
	gamma, beta := t.read(gammaVar, g), t.read(betaVar, g)

	x2 := Reshape(x, c, m)
	channelSum := func(y *Node) *Node {
		return Reshape(MatMul(y, Ones(g, shapes.Make(dtype, y.Shape().Dimensions[1], 1))), c)
	}

	var mean, variance *Node
	if scope.IsTraining(g) {
		mean = DivScalar(channelSum(x2), float64(m))
		variance = floorZero(Sub(DivScalar(channelSum(Mul(x2, x2)), float64(m)), Square(mean)))
		const momentum = 0.1
		unbiased := MulScalar(variance, float64(m)/float64(max(m-1, 1)))
		meanVar.SetNodeValue(Add(MulScalar(meanVar.NodeValue(g), 1-momentum), MulScalar(mean, momentum)))
		varVar.SetNodeValue(Add(MulScalar(varVar.NodeValue(g), 1-momentum), MulScalar(unbiased, momentum)))
	} else {
		mean, variance = meanVar.NodeValue(g), varVar.NodeValue(g)
	}
	invStd := Reciprocal(Sqrt(AddScalar(variance, 1e-5)))
	scale := Mul(gamma, invStd)
	shift := Sub(beta, Mul(mean, scale))

	// The four corners of every window, as strided views of x.
	xc := x
	if h%2 != 0 || w%2 != 0 {
		xc = Slice(x, AxisRange(), AxisRange(), AxisRange(0, 2*h2), AxisRange(0, 2*w2))
	}
	xc = Reshape(xc, c*b*h2, 2, w2, 2)
	corner := func(i, j int) *Node {
		return Reshape(Slice(xc, AxisRange(), AxisElem(i), AxisRange(), AxisElem(j)), c, m4)
	}
	corners := []*Node{corner(0, 0), corner(0, 1), corner(1, 0), corner(1, 1)}
	hi := Max(Max(corners[0], corners[1]), Max(corners[2], corners[3]))
	lo := Min(Min(corners[0], corners[1]), Min(corners[2], corners[3]))
	positiveScale := ConvertDType(GreaterThan(scale, ZerosLike(scale)), dtype)
	selected := MatMul(Concatenate([]*Node{diag(positiveScale), diag(OneMinus(positiveScale))}, 1), Concatenate([]*Node{hi, lo}, 0))
	y := affine(scale, shift, selected)
	zeros := ZerosLike(y)
	positive := GreaterThan(y, zeros)
	out := Where(positive, y, zeros)

	t.push(func(grad *Node) *Node {
		dy := Where(positive, Reshape(grad, c, m4), zeros) // w.r.t. the normalized, pooled values
		sumDy := channelSum(dy)
		sumDyX := channelSum(Mul(dy, selected))
		dGamma := Mul(invStd, Sub(sumDyX, Mul(mean, sumDy)))
		t.accumulate(betaVar, sumDy)
		t.accumulate(gammaVar, dGamma)

		// The s*dy term of dx, routed to the first corner holding the
		// selected value.
		rest := MatMul(diag(scale), dy)
		var parts [4]*Node
		for i, cn := range corners[:3] {
			hit := Equal(cn, selected)
			parts[i] = Reshape(Where(hit, rest, zeros), c*b*h2, 1, w2, 1)
			rest = Where(hit, zeros, rest)
		}
		parts[3] = Reshape(rest, c*b*h2, 1, w2, 1)
		direct := Concatenate([]*Node{
			Concatenate([]*Node{parts[0], parts[1]}, 3),
			Concatenate([]*Node{parts[2], parts[3]}, 3),
		}, 1)
		direct = Reshape(direct, c, b, 2*h2, 2*w2)
		if h%2 != 0 || w%2 != 0 {
			direct = padAxes(direct, 0, h%2, 0, w%2)
		}

		// dx = s*dy - s*sum(dy)/m - s*xhat*dGamma/m, xhat = (x-mean)*invStd.
		bCoef := DivScalar(Neg(Mul(Mul(scale, invStd), dGamma)), float64(m))
		aCoef := Sub(Mul(Neg(bCoef), mean), DivScalar(Mul(scale, sumDy), float64(m)))
		dx := Add(Reshape(direct, c, m), affine(bCoef, aCoef, x2))
		return Reshape(dx, c, b, h, w)
	})
	return Reshape(out, c, b, h2, w2)
}

// The per-channel operations on [c, n] maps below are matrix products with
// a diagonal matrix: the backend broadcasts a per-channel vector over the
// columns with a generic per-element iterator, which costs it more than a
// product with a c x c matrix.

// diag returns the [c, c] diagonal matrix of the vector v ([c]).
func diag(v *Node) *Node {
	c := v.Shape().Dimensions[0]
	return Mul(ConvertDType(Diagonal(v.Graph(), c), v.DType()), ExpandAxes(v, 0))
}

// affine returns scale*x + shift per channel of x ([c, n]) as the product
// [diag(scale) shift] @ [x; 1].
func affine(scale, shift, x *Node) *Node {
	n := x.Shape().Dimensions[1]
	coef := Concatenate([]*Node{diag(scale), ExpandAxes(shift, 1)}, 1)
	return MatMul(coef, Concatenate([]*Node{x, Ones(x.Graph(), shapes.Make(x.DType(), 1, n))}, 0))
}

// floorZero is max(x, 0) for small per-channel vectors; it keeps a
// variance computed as E[x^2] - E[x]^2 from going below zero by rounding.
func floorZero(x *Node) *Node { return Max(x, ZerosLike(x)) }

// Relu is max(x, 0) written with Where, whose gradient is a single select;
// GoMLX's activation.Relu is a Max whose gradient builds sign indicators for
// both operands, several times slower on the pure-Go backend.
func Relu(x *Node) *Node {
	zeros := ZerosLike(x)
	return Where(GreaterThan(x, zeros), x, zeros)
}

// Dense is a fully connected layer with bias, [batch, in] -> [batch, out],
// followed by a ReLU when relu is set. inputGrad says whether the backward
// pass returns the gradient with respect to x.
func Dense(scope *model.Scope, t *Tape, x *Node, out int, relu, inputGrad bool) *Node {
	g := x.Graph()
	d := x.Shape().Dimensions
	b, in := d[0], d[1]
	init := TorchUniform(scope, in)
	wv := scope.WithInitializer(init).VariableWithShape("weights", shapes.Make(x.DType(), in, out))
	bv := scope.WithInitializer(init).VariableWithShape("biases", shapes.Make(x.DType(), out))
	weights, bias := t.read(wv, g), t.read(bv, g)
	y := Add(MatMul(x, weights), BroadcastPrefix(bias, b))
	var positive, zeros *Node
	if relu {
		zeros = ZerosLike(y)
		positive = GreaterThan(y, zeros)
		y = Where(positive, y, zeros)
	}
	t.push(func(grad *Node) *Node {
		if relu {
			grad = Where(positive, grad, zeros)
		}
		t.accumulate(wv, MatMul(Transpose(x, 0, 1), grad))
		t.accumulate(bv, ReduceSum(grad, 0))
		if !inputGrad {
			return nil
		}
		return DotGeneral(grad, []int{1}, nil, weights, []int{1}, nil)
	})
	return y
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

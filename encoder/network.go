// Package encoder holds the networks that turn images into real-valued
// outputs, from which the hashing methods take their codes.
//
// The networks are GoMLX graphs built for the pure-Go backend: convolution
// and pooling are written (in layers.go) in the forms that backend trains
// fast.
package encoder

import (
	"fmt"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
)

// CNN describes the reference hashing network: a stack of
// conv-batchnorm-relu-maxpool blocks, fully connected ReLU layers, and a
// linear output layer of Outputs units (the code length for hashing).
//
// It computes the same function class as the PyTorch reference; two
// differences do not change it: the convolutions have no bias (batch
// normalization cancels it) and each block pools before its ReLU (the two
// commute), which runs the ReLU on a quarter of the values.
//
// The zero value is not useful; start from Reference and change fields.
type CNN struct {
	// Height, Width and Channels give the input image shape.
	Height, Width, Channels int
	// Filters holds the number of filters of each convolutional block.
	// Reference: [32 64].
	Filters []int
	// Kernel is the square convolution kernel size (odd). Reference: 3.
	Kernel int
	// Hidden holds the widths of the fully connected ReLU layers between the
	// convolutions and the output. Reference: [512].
	Hidden []int
	// Outputs is the width of the final linear layer.
	Outputs int
	// Fuse feeds the first fully connected layer with the maps of every
	// convolutional block, not the last block's alone: each earlier
	// block's map is average-pooled down to the last block's size and
	// stacked with it channel-wise, so that the code sees the finer,
	// lower-level features too (the multi-depth fusion of FusionNet-style
	// hashing). Needs at least two blocks. A network without blocks (one
	// that reads feature vectors) fuses its fully connected layers
	// instead: the output layer reads every hidden layer's output, which
	// needs at least two hidden layers.
	Fuse bool `json:",omitempty"`
	// Tanh squashes the outputs with tanh, as DVSQ's network does before
	// quantizing them.
	Tanh bool `json:",omitempty"`
	// Attention, when positive, weights the last convolutional map (after
	// any fusion) with a spatial attention map predicted from it by a
	// branch of Attention hidden units (Attend), so that the hash layers
	// see the salient positions' features and little of the rest.
	Attention int `json:",omitempty"`
	// Recurrent, when it names a cell, reads the last convolutional map
	// (after any fusion and attention) as a sequence of positions in place
	// of flattening it; the fully connected layers read its output.
	Recurrent Recurrent `json:",omitzero"`
}

// Reference returns the network of shared/anchors/torch_dsh_fmnist.py for
// 28x28 gray images: conv32-bn-relu-pool, conv64-bn-relu-pool, fc512-relu,
// fc outputs.
func Reference(outputs int) CNN {
	return CNN{Height: 28, Width: 28, Channels: 1, Filters: []int{32, 64}, Kernel: 3, Hidden: []int{512}, Outputs: outputs}
}

// Validate reports a configuration that cannot be built.
func (c CNN) Validate() error {
	switch {
	case c.Height < 1 || c.Width < 1 || c.Channels < 1:
		return fmt.Errorf("encoder: input shape %dx%dx%d is invalid", c.Height, c.Width, c.Channels)
	case c.Kernel < 1 || c.Kernel%2 == 0:
		return fmt.Errorf("encoder: kernel %d must be odd and positive", c.Kernel)
	case c.Outputs < 1:
		return fmt.Errorf("encoder: outputs %d must be positive", c.Outputs)
	}
	h, w := c.Height, c.Width
	for i, f := range c.Filters {
		if f < 1 {
			return fmt.Errorf("encoder: block %d has %d filters", i, f)
		}
		h, w = h/2, w/2
		if h < 1 || w < 1 {
			return fmt.Errorf("encoder: %d pooling blocks shrink a %dx%d input to nothing", len(c.Filters), c.Height, c.Width)
		}
	}
	for i, n := range c.Hidden {
		if n < 1 {
			return fmt.Errorf("encoder: hidden layer %d has width %d", i, n)
		}
	}
	if c.Fuse && len(c.Filters) == 0 && len(c.Hidden) < 2 {
		return fmt.Errorf("encoder: fusing fully connected layers needs at least 2 hidden layers, have %d", len(c.Hidden))
	}
	if c.Fuse && len(c.Filters) == 1 {
		return fmt.Errorf("encoder: fusing block outputs needs at least 2 convolutional blocks, have 1")
	}
	if c.Attention < 0 {
		return fmt.Errorf("encoder: attention branch has %d units", c.Attention)
	}
	if err := c.Recurrent.validate(h, w); err != nil {
		return err
	}
	return nil
}

// String gives the architecture in the compact form model files record,
// e.g. "28x28x1 conv32-bn-relu-pool conv64-bn-relu-pool fc512-relu fc48".
func (c CNN) String() string {
	s := fmt.Sprintf("%dx%dx%d", c.Height, c.Width, c.Channels)
	for _, f := range c.Filters {
		s += fmt.Sprintf(" conv%d-bn-relu-pool", f)
	}
	if c.Fuse && len(c.Filters) > 0 {
		s += " fuse"
	}
	if c.Attention > 0 {
		s += fmt.Sprintf(" attention%d", c.Attention)
	}
	if c.Recurrent.enabled() {
		s += " " + c.Recurrent.String()
	}
	for _, n := range c.Hidden {
		s += fmt.Sprintf(" fc%d-relu", n)
	}
	if c.Fuse && len(c.Filters) == 0 {
		s += " fuse"
	}
	s += fmt.Sprintf(" fc%d", c.Outputs)
	if c.Tanh {
		s += "-tanh"
	}
	return s
}

// Build builds the inference network: [batch, Height, Width, Channels] in,
// [batch, Outputs] out.
func (c CNN) Build(scope *model.Scope, x *Node) *Node {
	return c.forward(scope, nil, x)
}

// Train builds the network for a training step and returns its output with
// the tape of its backward pass: t.Backward(dLoss/dOutput) gives the
// gradient of every trainable variable of the network.
func (c CNN) Train(scope *model.Scope, x *Node) (*Node, *Tape) {
	t := NewTape()
	return c.forward(scope, t, x), t
}

func (c CNN) forward(scope *model.Scope, t *Tape, x *Node) *Node {
	x.AssertDims(-1, c.Height, c.Width, c.Channels)
	x = ChannelsFirst(x)
	var earlier []*Node
	var sides []*Side
	for i, f := range c.Filters {
		s := scope.In("%03d_conv", i)
		x = Conv2D(s, t, x, f, c.Kernel, i > 0)
		x = NormPoolRelu(s, t, x)
		if c.Fuse && i < len(c.Filters)-1 {
			earlier = append(earlier, x)
			sides = append(sides, t.Branch())
		}
	}
	if c.Fuse && len(earlier) > 0 {
		x = Fuse(t, x, earlier, sides)
	}
	// The input itself needs no gradient.
	inputGrad := len(c.Filters) > 0
	if c.Attention > 0 {
		x = Attend(scope.In("%03d_attention", len(c.Filters)), t, x, c.Attention, inputGrad)
		inputGrad = true
	}
	switch {
	case c.Recurrent.enabled():
		x = c.Recurrent.Apply(scope.In("%03d_recurrent", len(c.Filters)), t, x, inputGrad)
		inputGrad = true
	case inputGrad:
		x = Flatten(t, x)
	default:
		x = Reshape(x, x.Shape().Dimensions[1], -1)
	}
	fuseHidden := c.Fuse && len(c.Filters) == 0
	earlier, sides = nil, nil
	for i, n := range c.Hidden {
		x = Dense(scope.In("%03d_fc", len(c.Filters)+i), t, x, n, true, inputGrad)
		inputGrad = true
		if fuseHidden && i < len(c.Hidden)-1 {
			earlier = append(earlier, x)
			sides = append(sides, t.Branch())
		}
	}
	if fuseHidden {
		x = FuseRows(t, x, earlier, sides)
	}
	if t != nil {
		t.features = x
	}
	x = Dense(scope.In("%03d_out", len(c.Filters)+len(c.Hidden)), t, x, c.Outputs, false, inputGrad)
	if c.Tanh {
		x = Tanh(x)
		y := x
		t.push(func(grad *Node) *Node { return Mul(grad, OneMinus(Square(y))) })
	}
	return x
}

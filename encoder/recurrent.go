package encoder

import (
	"fmt"

	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
)

// Recurrent describes a recurrent layer that reads the last convolutional
// map as a sequence of local feature vectors, one per position, in place
// of flattening it: the hash layers then see features that carry the
// context of the positions read before them.
type Recurrent struct {
	// Cell is "rnn" (h' = tanh(x Wx + h Wh + b)) or "lstm" (the LSTM of
	// Hochreiter and Schmidhuber with a forget gate, PyTorch's gate
	// order i, f, g, o); empty means no recurrent layer.
	Cell string `json:",omitempty"`
	// Hidden is the width of the cell's state.
	Hidden int `json:",omitempty"`
	// Rows makes the layer hierarchical: a first cell reads each row of
	// the map left to right, and a second cell reads the rows' final
	// states top to bottom. Without it one cell reads all positions in
	// raster order.
	Rows bool `json:",omitempty"`
	// Sequence outputs the states of every step of the (last) cell, in
	// order, instead of the final state alone.
	Sequence bool `json:",omitempty"`
}

// MaxSteps bounds the length of a sequence that a recurrent layer reads:
// the cell is unrolled into the graph, one copy per step.
const MaxSteps = 64

// enabled reports whether r describes a layer.
func (r Recurrent) enabled() bool { return r.Cell != "" }

// gates returns the number of gate blocks of the cell's products.
func (r Recurrent) gates() int {
	if r.Cell == "lstm" {
		return 4
	}
	return 1
}

// validate checks r for an h x w map.
func (r Recurrent) validate(h, w int) error {
	if !r.enabled() {
		if r.Hidden != 0 || r.Rows || r.Sequence {
			return fmt.Errorf("encoder: recurrent layer settings %+v without a cell", r)
		}
		return nil
	}
	if r.Cell != "rnn" && r.Cell != "lstm" {
		return fmt.Errorf("encoder: unknown recurrent cell %q (want rnn or lstm)", r.Cell)
	}
	if r.Hidden < 1 {
		return fmt.Errorf("encoder: recurrent state width %d must be positive", r.Hidden)
	}
	steps := h * w
	if r.Rows {
		steps = max(h, w)
	}
	if steps > MaxSteps {
		return fmt.Errorf("encoder: a %dx%d map gives the recurrent layer %d steps, more than %d: add a pooling block", h, w, steps, MaxSteps)
	}
	return nil
}

// String gives the layer in CNN.String's form, e.g. "lstm64-seq" or
// "rnn128-rows".
func (r Recurrent) String() string {
	s := fmt.Sprintf("%s%d", r.Cell, r.Hidden)
	if r.Rows {
		s += "-rows"
	}
	if r.Sequence {
		s += "-seq"
	}
	return s
}

// Apply runs the layer on maps x ([c, batch, h, w]) and returns rows
// [batch, outputs]. inputGrad says whether the backward pass returns x's
// gradient.
//
// The backward pass is written (backpropagation through time) rather than
// left to automatic differentiation: that differentiates each step's
// slice of the inputs into a zero-padded copy of all of them, which made
// a 49-step LSTM five times slower than the whole reference network.
func (r Recurrent) Apply(scope *model.Scope, t *Tape, x *Node, inputGrad bool) *Node {
	d := x.Shape().Dimensions
	c, b, h, w := d[0], d[1], d[2], d[3]
	dtype := x.DType()
	width := r.gates() * r.Hidden
	levels := 1
	if r.Rows {
		levels = 2
	}
	var vars [][3]*model.Variable
	var vals [][3]*Node
	in := c
	for l := range levels {
		// PyTorch's initialization of its recurrent layers:
		// U(-1/sqrt(hidden), 1/sqrt(hidden)) for every parameter.
		s := scope.In("%s%d", r.Cell, l)
		s = s.WithInitializer(TorchUniform(s, r.Hidden))
		v := [3]*model.Variable{
			s.VariableWithShape("input_weights", shapes.Make(dtype, in, width)),
			s.VariableWithShape("recurrent_weights", shapes.Make(dtype, r.Hidden, width)),
			s.VariableWithShape("biases", shapes.Make(dtype, width)),
		}
		vars = append(vars, v)
		vals = append(vals, [3]*Node{t.read(v[0], x.Graph()), t.read(v[1], x.Graph()), t.read(v[2], x.Graph())})
		in = r.Hidden
	}
	// The cells take their sequences step-major, [steps*n, features], so
	// that each step's rows are one contiguous block.
	if !r.Rows {
		seq := Reshape(TransposeAllAxes(x, 2, 3, 1, 0), h*w*b, c)
		y, back := r.unroll(t, seq, h*w, vars[0], vals[0], r.Sequence)
		t.push(func(grad *Node) *Node {
			g := back(grad, inputGrad)
			if g == nil {
				return nil
			}
			return TransposeAllAxes(Reshape(g, h, w, b, c), 3, 2, 0, 1)
		})
		return y
	}
	seq := Reshape(TransposeAllAxes(x, 3, 1, 2, 0), w*b*h, c)
	rows, back0 := r.unroll(t, seq, w, vars[0], vals[0], false) // [b*h, Hidden]
	seq2 := Reshape(TransposeAllAxes(Reshape(rows, b, h, r.Hidden), 1, 0, 2), h*b, r.Hidden)
	y, back1 := r.unroll(t, seq2, h, vars[1], vals[1], r.Sequence)
	t.push(func(grad *Node) *Node {
		g := back1(grad, true)
		g = Reshape(TransposeAllAxes(Reshape(g, h, b, r.Hidden), 1, 0, 2), b*h, r.Hidden)
		g = back0(g, inputGrad)
		if g == nil {
			return nil
		}
		return TransposeAllAxes(Reshape(g, w, b, h, c), 3, 1, 2, 0)
	})
	return y
}

// unroll runs the cell over seq ([steps*n, in], step-major) from a zero
// state, with the input weights, recurrent weights and biases of v. It
// returns the final state [n, Hidden], or with all every step's state
// [n, steps*Hidden], and the backward pass: given the output's gradient it
// accumulates the variables' gradients and, with inputGrad, returns seq's.
//
// vals holds the variables' values, read by the caller.
func (r Recurrent) unroll(t *Tape, seq *Node, steps int, v [3]*model.Variable, vals [3]*Node, all bool) (*Node, func(grad *Node, inputGrad bool) *Node) {
	rows := seq.Shape().Dimensions[0]
	n := rows / steps
	hid := r.Hidden
	lstm := r.Cell == "lstm"
	wx, wh, bias := vals[0], vals[1], vals[2]
	// The input's share of every step in one product.
	proj := Add(MatMul(seq, wx), BroadcastPrefix(bias, rows))
	gate := func(z *Node, k int) *Node { return Slice(z, AxisRange(), AxisRange(k*hid, (k+1)*hid)) }
	// Per step: the state h, and for the LSTM the cell c, tanh(c) and the
	// gates' activations.
	hs := make([]*Node, steps)
	var cs, tanhCs, is, fs, gs, os []*Node
	if lstm {
		cs, tanhCs = make([]*Node, steps), make([]*Node, steps)
		is, fs, gs, os = make([]*Node, steps), make([]*Node, steps), make([]*Node, steps), make([]*Node, steps)
	}
	for s := range steps {
		z := Slice(proj, AxisRange(s*n, (s+1)*n))
		if s > 0 {
			z = Add(z, MatMul(hs[s-1], wh))
		}
		if !lstm {
			hs[s] = Tanh(z)
			continue
		}
		is[s], gs[s], os[s] = Sigmoid(gate(z, 0)), Tanh(gate(z, 2)), Sigmoid(gate(z, 3))
		cs[s] = Mul(is[s], gs[s])
		if s > 0 {
			fs[s] = Sigmoid(gate(z, 1))
			cs[s] = Add(Mul(fs[s], cs[s-1]), cs[s])
		}
		tanhCs[s] = Tanh(cs[s])
		hs[s] = Mul(os[s], tanhCs[s])
	}
	out := hs[steps-1]
	if all {
		out = Concatenate(hs, 1)
	}
	back := func(grad *Node, inputGrad bool) *Node {
		dzs := make([]*Node, steps)
		var dh, dc *Node // arriving from the next step
		for s := steps - 1; s >= 0; s-- {
			var dOut *Node
			switch {
			case all:
				dOut = Slice(grad, AxisRange(), AxisRange(s*hid, (s+1)*hid))
			case s == steps-1:
				dOut = grad
			}
			switch {
			case dh == nil:
				dh = dOut
			case dOut != nil:
				dh = Add(dh, dOut)
			}
			if !lstm {
				dzs[s] = Mul(dh, OneMinus(Square(hs[s])))
			} else {
				// h = o tanh(c); c = f c' + i g.
				dcs := Mul(Mul(dh, os[s]), OneMinus(Square(tanhCs[s])))
				if dc != nil {
					dcs = Add(dcs, dc)
				}
				dzi := Mul(Mul(dcs, gs[s]), Mul(is[s], OneMinus(is[s])))
				dzg := Mul(Mul(dcs, is[s]), OneMinus(Square(gs[s])))
				dzo := Mul(Mul(dh, tanhCs[s]), Mul(os[s], OneMinus(os[s])))
				dzf := ZerosLike(dzi) // the first step has no forget gate
				if s > 0 {
					dzf = Mul(Mul(dcs, cs[s-1]), Mul(fs[s], OneMinus(fs[s])))
					dc = Mul(dcs, fs[s])
				}
				dzs[s] = Concatenate([]*Node{dzi, dzf, dzg, dzo}, 1)
			}
			if s > 0 {
				dh = DotGeneral(dzs[s], []int{1}, nil, wh, []int{1}, nil)
			}
		}
		dz := Concatenate(dzs, 0) // [steps*n, width], as proj
		t.accumulate(v[0], MatMul(Transpose(seq, 0, 1), dz))
		if steps > 1 {
			prev := Concatenate(hs[:steps-1], 0)
			t.accumulate(v[1], MatMul(Transpose(prev, 0, 1), Slice(dz, AxisRange(n, rows))))
		} else {
			t.accumulate(v[1], ZerosLike(wh))
		}
		t.accumulate(v[2], ReduceSum(dz, 0))
		if !inputGrad {
			return nil
		}
		return DotGeneral(dz, []int{1}, nil, wx, []int{1}, nil)
	}
	return out, back
}

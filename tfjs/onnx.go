package tfjs

import (
	"fmt"
	"slices"
	"strings"

	"github.com/lookalike/lookalike/onnx"
)

// Opset is the ONNX operator set the converted models use.
const Opset = 13

// ONNX converts the part of the graph that computes the named outputs into
// an ONNX model that ONNX Runtime runs, with weights as float32
// initializers.
//
// TensorFlow's image tensors are NHWC; ONNX's convolutions want NCHW. The
// model keeps the NHWC input (a Transpose follows it), and every 4-D
// tensor inside, outputs included, is NCHW: a feature map output is
// [batch, channels, h, w]. Weights are transposed at import (HWIO to
// OIHW), and TensorFlow's "SAME" padding is ONNX's SAME_UPPER, which puts
// the odd extra row and column at the end as TensorFlow does.
//
// The operations are those of TF.js image models such as MobileNet: the
// TF.js converter's fused convolutions and matrix products (with bias and
// ReLU or ReLU6), depthwise convolutions, element-wise arithmetic, average
// and max pooling, spatial means, squeeze, softmax. Anything else is an
// error that names the operation.
func (m *Model) ONNX(outputs ...string) (*onnx.Model, error) {
	c := &converter{model: m, byName: map[string]*Node{}, rank: map[string]int{}, done: map[string]bool{}}
	for i := range m.Nodes {
		c.byName[m.Nodes[i].Name] = &m.Nodes[i]
	}
	for _, out := range outputs {
		if _, ok := c.byName[out]; !ok {
			return nil, fmt.Errorf("tfjs: no node %q in the graph", out)
		}
		if err := c.visit(out, nil); err != nil {
			return nil, fmt.Errorf("tfjs: %w", err)
		}
		dims := make([]int64, c.rank[out])
		for i := range dims {
			dims[i] = -1
		}
		c.graph.Outputs = append(c.graph.Outputs, onnx.ValueInfo{Name: out, Dims: dims})
	}
	c.graph.Name = "tfjs"
	return &onnx.Model{Graph: c.graph, Opset: Opset, Producer: "lookalike tfjs import of " + m.ConvertedBy}, nil
}

type converter struct {
	model  *Model
	byName map[string]*Node
	graph  onnx.Graph
	rank   map[string]int // rank of each converted tensor
	done   map[string]bool
	serial int
}

// visit converts name's node after the nodes it reads (depth first, so
// the ONNX nodes come out in topological order).
func (c *converter) visit(name string, path []string) error {
	if c.done[name] {
		return nil
	}
	if slices.Contains(path, name) {
		return fmt.Errorf("cycle through %s", name)
	}
	n, ok := c.byName[name]
	if !ok {
		return fmt.Errorf("input %q is not a node of the graph", name)
	}
	for _, in := range n.Inputs {
		if err := c.visit(in, append(path, name)); err != nil {
			return err
		}
	}
	if err := c.convert(n); err != nil {
		return fmt.Errorf("node %s (%s): %w", n.Name, n.Op, err)
	}
	c.done[name] = true
	return nil
}

func (c *converter) tmp(base string) string {
	c.serial++
	return fmt.Sprintf("%s/_onnx%d", base, c.serial)
}

func (c *converter) add(op string, inputs []string, output string, attrs ...onnx.Attr) {
	c.graph.Nodes = append(c.graph.Nodes, onnx.Node{Op: op, Name: output, Inputs: inputs, Outputs: []string{output}, Attrs: attrs})
}

func (c *converter) constant(name string, dims []int64, data []float32) string {
	c.graph.Initializers = append(c.graph.Initializers, onnx.Tensor{Name: name, Dims: dims, Float: data})
	return name
}

func (c *converter) weight(name string) (Tensor, error) {
	w, ok := c.model.Weights[name]
	if !ok {
		return Tensor{}, fmt.Errorf("input %s has no weights", name)
	}
	return w, nil
}

func (c *converter) convert(n *Node) error {
	switch n.Op {
	case "Placeholder":
		dims := []int64{-1, -1, -1, -1}
		if shape, ok := n.Attr["shape"]; ok && shape.Shape != nil {
			dims = dims[:0]
			for _, d := range shape.Shape.Dim {
				dims = append(dims, d.size())
			}
		}
		if len(dims) != 4 {
			c.graph.Inputs = append(c.graph.Inputs, onnx.ValueInfo{Name: n.Name, Dims: dims})
			c.rank[n.Name] = len(dims)
			return nil
		}
		// The NHWC input, and its NCHW transpose under the node's name.
		input := n.Name + ":nhwc"
		c.graph.Inputs = append(c.graph.Inputs, onnx.ValueInfo{Name: input, Dims: dims})
		c.add("Transpose", []string{input}, n.Name, onnx.Ints("perm", 0, 3, 1, 2))
		c.rank[n.Name] = 4
	case "Const":
		w, err := c.weight(n.Name)
		if err != nil {
			return err
		}
		c.constant(n.Name, int64s(w.Shape), w.Data)
		c.rank[n.Name] = len(w.Shape)
	case "Identity":
		c.add("Identity", n.Inputs[:1], n.Name)
		c.rank[n.Name] = c.rank[n.Inputs[0]]
	case "Conv2D", "_FusedConv2D", "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative":
		return c.conv(n)
	case "_FusedMatMul", "MatMul":
		return c.matmul(n)
	case "BiasAdd", "Add", "AddV2", "Mul", "Sub", "RealDiv", "Maximum", "Minimum":
		return c.binary(n)
	case "Relu":
		c.add("Relu", n.Inputs[:1], n.Name)
		c.rank[n.Name] = c.rank[n.Inputs[0]]
	case "Relu6":
		c.relu6(n.Inputs[0], n.Name)
		c.rank[n.Name] = c.rank[n.Inputs[0]]
	case "AvgPool", "MaxPool":
		return c.pool(n)
	case "Mean":
		return c.mean(n)
	case "Squeeze":
		return c.squeeze(n)
	case "Softmax":
		c.add("Softmax", n.Inputs[:1], n.Name, onnx.Int("axis", -1))
		c.rank[n.Name] = c.rank[n.Inputs[0]]
	default:
		return fmt.Errorf("operation %s is not supported", n.Op)
	}
	return nil
}

func (c *converter) relu6(input, output string) {
	lo := c.constant(c.tmp(output), nil, []float32{0})
	hi := c.constant(c.tmp(output), nil, []float32{6})
	c.add("Clip", []string{input, lo, hi}, output)
}

// activation applies a fused op list's activation (after BiasAdd).
func (c *converter) activation(n *Node, input string) error {
	ops := n.Attr["fused_ops"].Strings()
	if len(ops) == 0 || ops[0] != "BiasAdd" {
		return fmt.Errorf("fused ops %v: only BiasAdd, then optionally Relu or Relu6, are supported", ops)
	}
	switch {
	case len(ops) == 1:
		c.add("Identity", []string{input}, n.Name)
	case len(ops) == 2 && ops[1] == "Relu":
		c.add("Relu", []string{input}, n.Name)
	case len(ops) == 2 && ops[1] == "Relu6":
		c.relu6(input, n.Name)
	default:
		return fmt.Errorf("fused ops %v: only BiasAdd, then optionally Relu or Relu6, are supported", ops)
	}
	return nil
}

func (c *converter) conv(n *Node) error {
	if c.rank[n.Inputs[0]] != 4 {
		return fmt.Errorf("input %s is not an image tensor", n.Inputs[0])
	}
	if f := n.Attr["data_format"].String(); f != "" && f != "NHWC" {
		return fmt.Errorf("data format %s is not supported", f)
	}
	w, err := c.weight(n.Inputs[1])
	if err != nil {
		return err
	}
	if len(w.Shape) != 4 {
		return fmt.Errorf("filter shape %v", w.Shape)
	}
	kh, kw, in, out := w.Shape[0], w.Shape[1], w.Shape[2], w.Shape[3]
	depthwise := strings.Contains(n.Op, "Depthwise")
	var data []float32
	var dims []int64
	group := int64(1)
	if depthwise {
		// [kh, kw, channels, multiplier] -> [channels*multiplier, 1, kh, kw].
		data = transpose4(w, [4]int{2, 3, 0, 1})
		dims = []int64{int64(in * out), 1, int64(kh), int64(kw)}
		group = int64(in)
	} else {
		// HWIO -> OIHW.
		data = transpose4(w, [4]int{3, 2, 0, 1})
		dims = []int64{int64(out), int64(in), int64(kh), int64(kw)}
	}
	sd, err := spatialAttrs(n, "strides", "dilations")
	if err != nil {
		return err
	}
	strides, dilations := sd[0], sd[1]
	attrs := []onnx.Attr{
		onnx.Ints("kernel_shape", int64(kh), int64(kw)),
		onnx.Ints("strides", strides...),
		onnx.Ints("dilations", dilations...),
		onnx.Int("group", group),
	}
	pad, err := padding(n)
	if err != nil {
		return err
	}
	attrs = append(attrs, pad)
	inputs := []string{n.Inputs[0], c.constant(c.tmp(n.Name), dims, data)}
	fused := strings.HasPrefix(n.Op, "_Fused") || strings.HasPrefix(n.Op, "Fused")
	if fused {
		if len(n.Inputs) != 3 {
			return fmt.Errorf("%d inputs: only a bias is supported as the fused argument", len(n.Inputs))
		}
		b, err := c.weight(n.Inputs[2])
		if err != nil {
			return err
		}
		inputs = append(inputs, c.constant(c.tmp(n.Name), int64s(b.Shape), b.Data))
	}
	conv := n.Name
	if fused {
		conv = c.tmp(n.Name)
	}
	c.add("Conv", inputs, conv, attrs...)
	c.rank[n.Name] = 4
	if fused {
		return c.activation(n, conv)
	}
	return nil
}

// spatialAttrs returns spatial(n.Attr[name]) for each name.
func spatialAttrs(n *Node, names ...string) ([][]int64, error) {
	out := make([][]int64, len(names))
	for i, name := range names {
		v, err := spatial(n.Attr[name], name)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// spatial returns the h and w entries of an NHWC attribute list such as
// strides [1, sh, sw, 1] (default 1, 1).
func spatial(a Attr, what string) ([]int64, error) {
	v, err := a.Ints()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	switch len(v) {
	case 0:
		return []int64{1, 1}, nil
	case 4:
		return []int64{int64(v[1]), int64(v[2])}, nil
	}
	return nil, fmt.Errorf("%s %v: want 4 values", what, v)
}

func padding(n *Node) (onnx.Attr, error) {
	switch p := n.Attr["padding"].String(); p {
	case "SAME":
		return onnx.String("auto_pad", "SAME_UPPER"), nil
	case "VALID":
		return onnx.String("auto_pad", "VALID"), nil
	default:
		return onnx.Attr{}, fmt.Errorf("padding %q is not supported", p)
	}
}

func (c *converter) matmul(n *Node) error {
	if n.Attr["transpose_a"].B {
		return fmt.Errorf("transpose_a is not supported")
	}
	w, err := c.weight(n.Inputs[1])
	if err != nil {
		return err
	}
	if len(w.Shape) != 2 {
		return fmt.Errorf("weight shape %v", w.Shape)
	}
	in, out := w.Shape[0], w.Shape[1]
	data := w.Data
	if n.Attr["transpose_b"].B {
		out, in = in, out
		data = make([]float32, len(w.Data))
		for i := 0; i < in; i++ {
			for o := 0; o < out; o++ {
				data[i*out+o] = w.Data[o*in+i]
			}
		}
	}
	product := n.Name
	fused := n.Op == "_FusedMatMul"
	if fused {
		product = c.tmp(n.Name)
	}
	c.add("MatMul", []string{n.Inputs[0], c.constant(c.tmp(n.Name), []int64{int64(in), int64(out)}, data)}, product)
	c.rank[n.Name] = 2
	if !fused {
		return nil
	}
	if len(n.Inputs) != 3 {
		return fmt.Errorf("%d inputs: only a bias is supported as the fused argument", len(n.Inputs))
	}
	b, err := c.weight(n.Inputs[2])
	if err != nil {
		return err
	}
	biased := c.tmp(n.Name)
	c.add("Add", []string{product, c.constant(c.tmp(n.Name), int64s(b.Shape), b.Data)}, biased)
	return c.activation(n, biased)
}

var binaryOps = map[string]string{
	"BiasAdd": "Add", "Add": "Add", "AddV2": "Add", "Mul": "Mul", "Sub": "Sub",
	"RealDiv": "Div", "Maximum": "Max", "Minimum": "Min",
}

// binary converts an element-wise operation. A per-channel constant
// operand ([c]) of an image tensor becomes [c, 1, 1] to broadcast over
// NCHW as it did over NHWC.
func (c *converter) binary(n *Node) error {
	if len(n.Inputs) != 2 {
		return fmt.Errorf("%d inputs, want 2", len(n.Inputs))
	}
	rank := max(c.rank[n.Inputs[0]], c.rank[n.Inputs[1]])
	inputs := slices.Clone(n.Inputs)
	for i, in := range inputs {
		if rank == 4 && c.rank[in] != 4 {
			w, ok := c.model.Weights[in]
			switch {
			case ok && len(w.Shape) == 1:
				inputs[i] = c.constant(c.tmp(n.Name), []int64{int64(w.Shape[0]), 1, 1}, w.Data)
			case ok && len(w.Shape) == 0:
			default:
				return fmt.Errorf("operand %s of rank %d cannot broadcast over an NCHW tensor", in, c.rank[in])
			}
		}
	}
	c.add(binaryOps[n.Op], inputs, n.Name)
	c.rank[n.Name] = rank
	return nil
}

func (c *converter) pool(n *Node) error {
	ks, err := spatialAttrs(n, "ksize", "strides")
	if err != nil {
		return err
	}
	ksize, strides := ks[0], ks[1]
	pad, err := padding(n)
	if err != nil {
		return err
	}
	op := "AveragePool"
	if n.Op == "MaxPool" {
		op = "MaxPool"
	}
	c.add(op, n.Inputs[:1], n.Name, onnx.Ints("kernel_shape", ksize...), onnx.Ints("strides", strides...), pad)
	c.rank[n.Name] = 4
	return nil
}

// mean converts a spatial mean (axes 1 and 2 of NHWC) into a global
// average pool.
func (c *converter) mean(n *Node) error {
	axes, ok := c.model.Weights[n.Inputs[1]]
	if !ok || c.rank[n.Inputs[0]] != 4 || !spatialAxes(axes.Data) {
		return fmt.Errorf("only the mean over the spatial axes of an image tensor is supported")
	}
	if n.Attr["keep_dims"].B {
		c.add("GlobalAveragePool", n.Inputs[:1], n.Name)
		c.rank[n.Name] = 4
		return nil
	}
	pooled := c.tmp(n.Name)
	c.add("GlobalAveragePool", n.Inputs[:1], pooled)
	c.add("Flatten", []string{pooled}, n.Name, onnx.Int("axis", 1))
	c.rank[n.Name] = 2
	return nil
}

func spatialAxes(v []float32) bool {
	return len(v) == 2 && (v[0] == 1 && v[1] == 2 || v[0] == 2 && v[1] == 1)
}

// squeeze converts the squeeze of the spatial axes of a pooled image
// tensor ([batch, 1, 1, c] in NHWC) into a flatten.
func (c *converter) squeeze(n *Node) error {
	dims, err := n.Attr["squeeze_dims"].Ints()
	if err != nil {
		return err
	}
	f := make([]float32, len(dims))
	for i, d := range dims {
		f[i] = float32(d)
	}
	if c.rank[n.Inputs[0]] != 4 || !spatialAxes(f) {
		return fmt.Errorf("only the squeeze of the spatial axes of an image tensor is supported, not %v", dims)
	}
	c.add("Flatten", n.Inputs[:1], n.Name, onnx.Int("axis", 1))
	c.rank[n.Name] = 2
	return nil
}

// transpose4 returns the data of the 4-D tensor w with its axes permuted:
// axis i of the result is axis perm[i] of w.
func transpose4(w Tensor, perm [4]int) []float32 {
	d := w.Shape
	strides := [4]int{d[1] * d[2] * d[3], d[2] * d[3], d[3], 1}
	out := make([]float32, 0, len(w.Data))
	for a := 0; a < d[perm[0]]; a++ {
		for b := 0; b < d[perm[1]]; b++ {
			for c := 0; c < d[perm[2]]; c++ {
				for e := 0; e < d[perm[3]]; e++ {
					out = append(out, w.Data[a*strides[perm[0]]+b*strides[perm[1]]+c*strides[perm[2]]+e*strides[perm[3]]])
				}
			}
		}
	}
	return out
}

func int64s(v []int) []int64 {
	out := make([]int64, len(v))
	for i, d := range v {
		out[i] = int64(d)
	}
	return out
}

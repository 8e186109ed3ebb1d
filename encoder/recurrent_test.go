package encoder

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// constants turns flat values and dimensions into graph constants.
func constants(g *Graph, vals ...any) []*Node {
	var out []*Node
	for i := 0; i < len(vals); i += 2 {
		out = append(out, Const(g, tensors.FromFlatDataAndDimensions(vals[i].([]float32), vals[i+1].([]int)...)))
	}
	return out
}

func TestAttend(t *testing.T) {
	// Maps [2 channels, 1 image, 1 row, 2 columns]: channel 0 is (1, 2),
	// channel 1 (3, -1). One hidden unit reads channel 0 with bias -1:
	// ReLU(0, 1) = (0, 1); the map is sigmoid(2 * (0, 1)) = (1/2,
	// 0.8807971), and both channels are scaled by it.
	x := tensors.FromFlatDataAndDimensions([]float32{1, 2, 3, -1}, 2, 1, 1, 2)
	got := run(t, func(x *Node) *Node {
		v := constants(x.Graph(),
			[]float32{1, 0}, []int{2, 1},
			[]float32{-1}, []int{1},
			[]float32{2}, []int{1, 1},
			[]float32{0}, []int{1})
		return attend(x, v)
	}, x)
	want := []float32{0.5, 1.7615942, 1.5, -0.8807971}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-6 {
			t.Fatalf("attend = %v, want %v", got, want)
		}
	}
}

func TestRecurrent_unroll(t *testing.T) {
	tests := []struct {
		name    string
		r       Recurrent
		seq     []float32 // one sequence of one-feature steps
		weights []float32 // input weights, then recurrent ones [1, gates]
		want    []float32
	}{
		// h1 = tanh(0.5*1) = 0.4621172, h2 = tanh(0.5*2 + h1) = 0.8980630.
		{"rnn final", Recurrent{Cell: "rnn", Hidden: 1}, []float32{1, 2}, []float32{0.5, 1}, []float32{0.8980630}},
		{"rnn sequence", Recurrent{Cell: "rnn", Hidden: 1, Sequence: true}, []float32{1, 2}, []float32{0.5, 1}, []float32{0.4621172, 0.8980630}},
		// Gates (i, f, g, o). Step 1: z = (1, 1, 1, 1), c1 =
		// sigmoid(1) tanh(1), h1 = sigmoid(1) tanh(c1) = 0.3696064.
		// Step 2: z = -1 + h1 (0.5, -0.5, 1, 0), c2 = sigmoid(z_f) c1 +
		// sigmoid(z_i) tanh(z_g), h2 = sigmoid(-1) tanh(c2) = -0.0109922.
		{"lstm", Recurrent{Cell: "lstm", Hidden: 1, Sequence: true}, []float32{1, -1},
			[]float32{1, 1, 1, 1, 0.5, -0.5, 1, 0}, []float32{0.3696064, -0.0109922}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Step-major [steps*n, in] with n = 1.
			x := tensors.FromFlatDataAndDimensions(tc.seq, len(tc.seq), 1)
			gates := tc.r.gates()
			got := run(t, func(x *Node) *Node {
				v := constants(x.Graph(),
					tc.weights[:gates], []int{1, gates},
					tc.weights[gates:], []int{1, gates},
					make([]float32, gates), []int{gates})
				y, _ := tc.r.unroll(nil, x, len(tc.seq), [3]*model.Variable{}, [3]*Node{v[0], v[1], v[2]}, tc.r.Sequence)
				return y
			}, x)
			if len(got) != len(tc.want) {
				t.Fatalf("run = %v, want %v", got, tc.want)
			}
			for i := range tc.want {
				if math.Abs(float64(got[i]-tc.want[i])) > 1e-6 {
					t.Fatalf("run = %v, want %v", got, tc.want)
				}
			}
		})
	}
}

// TestTapeBackward_Auto checks networks with automatically differentiated
// layers (attention, recurrent): the tape's gradients must equal those of
// automatic differentiation through the untaped network (Build), since
// differentiating the taped forward would stop at each Auto layer's input.
func TestTapeBackward_Auto(t *testing.T) {
	tests := []struct {
		name  string
		net   CNN
		nvars int
	}{
		{"attention", CNN{Height: 12, Width: 10, Channels: 2, Filters: []int{3, 4}, Kernel: 3, Hidden: []int{5}, Outputs: 4, Attention: 4}, 14},
		{"rnn rows fused", CNN{Height: 12, Width: 10, Channels: 2, Filters: []int{3, 4}, Kernel: 3, Hidden: []int{5}, Outputs: 4,
			Fuse: true, Recurrent: Recurrent{Cell: "rnn", Hidden: 5, Rows: true}}, 16},
		{"lstm sequence", CNN{Height: 7, Width: 6, Channels: 2, Filters: []int{3}, Kernel: 3, Hidden: []int{5}, Outputs: 4,
			Recurrent: Recurrent{Cell: "lstm", Hidden: 4, Sequence: true}}, 10},
		{"lstm rows sequence with attention", CNN{Height: 9, Width: 8, Channels: 1, Filters: []int{3}, Kernel: 3, Outputs: 3,
			Attention: 2, Recurrent: Recurrent{Cell: "lstm", Hidden: 3, Rows: true, Sequence: true}}, 15},
		{"rnn rows on the input, hidden layers fused", CNN{Height: 2, Width: 3, Channels: 2, Kernel: 1, Hidden: []int{5, 4}, Outputs: 3,
			Fuse: true, Recurrent: Recurrent{Cell: "rnn", Hidden: 3, Rows: true, Sequence: true}}, 12},
		{"lstm on the input", CNN{Height: 3, Width: 2, Channels: 2, Kernel: 3, Outputs: 3,
			Recurrent: Recurrent{Cell: "lstm", Hidden: 3}}, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.net.Validate(); err != nil {
				t.Fatal(err)
			}
			testAutoBackward(t, tc.net, tc.nvars)
		})
	}
}

func testAutoBackward(t *testing.T, net CNN, nvars int) {
	const batch = 3
	rng := rand.New(rand.NewPCG(7, 8))
	random := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = rng.Float32()*2 - 1
		}
		return v
	}
	h, w, c := net.Height, net.Width, net.Channels
	x := tensors.FromFlatDataAndDimensions(random(batch*h*w*c), batch, h, w, c)
	r := tensors.FromFlatDataAndDimensions(random(batch*net.Outputs), batch, net.Outputs)
	backend, _ := Backend()
	store := model.NewStore()
	store.SetParam(model.ParamInitialSeed, int64(11))
	var names []string
	exec, err := model.NewExec(backend, store, func(scope *model.Scope, x, r *Node) []*Node {
		scope.Store().SetTraining(x.Graph(), true)
		_, tape := net.Train(scope, x)
		hand := tape.Backward(r)
		loss := ReduceAllSum(Mul(net.Build(scope.ResetVisited(), x), r))
		var nodes []*Node
		for _, v := range tape.Variables() {
			nodes = append(nodes, v.NodeValue(x.Graph()))
		}
		auto := Gradient(loss, nodes...)
		var out []*Node
		names = names[:0]
		for i, v := range tape.Variables() {
			names = append(names, v.String())
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
	if len(names) != nvars {
		t.Fatalf("tape has %d variables %v, want %d", len(names), names, nvars)
	}
	for i, name := range names {
		hand, _ := tensors.CopyFlatData[float32](outs[2*i])
		auto, _ := tensors.CopyFlatData[float32](outs[2*i+1])
		scale := 0.0
		for _, a := range auto {
			scale = max(scale, math.Abs(float64(a)))
		}
		if scale == 0 {
			t.Errorf("%s: all gradients zero, the check checks nothing", name)
		}
		for j := range auto {
			if d := math.Abs(float64(hand[j] - auto[j])); d > 1e-4*max(scale, 1) {
				t.Fatalf("%s[%d]: tape %v, automatic %v", name, j, hand[j], auto[j])
			}
		}
	}
}

func TestCNN_ValidateLayers(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *CNN)
		str    string // String() when valid, a fragment of the error otherwise
		valid  bool
	}{
		{"attention", func(c *CNN) { c.Attention = 16 }, "28x28x1 conv32-bn-relu-pool conv64-bn-relu-pool attention16 fc512-relu fc48", true},
		{"lstm", func(c *CNN) { c.Recurrent = Recurrent{Cell: "lstm", Hidden: 64, Sequence: true} },
			"28x28x1 conv32-bn-relu-pool conv64-bn-relu-pool lstm64-seq fc512-relu fc48", true},
		{"rnn rows fused", func(c *CNN) { c.Fuse, c.Recurrent = true, Recurrent{Cell: "rnn", Hidden: 128, Rows: true} },
			"28x28x1 conv32-bn-relu-pool conv64-bn-relu-pool fuse rnn128-rows fc512-relu fc48", true},
		{"hidden layers fused", func(c *CNN) { c.Filters, c.Hidden, c.Fuse = nil, []int{512, 256}, true },
			"28x28x1 fc512-relu fc256-relu fuse fc48", true},
		{"one hidden layer to fuse", func(c *CNN) { c.Filters, c.Fuse = nil, true }, "at least 2 hidden layers", false},
		{"one block to fuse", func(c *CNN) { c.Filters, c.Fuse = []int{32}, true }, "at least 2 convolutional blocks", false},
		{"negative attention", func(c *CNN) { c.Attention = -1 }, "attention", false},
		{"unknown cell", func(c *CNN) { c.Recurrent = Recurrent{Cell: "gru", Hidden: 8} }, "unknown recurrent cell", false},
		{"no state", func(c *CNN) { c.Recurrent = Recurrent{Cell: "lstm"} }, "state width", false},
		{"settings without a cell", func(c *CNN) { c.Recurrent = Recurrent{Hidden: 8} }, "without a cell", false},
		// One block leaves a 14x14 map: 196 steps in raster order.
		{"too long", func(c *CNN) { c.Filters = []int{32}; c.Recurrent = Recurrent{Cell: "rnn", Hidden: 8} }, "196 steps", false},
		{"rows shorten it", func(c *CNN) { c.Filters = []int{32}; c.Recurrent = Recurrent{Cell: "rnn", Hidden: 8, Rows: true} },
			"28x28x1 conv32-bn-relu-pool rnn8-rows fc512-relu fc48", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Reference(48)
			tc.mutate(&c)
			err := c.Validate()
			switch {
			case tc.valid && err != nil:
				t.Fatal(err)
			case tc.valid && c.String() != tc.str:
				t.Errorf("String() = %q, want %q", c.String(), tc.str)
			case !tc.valid && (err == nil || !strings.Contains(err.Error(), tc.str)):
				t.Errorf("Validate() = %v, want an error about %q", err, tc.str)
			}
		})
	}
}

package encoder

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

func run(t *testing.T, fn func(x *Node) *Node, x *tensors.Tensor) []float32 {
	t.Helper()
	b, err := Backend()
	if err != nil {
		t.Fatal(err)
	}
	out, err := ExecOnce(b, fn, x)
	if err != nil {
		t.Fatal(err)
	}
	v, err := tensors.CopyFlatData[float32](out)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestPatches(t *testing.T) {
	// 2x2 image [[1 2] [3 4]], 3x3 zero-padded patches in (dy, dx) order:
	// row (dy, dx) holds, for each pixel, its neighbour at (dy-1, dx-1).
	x := tensors.FromFlatDataAndDimensions([]float32{1, 2, 3, 4}, 1, 1, 2, 2)
	got := run(t, func(x *Node) *Node { return Patches(x, 3) }, x)
	want := []float32{
		0, 0, 0, 1, // (0,0): up-left
		0, 0, 1, 2, // (0,1): up
		0, 0, 2, 0, // (0,2): up-right
		0, 1, 0, 3, // (1,0): left
		1, 2, 3, 4, // (1,1): the pixel itself
		2, 0, 4, 0, // (1,2): right
		0, 3, 0, 0, // (2,0): down-left
		3, 4, 0, 0, // (2,1): down
		4, 0, 0, 0, // (2,2): down-right
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Patches = %v, want %v", got, want)
		}
	}
}

// TestConv2D compares the patch convolution with a direct loop over the
// same weights.
func TestConv2D(t *testing.T) {
	const b, h, w, c, f, k = 2, 5, 4, 3, 4, 3
	rng := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, c*b*h*w)
	for i := range x {
		x[i] = rng.Float32()*2 - 1
	}
	backend, _ := Backend()
	store := model.NewStore()
	exec, err := model.NewExec(backend, store, func(scope *model.Scope, x *Node) *Node { return Conv2D(scope, nil, x, f, k, false) })
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Exec(tensors.FromFlatDataAndDimensions(x, c, b, h, w))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := tensors.CopyFlatData[float32](out[0])
	wt, _ := tensors.CopyFlatData[float32](store.GetVariable("/weights").MustValue())
	for n := 0; n < b; n++ {
		for y := 0; y < h; y++ {
			for xx := 0; xx < w; xx++ {
				for o := 0; o < f; o++ {
					sum := 0.0
					for dy := 0; dy < k; dy++ {
						for dx := 0; dx < k; dx++ {
							sy, sx := y+dy-1, xx+dx-1
							if sy < 0 || sy >= h || sx < 0 || sx >= w {
								continue
							}
							for ch := 0; ch < c; ch++ {
								sum += float64(x[((ch*b+n)*h+sy)*w+sx]) * float64(wt[((dy*k+dx)*c+ch)*f+o])
							}
						}
					}
					if g := got[((o*b+n)*h+y)*w+xx]; math.Abs(float64(g)-sum) > 1e-4 {
						t.Fatalf("output (%d,%d,%d,%d) = %v, direct %v", o, n, y, xx, g, sum)
					}
				}
			}
		}
	}
}

// TestNormPoolRelu: one channel, two 2x3 images. In training the batch
// mean is 2 and the (biased) variance 12/3 = 4... see the values below; the
// odd third column is dropped by the pooling, and the running averages
// move 10% of the way to the batch mean and unbiased variance.
func TestNormPoolRelu(t *testing.T) {
	// Values 0,4,2 / 2,0,4 and -2,2,6 / 0,4,2: sum 24, mean 2; squares
	// sum 4+16+4+4+16+4+36+4+16+4... computed in the test below by hand:
	// sum of squares = 0+16+4+4+0+16+4+4+36+0+16+4 = 104, E[x^2] = 104/12,
	// variance = 104/12 - 4 = 14/3, unbiased 14/3*12/11 = 56/11.
	x := []float32{0, 4, 2, 2, 0, 4, -2, 2, 6, 0, 4, 2}
	backend, _ := Backend()
	store := model.NewStore()
	exec, err := model.NewExec(backend, store, func(scope *model.Scope, x *Node) *Node {
		scope.Store().SetTraining(x.Graph(), true)
		return NormPoolRelu(scope, nil, x)
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Exec(tensors.FromFlatDataAndDimensions(x, 1, 2, 2, 3))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := tensors.CopyFlatData[float32](out[0])
	std := math.Sqrt(14.0/3 + 1e-5)
	// Windows (first two columns): max(0,4,2,0) = 4 and max(-2,2,0,4) = 4;
	// both normalize to (4-2)/std.
	want := []float64{2 / std, 2 / std}
	if len(got) != 2 || math.Abs(float64(got[0])-want[0]) > 1e-5 || math.Abs(float64(got[1])-want[1]) > 1e-5 {
		t.Fatalf("NormPoolRelu = %v, want %v", got, want)
	}
	mean, _ := tensors.CopyFlatData[float32](store.GetVariable("/batchnorm/mean").MustValue())
	variance, _ := tensors.CopyFlatData[float32](store.GetVariable("/batchnorm/variance").MustValue())
	if math.Abs(float64(mean[0])-0.2) > 1e-6 || math.Abs(float64(variance[0])-(0.9+0.1*56.0/11)) > 1e-5 {
		t.Fatalf("running mean %v variance %v", mean, variance)
	}
	// A window whose values all normalize below zero gives 0.
	inference, err := model.NewExec(backend, model.NewStore(), func(scope *model.Scope, x *Node) *Node {
		return NormPoolRelu(scope, nil, x)
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err = inference.Exec(tensors.FromFlatDataAndDimensions([]float32{-3, -4, -5, -6}, 1, 1, 2, 2))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ = tensors.CopyFlatData[float32](out[0]); got[0] != 0 {
		t.Fatalf("inference NormPoolRelu of negatives = %v, want 0", got)
	}
}

// TestTapeBackward checks the written backward pass of whole networks
// against GoMLX's automatic differentiation of the same forward graph, for
// the loss sum(output * r) with random r: two conv blocks with odd map
// sizes and a hidden layer; and three blocks fused (Fuse), the first
// block's 6x5 map pooled twice (dropping odd rows and columns) and the
// second's 3x2 map once to the last block's 1x1; three fully connected
// layers fused into the output layer of a network without blocks; and
// tanh outputs.
func TestTapeBackward(t *testing.T) {
	tests := []struct {
		name  string
		net   CNN
		nvars int
	}{
		{"plain", CNN{Height: 7, Width: 6, Channels: 2, Filters: []int{3, 4}, Kernel: 3, Hidden: []int{5}, Outputs: 4}, 10},
		{"fused", CNN{Height: 13, Width: 11, Channels: 2, Filters: []int{3, 4, 2}, Kernel: 3, Hidden: []int{5}, Outputs: 4, Fuse: true}, 13},
		{"hidden layers fused", CNN{Height: 1, Width: 6, Channels: 1, Kernel: 1, Hidden: []int{5, 4, 3}, Outputs: 4, Fuse: true}, 8},
		{"tanh", CNN{Height: 5, Width: 5, Channels: 1, Filters: []int{3}, Kernel: 3, Hidden: []int{4}, Outputs: 3, Tanh: true}, 7},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { testTapeBackward(t, tc.net, tc.nvars) })
	}
}

func testTapeBackward(t *testing.T, net CNN, nvars int) {
	const batch = 3
	rng := rand.New(rand.NewPCG(5, 6))
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
	var names []string
	exec, err := model.NewExec(backend, store, func(scope *model.Scope, x, r *Node) []*Node {
		scope.Store().SetTraining(x.Graph(), true)
		u, tape := net.Train(scope, x)
		hand := tape.Backward(r)
		loss := ReduceAllSum(Mul(u, r))
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
	check := func(what string) {
		t.Helper()
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
			for j := range auto {
				if d := math.Abs(float64(hand[j] - auto[j])); d > 1e-4*max(scale, 1) {
					t.Fatalf("%s: %s[%d]: written backward %v, automatic %v", what, name, j, hand[j], auto[j])
				}
			}
		}
	}
	check("initial weights")
	// Negative normalization scales make the pooling select window minima.
	for i := range net.Filters {
		v := store.GetVariable(fmt.Sprintf("/%03d_conv/batchnorm/scale", i))
		n := v.Shape().Size()
		signs := make([]float32, n)
		for i := range signs {
			signs[i] = float32(1 - 2*(i%2))
		}
		if err := v.SetValue(tensors.FromFlatDataAndDimensions(signs, n)); err != nil {
			t.Fatal(err)
		}
	}
	check("mixed-sign scales")
}

func TestCNN_Validate(t *testing.T) {
	good := Reference(48)
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	if s := good.String(); s != "28x28x1 conv32-bn-relu-pool conv64-bn-relu-pool fc512-relu fc48" {
		t.Errorf("String() = %q", s)
	}
	bad := []func(c *CNN){
		func(c *CNN) { c.Kernel = 2 },
		func(c *CNN) { c.Outputs = 0 },
		func(c *CNN) { c.Filters = []int{8, 8, 8, 8, 8} },
		func(c *CNN) { c.Hidden = []int{0} },
		func(c *CNN) { c.Height = 0 },
	}
	for i, mutate := range bad {
		c := Reference(48)
		mutate(&c)
		if c.Validate() == nil {
			t.Errorf("case %d: %s accepted", i, c)
		}
	}
}

package encoder

import (
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

func TestMaxPool2(t *testing.T) {
	// One 4x4 single-channel image; its 2x2 blocks have maxima 6, 8, 14, 16.
	// A 5x5 image drops its last row and column, as PyTorch does.
	x := make([]float32, 16)
	for i := range x {
		x[i] = float32(i + 1)
	}
	got := run(t, MaxPool2, tensors.FromFlatDataAndDimensions(x, 1, 4, 4, 1))
	want := []float32{6, 8, 14, 16}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("MaxPool2 = %v, want %v", got, want)
		}
	}
	x5 := make([]float32, 25)
	for i := range x5 {
		x5[i] = float32(i)
	}
	got = run(t, MaxPool2, tensors.FromFlatDataAndDimensions(x5, 1, 5, 5, 1))
	if want := []float32{6, 8, 16, 18}; len(got) != 4 || got[0] != want[0] || got[3] != want[3] {
		t.Fatalf("MaxPool2 of 5x5 = %v, want %v", got, want)
	}
}

func TestPatches(t *testing.T) {
	// 2x2 image [[1 2] [3 4]], 3x3 zero-padded patches in (dy, dx) order.
	x := tensors.FromFlatDataAndDimensions([]float32{1, 2, 3, 4}, 1, 2, 2, 1)
	got := run(t, func(x *Node) *Node { return Patches(x, 3) }, x)
	want := []float32{
		0, 0, 0, 0, 1, 2, 0, 3, 4, // pixel (0,0)
		0, 0, 0, 1, 2, 0, 3, 4, 0, // pixel (0,1)
		0, 1, 2, 0, 3, 4, 0, 0, 0, // pixel (1,0)
		1, 2, 0, 3, 4, 0, 0, 0, 0, // pixel (1,1)
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
	x := make([]float32, b*h*w*c)
	for i := range x {
		x[i] = rng.Float32()*2 - 1
	}
	backend, _ := Backend()
	store := model.NewStore()
	exec, err := model.NewExec(backend, store, func(scope *model.Scope, x *Node) *Node { return Conv2D(scope, x, f, k, true) })
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Exec(tensors.FromFlatDataAndDimensions(x, b, h, w, c))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := tensors.CopyFlatData[float32](out[0])
	wt, _ := tensors.CopyFlatData[float32](store.GetVariable("/weights").MustValue())
	bias, _ := tensors.CopyFlatData[float32](store.GetVariable("/bias").MustValue())
	for n := 0; n < b; n++ {
		for y := 0; y < h; y++ {
			for xx := 0; xx < w; xx++ {
				for o := 0; o < f; o++ {
					sum := float64(bias[o])
					for dy := 0; dy < k; dy++ {
						for dx := 0; dx < k; dx++ {
							sy, sx := y+dy-1, xx+dx-1
							if sy < 0 || sy >= h || sx < 0 || sx >= w {
								continue
							}
							for ch := 0; ch < c; ch++ {
								sum += float64(x[((n*h+sy)*w+sx)*c+ch]) * float64(wt[((dy*k+dx)*c+ch)*f+o])
							}
						}
					}
					if g := got[((n*h+y)*w+xx)*f+o]; math.Abs(float64(g)-sum) > 1e-4 {
						t.Fatalf("output (%d,%d,%d,%d) = %v, direct %v", n, y, xx, o, g, sum)
					}
				}
			}
		}
	}
}

// TestBatchNorm: in training, channel values {1, 3} and {2, 6} normalize
// to -1, +1 (up to epsilon) with scale 1 and offset 0, and the running
// averages move 10% of the way from (0, 1) to the batch mean and unbiased
// variance: mean (2, 4) -> (0.2, 0.4); variance (2, 8) -> (1.1, 1.7).
func TestBatchNorm(t *testing.T) {
	backend, _ := Backend()
	store := model.NewStore()
	exec, err := model.NewExec(backend, store, func(scope *model.Scope, x *Node) *Node {
		scope.Store().SetTraining(x.Graph(), true)
		return BatchNorm(scope, x)
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Exec(tensors.FromValue([][]float32{{1, 2}, {3, 6}}))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := tensors.CopyFlatData[float32](out[0])
	for i, want := range []float64{-1, -1, 1, 1} {
		if math.Abs(float64(got[i])-want) > 1e-3 {
			t.Fatalf("normalized = %v", got)
		}
	}
	mean, _ := tensors.CopyFlatData[float32](store.GetVariable("/batchnorm/mean").MustValue())
	variance, _ := tensors.CopyFlatData[float32](store.GetVariable("/batchnorm/variance").MustValue())
	if math.Abs(float64(mean[0])-0.2) > 1e-6 || math.Abs(float64(mean[1])-0.4) > 1e-6 ||
		math.Abs(float64(variance[0])-1.1) > 1e-5 || math.Abs(float64(variance[1])-1.7) > 1e-5 {
		t.Fatalf("running mean %v variance %v", mean, variance)
	}
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

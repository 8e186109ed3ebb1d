package hashing

import (
	"fmt"
	"math"
	"slices"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/lookalike/lookalike/encoder"
	"github.com/lookalike/lookalike/generative"
)

// TestHashGAN_Terms: the three hashing functions on hand-computed
// inputs. H(0.5) = ln 2 = 0.693147, H(0.1) = 0.230259 + 0.094824 =
// 0.325083. Feature means (2, 3) against (1, 2) differ by 1 and 1. W^T W
// of W = [[1 0] [0 2] [1 1]] is [[2 1] [1 5]]; minus I, squared, mean
// (1 + 1 + 1 + 16) / 4 = 4.75.
func TestHashGAN_Terms(t *testing.T) {
	tests := []struct {
		name string
		fn   func(g *Graph) *Node
		want float64
	}{
		{"entropy", func(g *Graph) *Node { return BitEntropy(Const(g, []float32{0.5, 0.1})) }, 0.509115},
		{"entropy saturated", func(g *Graph) *Node { return BitEntropy(Const(g, []float32{0, 1})) }, 0},
		{"matching", func(g *Graph) *Node {
			return FeatureMatching(Const(g, [][]float32{{1, 2}, {3, 4}}), Const(g, [][]float32{{0, 0}, {2, 2}, {1, 4}}))
		}, 1},
		{"independence", func(g *Graph) *Node { return Independence(Const(g, [][]float32{{1, 0}, {0, 2}, {1, 1}})) }, 4.75},
	}
	backend, err := encoder.Backend()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		out, err := ExecOnce(backend, func(g *Graph) *Node { return tc.fn(g) })
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got, _ := tensors.CopyFlatData[float32](out)
		if math.Abs(float64(got[0])-tc.want) > 1e-5 {
			t.Errorf("%s = %v, want %v", tc.name, got[0], tc.want)
		}
	}
}

// TestHashGAN_SharedLoss: two images and their rotated copies (Views 2)
// with outputs whose sigmoids are h = (0.5, 0.75), (0.25, 0.5) for the
// images and (0.5, 0.5), (0.25, 0.75) for the copies; the network's
// output layer W as in TestHashGAN_Terms. With the adversarial and
// collaborative weights 0 the loss is
//
//	entropy: mean of H(0.5), H(0.75), H(0.25), H(0.5) = 0.627741
//	uniform: -H(mean h) = -H(0.375) (both bits)       = -0.661563
//	consistent: mean of 0, 0.25^2, 0, 0.25^2           = 0.03125
//	independent:                                        4.75
//
// 4.747428 in all once the warm-up is over, 0 before it (step 0 of 10
// with warm-up 0.5): G's surrogate term adds nothing to the value.
func TestHashGAN_SharedLoss(t *testing.T) {
	ln3 := float32(math.Log(3))
	u := [][]float32{{0, ln3}, {-ln3, 0}, {0, 0}, {-ln3, ln3}}
	x := [][][][]float32{{{{1}, {0}}, {{1}, {0}}}, {{{0}, {1}}, {{0.5}, {1}}}, {{{1}, {0}}, {{1}, {0}}}, {{{0}, {1}}, {{0.5}, {1}}}}
	w := [][]float32{{1, 0}, {0, 2}, {1, 1}}
	tests := []struct {
		warmup float64
		want   float64
	}{{0, 4.747428}, {0.5, 0}}
	for _, tc := range tests {
		m := HashGAN{Entropy: 1, Uniform: 1, Consistent: 1, Independent: 1, Collaborative: 0, Adversarial: 0,
			Warmup: tc.warmup, Noise: 3, Fakes: 5, MaxAngle: 10, GeneratorHidden: []int{4}}
		loss, r := sharedLoss(t, m, u, x, w)
		for name, want := range map[string]float64{"entropy": 0.627741, "uniform": -0.661563, "consistent": 0.03125, "independent": 4.75} {
			if math.Abs(r[name]-want) > 1e-5 {
				t.Errorf("warm-up %v: %s = %v, want %v", tc.warmup, name, r[name], want)
			}
		}
		if math.Abs(loss-tc.want) > 1e-5 {
			t.Errorf("warm-up %v: loss %v, want %v", tc.warmup, loss, tc.want)
		}
		// The generated images' codes are in (0, 1) and b in {0, 1}: each
		// bit errs by less than 1.
		if c := r["collaborative"]; c <= 0 || c >= 2 || r[ReportDiscriminatorLoss] <= 0 || r["g_match"] < 0 {
			t.Errorf("warm-up %v: reports %v", tc.warmup, r)
		}
	}
}

// sharedLoss runs m's SharedLoss once on outputs u of images x (two
// views), with a network whose outputs on generated images are their
// first two pixels and whose output layer is w.
func sharedLoss(t *testing.T, m HashGAN, u [][]float32, x [][][][]float32, w [][]float32) (float64, map[string]float64) {
	t.Helper()
	backend, err := encoder.Backend()
	if err != nil {
		t.Fatal(err)
	}
	store := model.NewStore()
	store.SetParam(model.ParamInitialSeed, int64(1))
	exec, err := model.NewExec(backend, store, func(scope *model.Scope, u, x, w *Node) *Node {
		net := Network{
			Encode:        func(images *Node) *Node { return Slice(generative.Flatten(images), AxisRange(), AxisRange(0, 2)) },
			OutputWeights: w,
		}
		return m.SharedLoss(Batch{U: u, Images: x, Steps: 10, Scope: scope.In("method"), Bits: 2, Views: 2, Monitor: scope.In("monitor")}, net)
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Exec(u, x, w)
	if err != nil {
		t.Fatal(err)
	}
	loss, err := tensors.CopyFlatData[float32](out[0])
	if err != nil {
		t.Fatal(err)
	}
	return float64(loss[0]), monitorReports(t, store)
}

// TestHashGAN_Augment: view 0 and a zero angle copy the image; view 1
// turns it by the same angle every time, within MaxAngle: the bright
// pixel of a 5x5 image at row 0, column 2, turned by at most 30 degrees
// about the centre (2, 2), lands at row 2 - 2 cos(angle) <= 0.27, so that
// bilinear interpolation leaves rows 2 to 4 dark.
func TestHashGAN_Augment(t *testing.T) {
	src := make([]float32, 25)
	src[2] = 1
	for _, tc := range []struct {
		angle float64
		view  int
		same  bool
	}{{0, 1, true}, {30, 0, true}, {30, 1, false}} {
		m := HashGAN{MaxAngle: tc.angle}
		a, b := make([]float32, 25), make([]float32, 25)
		m.Augment(a, src, 5, 5, 1, tc.view)
		m.Augment(b, src, 5, 5, 1, tc.view)
		if !slices.Equal(a, b) {
			t.Errorf("angle %v view %d: two calls differ", tc.angle, tc.view)
		}
		if got := slices.Equal(a, src); got != tc.same {
			t.Errorf("angle %v view %d: copy %v, want %v: %v", tc.angle, tc.view, got, tc.same, a)
		}
		for i := 10; i < 25; i++ {
			if a[i] != 0 {
				t.Errorf("angle %v view %d: mass at row %d: %v", tc.angle, tc.view, i/5, a)
				break
			}
		}
	}
}

// TestHashGAN_Redraw: one key gives one T; T mirrors about half the
// time: a bright pixel at column 4 of a 28x28 image, turned by at most 10
// degrees about the centre (13.5, 13.5) (at most 1.8 pixels) and shifted
// by at most 1.4, stays left of column 8 unless mirrored to column 23.
func TestHashGAN_Redraw(t *testing.T) {
	m, err := Lookup("hashgan")
	if err != nil {
		t.Fatal(err)
	}
	h := m.(HashGAN)
	src := make([]float32, 28*28)
	src[14*28+4] = 1
	a, b := make([]float32, len(src)), make([]float32, len(src))
	mirrored, distinct := 0, map[string]bool{}
	for key := range uint64(64) {
		h.Redraw(a, src, 28, 28, 1, 1, key)
		h.Redraw(b, src, 28, 28, 1, 1, key)
		if !slices.Equal(a, b) {
			t.Fatalf("key %d: two calls differ", key)
		}
		distinct[fmt.Sprint(a)] = true
		left, right := float32(0), float32(0)
		for i, v := range a {
			switch x := i % 28; {
			case x < 8:
				left += v
			case x > 19:
				right += v
			}
		}
		if left+right < 0.99 {
			t.Fatalf("key %d: mass %v outside columns 0-7 and 20-27", key, left+right)
		}
		if right > left {
			mirrored++
		}
		h.Redraw(a, src, 28, 28, 1, 0, key)
		if !slices.Equal(a, src) {
			t.Fatalf("key %d: view 0 is not a copy", key)
		}
	}
	if mirrored < 16 || mirrored > 48 {
		t.Errorf("mirrored %d of 64 draws", mirrored)
	}
	if len(distinct) < 60 {
		t.Errorf("%d distinct views of 64 draws", len(distinct))
	}
}

// TestHashGAN_Unaugmented: without T (feature vectors) HashGAN takes one
// view, so its consistency term drops out; the registered method takes two.
func TestHashGAN_Unaugmented(t *testing.T) {
	m, err := Lookup("hashgan")
	if err != nil {
		t.Fatal(err)
	}
	h := m.(HashGAN)
	u, ok := h.Unaugmented().(HashGAN)
	if h.Views() != 2 || !ok || u.Views() != 1 || u.Consistent != h.Consistent {
		t.Errorf("views %d, unaugmented %+v (views %d)", h.Views(), u, u.Views())
	}
}

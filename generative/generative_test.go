package generative

import (
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/lookalike/lookalike/encoder"
)

func scalar(t *testing.T, f func([]*Node) *Node, inputs ...any) float64 {
	t.Helper()
	b, err := encoder.Backend()
	if err != nil {
		t.Fatal(err)
	}
	out, err := ExecOnce(b, f, inputs...)
	if err != nil {
		t.Fatal(err)
	}
	v, err := tensors.CopyFlatData[float32](out)
	if err != nil {
		t.Fatal(err)
	}
	return float64(v[0])
}

// TestLosses: with softplus(x) = log(1 + e^x),
//
//	D loss at logits 0, 0: 2 log 2 = 1.386294
//	D loss at real 2, fake -1: softplus(-2) + softplus(-1) = 0.126928 + 0.313262
//	G loss at fake logits (0, 2): (log 2 + softplus(-2)) / 2 = 0.410038
func TestLosses(t *testing.T) {
	tests := []struct {
		name string
		f    func([]*Node) *Node
		in   []any
		want float64
	}{
		{"discriminator undecided", func(x []*Node) *Node { return DiscriminatorLoss(x[0], x[1]) }, []any{[]float32{0}, []float32{0}}, 1.386294},
		{"discriminator right", func(x []*Node) *Node { return DiscriminatorLoss(x[0], x[1]) }, []any{[]float32{2}, []float32{-1}}, 0.440190},
		{"generator", func(x []*Node) *Node { return GeneratorLoss(x[0]) }, []any{[]float32{0, 2}}, 0.410038},
		{"leaky relu", func(x []*Node) *Node { return ReduceAllSum(LeakyRelu(x[0], 0.2)) }, []any{[]float32{-1, 3}}, 2.8},
	}
	for _, tc := range tests {
		if got := scalar(t, tc.f, tc.in...); math.Abs(got-tc.want) > 1e-5 {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestGrid: two 1x2 grey images side by side (7 x 5 pixels with the
// borders), real above generated; 0.5 maps to 128, 0.25 to 64.
func TestGrid(t *testing.T) {
	real := []float32{0, 1, 0.5, 0.25}
	gen := []float32{1, 0, 0, 2}
	img, err := Grid(real, gen, 2, 1, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 7 || b.Dy() != 5 {
		t.Fatalf("grid is %v, want 7x5", b)
	}
	tests := []struct {
		x, y int
		want uint8
	}{
		{0, 0, 128}, {1, 1, 0}, {2, 1, 255}, {3, 1, 128}, {4, 1, 128}, {5, 1, 64},
		{1, 3, 255}, {2, 3, 0}, {4, 3, 0}, {5, 3, 255}, {1, 2, 128},
	}
	for _, tc := range tests {
		if got := img.RGBAAt(tc.x, tc.y); got != (color.RGBA{tc.want, tc.want, tc.want, 255}) {
			t.Errorf("pixel (%d, %d) = %v, want grey %d", tc.x, tc.y, got, tc.want)
		}
	}
	for _, bad := range []struct {
		name        string
		n, channels int
		real, gen   []float32
	}{
		{"short", 2, 1, real[:3], gen},
		{"two channels", 1, 2, real, gen},
		{"none", 0, 1, nil, nil},
	} {
		if _, err := Grid(bad.real, bad.gen, bad.n, 1, 2, bad.channels); err == nil {
			t.Errorf("%s: accepted", bad.name)
		}
	}
}

// TestCurves: one curve 1, 3, 2 rescales to 0, 1, 0.5 with its range in
// the label; a constant curve sits at 0.5; NaNs are skipped.
func TestCurves(t *testing.T) {
	p, err := Curves("t", []string{"a", "b"}, [][]float64{{1, 7}, {3, 7}, {2, math.NaN()}})
	if err != nil {
		t.Fatal(err)
	}
	a, b := p.Series[0], p.Series[1]
	if a.Label != "a (1 .. 3)" || len(a.Y) != 3 || a.Y[0] != 0 || a.Y[1] != 1 || a.Y[2] != 0.5 || a.X[2] != 3 {
		t.Errorf("curve a = %+v", a)
	}
	if len(b.Y) != 2 || b.Y[0] != 0.5 || b.Y[1] != 0.5 {
		t.Errorf("constant curve b = %+v", b)
	}
	// 1,000 steps average down to windows of 4: at most CurvePoints points.
	long := make([][]float64, 1000)
	for i := range long {
		long[i] = []float64{float64(i % 4)}
	}
	p, err = Curves("t", []string{"x"}, long)
	if err != nil || len(p.Series[0].X) != 250 || p.Series[0].Label != "x (1.5 .. 1.5)" {
		t.Errorf("long curve: %v, %d points, %q", err, len(p.Series[0].X), p.Series[0].Label)
	}
	if _, err := Curves("t", []string{"a"}, [][]float64{{1, 2}}); err == nil {
		t.Error("mismatched step accepted")
	}
}

// TestWritePictures writes both PNGs and checks their signature.
func TestWritePictures(t *testing.T) {
	dir := t.TempDir()
	grid, curves := filepath.Join(dir, "m.samples.png"), filepath.Join(dir, "m.losses.png")
	if err := WriteGrid(grid, []float32{0, 1}, []float32{1, 0}, 1, 1, 2, 1); err != nil {
		t.Fatal(err)
	}
	if err := WriteCurves(curves, "t", []string{"loss"}, [][]float64{{1}, {0.5}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{grid, curves} {
		b, err := os.ReadFile(p)
		if err != nil || !strings.HasPrefix(string(b), "\x89PNG") {
			t.Errorf("%s: not a PNG (%v)", p, err)
		}
	}
}

// TestDense_Frozen: the gradient of sum(x W + b) with respect to W is x's
// column sums on every output (here 1 + 3 = 4 and 2 + 4 = 6 for the two
// input units) and 0 once the layer is frozen; b's is the row count, 2.
func TestDense_Frozen(t *testing.T) {
	for _, frozen := range []bool{false, true} {
		backend, err := encoder.Backend()
		if err != nil {
			t.Fatal(err)
		}
		store := model.NewStore()
		exec, err := model.NewExec(backend, store, func(scope *model.Scope, x *Node) []*Node {
			y := ReduceAllSum(Dense(scope.In("layer"), x, 3, frozen))
			w := store.GetVariable("/layer/weights").NodeValue(x.Graph())
			b := store.GetVariable("/layer/biases").NodeValue(x.Graph())
			return Gradient(y, w, b)
		})
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Exec([][]float32{{1, 2}, {3, 4}})
		if err != nil {
			t.Fatal(err)
		}
		gw, _ := tensors.CopyFlatData[float32](out[0])
		gb, _ := tensors.CopyFlatData[float32](out[1])
		want, wantB := []float32{4, 4, 4, 6, 6, 6}, []float32{2, 2, 2}
		if frozen {
			want, wantB = make([]float32, 6), make([]float32, 3)
		}
		if !slices.Equal(gw, want) || !slices.Equal(gb, wantB) {
			t.Errorf("frozen %v: gradients %v, %v; want %v, %v", frozen, gw, gb, want, wantB)
		}
	}
}

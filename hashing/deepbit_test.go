package hashing

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/lookalike/lookalike/encoder"
)

// evalViewsLoss evaluates m's loss on outputs u holding views blocks.
func evalViewsLoss(t *testing.T, m Deep, u [][]float32, views int) float64 {
	t.Helper()
	b, err := encoder.Backend()
	if err != nil {
		t.Fatal(err)
	}
	out, err := ExecOnce(b, func(u *Node) *Node { return m.Loss(Batch{U: u, Views: views}) }, tensors.FromValue(u))
	if err != nil {
		t.Fatal(err)
	}
	v, err := tensors.CopyFlatData[float32](out)
	if err != nil {
		t.Fatal(err)
	}
	return float64(v[0])
}

// TestDeepBit_Loss works the four terms out by hand.
//
// One view, u = [[1, -0.5], [0.25, 0.5]]: the targets b - 0.5 are
// [[0.5, -0.5], [0.5, 0.5]], so L1 = mean(0.5^2, 0.25^2) = 0.15625; the
// bit means are 0.625 and 0, so L2 = 0.390625.
//
// Two views, u = [[0.5, 0.5], [0.5, -0.5]] (an image and its copy rotated
// by -10 degrees): L1 = 0 (both at +-0.5); bit means 0.5 and 0, L2 = 0.25;
// ||(0, 1)||^2 = 1 weighed by C = exp(-10^2 / (2 * 10^2)) = 0.606531 with
// Sigma = 10, by 1 without a Sigma, by exp(-1/8) = 0.882497 with Sigma 20.
//
// L4 over the rows: for the first u, 2F = [[2, -1], [0.5, 1]] and
// (2F)^T (2F) / 2 = [[2.125, -0.75], [-0.75, 1]], so L4 = 1.125^2 +
// 2 * 0.75^2 + 0 = 2.390625; for the second, 2F = [[1, 1], [1, -1]] has
// uncorrelated columns of +-1: L4 = 0.
func TestDeepBit_Loss(t *testing.T) {
	one := [][]float32{{1, -0.5}, {0.25, 0.5}}
	two := [][]float32{{0.5, 0.5}, {0.5, -0.5}}
	c := 0.606531
	tests := []struct {
		name  string
		m     DeepBit
		u     [][]float32
		views int
		want  float64
	}{
		{"L1 + L2", DeepBit{Alpha: 1, Beta: 1, Gamma: 1}, one, 1, 0.15625 + 0.390625},
		{"weights", DeepBit{Alpha: 2, Beta: 0.5, Gamma: 1}, one, 1, 2*0.15625 + 0.5*0.390625},
		{"rotation", DeepBit{Alpha: 1, Beta: 1, Gamma: 2, Angles: []float64{-10}, Sigma: 10}, two, 2, 0.25 + 2*c},
		{"rotation, wider C", DeepBit{Alpha: 1, Beta: 1, Gamma: 2, Angles: []float64{-10}, Sigma: 20}, two, 2, 0.25 + 2*0.882497},
		{"rotation, C = 1", DeepBit{Alpha: 1, Beta: 1, Gamma: 2, Angles: []float64{-10}}, two, 2, 0.25 + 2},
		{"rotation off", DeepBit{Alpha: 1, Beta: 1, Gamma: 0, Angles: []float64{-10}, Sigma: 10}, two, 2, 0.25},
		{"correlated bits", DeepBit{Alpha: 1, Beta: 1, Gamma: 1, Delta: 1}, one, 1, 0.15625 + 0.390625 + 2.390625},
		{"uncorrelated bits", DeepBit{Alpha: 1, Beta: 1, Gamma: 2, Delta: 1, Angles: []float64{-10}, Sigma: 10}, two, 2, 0.25 + 2*c},
	}
	for _, tc := range tests {
		if got := evalViewsLoss(t, tc.m, tc.u, tc.views); math.Abs(got-tc.want) > 1e-5 {
			t.Errorf("%s: loss = %.6f, want %.6f", tc.name, got, tc.want)
		}
	}
}

// TestAffine: a mirror reverses a row, a shift by one pixel moves it in
// from the black border, half a pixel averages neighbours (2 = (1 + 3) /
// 2), and a mirror then a shift compose in that order.
func TestAffine(t *testing.T) {
	row := []float32{1, 2, 3}
	tests := []struct {
		name string
		src  []float32
		h, w int
		a    AffineMap
		want []float32
	}{
		{"identity", row, 1, 3, AffineMap{}, row},
		{"mirror", row, 1, 3, AffineMap{Flip: true}, []float32{3, 2, 1}},
		{"one pixel right", row, 1, 3, AffineMap{ShiftX: 1}, []float32{0, 1, 2}},
		{"one pixel left", row, 1, 3, AffineMap{ShiftX: -1}, []float32{2, 3, 0}},
		{"half a pixel down", []float32{1, 3}, 2, 1, AffineMap{ShiftY: 0.5}, []float32{0.5, 2}},
		{"mirror then right", row, 1, 3, AffineMap{Flip: true, ShiftX: 1}, []float32{0, 3, 2}},
		{"mirror then half turn", []float32{1, 2, 3, 4}, 2, 2, AffineMap{Flip: true, Degrees: 180}, []float32{3, 4, 1, 2}},
	}
	for _, tc := range tests {
		dst := make([]float32, len(tc.src))
		Affine(dst, tc.src, tc.h, tc.w, 1, tc.a)
		for i := range dst {
			if math.Abs(float64(dst[i]-tc.want[i])) > 1e-5 {
				t.Errorf("%s: got %v, want %v", tc.name, dst, tc.want)
				break
			}
		}
	}
}

// TestRotate: quarter and half turns permute the pixels; at 45 degrees the
// top-left corner comes from (x, y) = (1, -0.414) of the source, between
// the row outside (0) and pixel 2 of the first row: (2 - sqrt 2) * 2.
func TestRotate(t *testing.T) {
	img := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}
	tests := []struct {
		name     string
		src      []float32
		h, w, ch int
		degrees  float64
		want     []float32
	}{
		{"identity", img, 3, 3, 1, 0, img},
		{"quarter turn counter-clockwise", img, 3, 3, 1, 90, []float32{3, 6, 9, 2, 5, 8, 1, 4, 7}},
		{"half turn, two channels", []float32{1, 10, 2, 20, 3, 30, 4, 40}, 2, 2, 2, 180, []float32{4, 40, 3, 30, 2, 20, 1, 10}},
		{"45 degrees", img, 3, 3, 1, 45, nil},
	}
	for _, tc := range tests {
		dst := make([]float32, len(tc.src))
		Rotate(dst, tc.src, tc.h, tc.w, tc.ch, tc.degrees)
		if tc.want == nil {
			if got, want := float64(dst[0]), (2-math.Sqrt2)*2; math.Abs(got-want) > 1e-5 {
				t.Errorf("%s: corner = %v, want %v", tc.name, got, want)
			}
			if math.Abs(float64(dst[4])-5) > 1e-5 {
				t.Errorf("%s: centre = %v, want 5", tc.name, dst[4])
			}
			continue
		}
		for i := range dst {
			if math.Abs(float64(dst[i]-tc.want[i])) > 1e-5 {
				t.Errorf("%s: got %v, want %v", tc.name, dst, tc.want)
				break
			}
		}
	}
}

// TestDeepBit_Augment: view v rotates by Angles[v-1].
func TestDeepBit_Augment(t *testing.T) {
	m := DeepBit{Angles: []float64{90, 180}}
	if m.Views() != 3 || ViewsOf(m) != 3 {
		t.Fatalf("views = %d, %d; want 3", m.Views(), ViewsOf(m))
	}
	img := []float32{1, 2, 3, 4}
	for _, tc := range []struct {
		view int
		want []float32
	}{{1, []float32{2, 4, 1, 3}}, {2, []float32{4, 3, 2, 1}}} {
		dst := make([]float32, 4)
		m.Augment(dst, img, 2, 2, 1, tc.view)
		for i := range dst {
			if math.Abs(float64(dst[i]-tc.want[i])) > 1e-5 {
				t.Errorf("view %d: got %v, want %v", tc.view, dst, tc.want)
				break
			}
		}
	}
}

func TestUnsupervisedRegistered(t *testing.T) {
	for _, name := range []string{"deepbit", "dbdmq", "sadh"} {
		m, err := Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := m.(Deep); !ok || m.Info().Supervised || m.Info().Paper == "" {
			t.Errorf("%s registered as %+v", name, m.Info())
		}
	}
	for _, m := range []Method{DeepBit{}, DBDMQ{}} {
		if _, ok := m.(Augmenter); !ok {
			t.Errorf("%s is not an Augmenter", m.Info().Name)
		}
	}
	if _, ok := Method(SADH{}).(Refitter); !ok {
		t.Error("sadh is not a Refitter")
	}
}

// TestDeepBit_Network: DeepBit and DBD-MQ train the output layer alone on
// the pixels, whatever blocks the base network has.
func TestDeepBit_Network(t *testing.T) {
	fused := encoder.Reference(48)
	fused.Filters, fused.Fuse, fused.Attention = []int{8, 8}, true, 4
	for _, tc := range []struct {
		name string
		a    Architect
		base encoder.CNN
		want string
	}{
		{"deepbit", DeepBit{}, encoder.Reference(48), "28x28x1 fc48"},
		{"dbdmq", DBDMQ{}, encoder.Reference(32), "28x28x1 fc32"},
		{"deepbit, fused and attending", DeepBit{}, fused, "28x28x1 fc48"},
	} {
		net := tc.a.Network(tc.base)
		if err := net.Validate(); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
		if got := net.String(); got != tc.want {
			t.Errorf("%s: network %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestUnaugmented: on feature vectors DeepBit and DBD-MQ keep every term but
// the rotation invariance: one view, the other weights as registered.
func TestUnaugmented(t *testing.T) {
	for _, name := range []string{"deepbit", "dbdmq"} {
		m, err := Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		u, ok := m.(Unaugmenter)
		if !ok {
			t.Fatalf("%s is not an Unaugmenter", name)
		}
		if u.Views() != 5 {
			t.Errorf("%s registered with %d views, want 5 (the image and 4 rotations)", name, u.Views())
		}
		plain := u.Unaugmented()
		if got := ViewsOf(plain); got != 1 {
			t.Errorf("%s unaugmented: %d views, want 1", name, got)
		}
		switch p := plain.(type) {
		case DeepBit:
			if r := m.(DeepBit); p.Gamma != r.Gamma || p.Delta != r.Delta || p.Alpha != r.Alpha {
				t.Errorf("deepbit unaugmented changed its weights: %+v", p)
			}
		case DBDMQ:
			if r := m.(DBDMQ); p.K != r.K || p.Lambda4 != r.Lambda4 {
				t.Errorf("dbdmq unaugmented changed its weights: %+v", p)
			}
		default:
			t.Errorf("%s unaugmented is a %T", name, plain)
		}
	}
}

package hashing

import (
	"slices"
	"testing"

	"github.com/lookalike/lookalike/encoder"
)

// TestSpectralModes: eigenvalues grow with (k / (b - a))^2; trainSH
// enumerates up to ceil((bits+1) R_i / max R) - 1 modes per component,
// component by component, and sorts them stably.
func TestSpectralModes(t *testing.T) {
	tests := []struct {
		name   string
		lo, hi []float64
		bits   int
		want   []spectralMode
	}{
		// R = (4, 2): (k/R)^2 = 1/16 (0,1); 4/16 (0,2) and (1,1), a tie
		// kept in enumeration order.
		{"tie", []float64{0, 0}, []float64{4, 2}, 3, []spectralMode{{0, 1}, {0, 2}, {1, 1}}},
		{"one bit", []float64{0, 0}, []float64{4, 2}, 1, []spectralMode{{0, 1}}},
		// bits 6: up to 6 modes along 0 and ceil(7*2/4) - 1 = 3 along 1:
		// 1, 4, 4, 9, 16 (0,4), 16 (1,2) sixteenths.
		{"second tie", []float64{0, -1}, []float64{4, 1}, 6, []spectralMode{{0, 1}, {0, 2}, {1, 1}, {0, 3}, {0, 4}, {1, 2}}},
		// R = (1, 3): the wider component comes first whatever its index.
		{"wider second", []float64{0, 0}, []float64{1, 3}, 3, []spectralMode{{1, 1}, {1, 2}, {0, 1}}},
		// A component without width gets no mode.
		{"flat component", []float64{0, 1}, []float64{4, 1}, 2, []spectralMode{{0, 1}, {0, 2}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := spectralModes(tc.lo, tc.hi, tc.bits)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("modes %v, want %v", got, tc.want)
			}
		})
	}
	if _, err := spectralModes([]float64{1, 2}, []float64{1, 2}, 2); err == nil {
		t.Error("data without range accepted")
	}
}

// TestSH_Fit: six points, spread along x on [-2, 2] and along y on
// [-0.75, 0.75], mean 0, so the principal directions are x then y, with
// R = 4 and 1.5. Eigenvalues (k/R)^2: (x, 1) 1/16, (x, 2) 4/16, (y, 1)
// 4/9, (x, 3) 9/16; bit = [cos(k pi/R (p - min)) > 0]:
//
//	(-1.5,  0.5): cos(pi/8) > 0, cos(pi/4) > 0, cos(5pi/6) < 0: 110
//	( 1.5, -0.5): cos(7pi/8) < 0, cos(7pi/4) > 0, cos(pi/6) > 0: 011
//	( 0.5,  0.9): cos(5pi/8) < 0, cos(5pi/4) < 0, cos(1.1pi) < 0: 000
//
// A principal direction found with the opposite sign maps p - min to R -
// (p - min), which flips the bits of odd modes: the expected codes are
// flipped the same way.
func TestSH_Fit(t *testing.T) {
	x := []float32{-2, 0, 2, 0, 0, -0.75, 0, 0.75, -1, 0, 1, 0}
	e, err := SH{}.Fit(x, 2, nil, 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	s, ok := e.(*encoder.Spectral)
	if !ok {
		t.Fatalf("learned a %T", e)
	}
	if !slices.Equal(s.Modes, []int32{1, 0, 2, 0, 0, 1}) {
		t.Errorf("modes %v, want [[1 0] [2 0] [0 1]]", s.Modes)
	}
	for i, want := range [][2]float32{{-2, 2}, {-0.75, 0.75}} {
		if d0, d1 := s.Min[i]-want[0], s.Max[i]-want[1]; d0*d0 > 1e-10 || d1*d1 > 1e-10 {
			t.Errorf("component %d range [%v, %v], want %v", i, s.Min[i], s.Max[i], want)
		}
	}
	flipX, flipY := s.PCA.Projection[0] < 0, s.PCA.Projection[3] < 0
	queries := []float32{-1.5, 0.5, 1.5, -0.5, 0.5, 0.9}
	want := [][3]bool{{true, true, false}, {false, true, true}, {false, false, false}}
	out, err := s.Encode(queries, 3)
	if err != nil {
		t.Fatal(err)
	}
	for q, w := range want {
		w[0] = w[0] != flipX
		w[2] = w[2] != flipY
		got := [3]bool{out[3*q] > 0, out[3*q+1] > 0, out[3*q+2] > 0}
		if got != w {
			t.Errorf("query %v: code %v, want %v", queries[2*q:2*q+2], got, w)
		}
	}
}

// TestSH_FitMoreBitsThanDims: with 2 dimensions, 16 bits are 16 modes
// over the 2 components, most along the wider one.
func TestSH_FitMoreBitsThanDims(t *testing.T) {
	e, err := SH{}.Fit(stretched(500), 2, nil, 16, 0)
	if err != nil {
		t.Fatal(err)
	}
	s := e.(*encoder.Spectral)
	if s.Components() != 2 || s.Outputs() != 16 {
		t.Fatalf("%d components, %d outputs", s.Components(), s.Outputs())
	}
	along := [2]int{}
	for j := 0; j < 16; j++ {
		for i := 0; i < 2; i++ {
			if s.Modes[j*2+i] != 0 {
				along[i]++
			}
		}
	}
	// Ranges about 10 to 1 (std 3 against 0.3): the narrow component's
	// first mode has the eigenvalue of the wide one's tenth or so.
	if along[0] < 12 || along[1] < 1 || along[0]+along[1] != 16 {
		t.Errorf("modes along each component %v", along)
	}
	if _, err := (SH{}).Fit([]float32{1, 1, 1, 1}, 2, nil, 2, 0); err == nil {
		t.Error("identical training vectors accepted")
	}
}

package encoder

import (
	"math"
	"testing"
)

func identity2() Linear {
	return Linear{Mean: []float32{0, 0}, Projection: []float32{1, 0, 0, 1}, Dim: 2, Out: 2}
}

// TestSpectral_Encode: component 0 uniform on [0, 4], component 1 on
// [-1, 1]; y = prod_i cos(k_i pi/(max_i-min_i) (p_i - min_i)).
func TestSpectral_Encode(t *testing.T) {
	s := &Spectral{PCA: identity2(), Min: []float32{0, -1}, Max: []float32{4, 1},
		Modes: []int32{1, 0, 2, 0, 0, 1, 1, 1}, Out: 4}
	c8, c4 := math.Cos(math.Pi/8), math.Cos(math.Pi/4)
	tests := []struct {
		x    []float32
		want []float64
	}{
		// (0.5, 0.5): cos(pi/8), cos(pi/4), cos(3pi/4), cos(pi/8) cos(3pi/4).
		{[]float32{0.5, 0.5}, []float64{c8, c4, -c4, -c8 * c4}},
		// (3.5, -1): cos(7pi/8), cos(7pi/4), cos(0), cos(7pi/8).
		{[]float32{3.5, -1}, []float64{-c8, c4, 1, -c8}},
	}
	for _, tc := range tests {
		got, err := s.Encode(tc.x, 1)
		if err != nil {
			t.Fatal(err)
		}
		for j, w := range tc.want {
			if math.Abs(float64(got[j])-w) > 1e-6 {
				t.Errorf("x %v: y_%d = %v, want %v", tc.x, j, got[j], w)
			}
		}
	}
}

// TestKernel_Encode: anchors (0, 0) and (3, 4), 2 sigma^2 = 25.
func TestKernel_Encode(t *testing.T) {
	k := &Kernel{Anchors: []float32{0, 0, 3, 4}, Sigma: math.Sqrt(12.5),
		Projection: []float32{1, -1, 2, 0}, Bias: []float32{0.5, 0}, Dim: 2, M: 2, Out: 2}
	e := math.Exp
	tests := []struct {
		x         []float32
		phi, want []float64
	}{
		{[]float32{0, 0}, []float64{1, e(-1)}, []float64{1 + 2*e(-1) + 0.5, -1}},
		{[]float32{3, 0}, []float64{e(-9.0 / 25), e(-16.0 / 25)}, []float64{e(-0.36) + 2*e(-0.64) + 0.5, -e(-0.36)}},
	}
	// 600 copies of each input span several batches and workers.
	const copies = 600
	for _, tc := range tests {
		phi, err := k.Features(tc.x, 1)
		if err != nil {
			t.Fatal(err)
		}
		var x []float32
		for range copies {
			x = append(x, tc.x...)
		}
		got, err := k.Encode(x, copies)
		if err != nil {
			t.Fatal(err)
		}
		for a, w := range tc.phi {
			if math.Abs(float64(phi[a])-w) > 1e-6 {
				t.Errorf("x %v: phi_%d = %v, want %v", tc.x, a, phi[a], w)
			}
		}
		for r := 0; r < copies; r++ {
			for j, w := range tc.want {
				if math.Abs(float64(got[r*2+j])-w) > 1e-5 {
					t.Fatalf("x %v, copy %d: output %d = %v, want %v", tc.x, r, j, got[r*2+j], w)
				}
			}
		}
	}
}

func TestShallow_Validate(t *testing.T) {
	spectral := func(f func(*Spectral)) Shallow {
		s := &Spectral{PCA: identity2(), Min: []float32{0, -1}, Max: []float32{4, 1}, Modes: []int32{1, 0, 0, 1}, Out: 2}
		f(s)
		return s
	}
	kernel := func(f func(*Kernel)) Shallow {
		k := &Kernel{Anchors: []float32{0, 0}, Sigma: 1, Projection: []float32{1}, Bias: []float32{0}, Dim: 2, M: 1, Out: 1}
		f(k)
		return k
	}
	tests := []struct {
		name string
		enc  Shallow
		ok   bool
	}{
		{"spectral", spectral(func(*Spectral) {}), true},
		{"spectral, unused empty range", spectral(func(s *Spectral) { s.Max[1] = -1; s.Modes[3] = 0 }), true},
		{"spectral, used empty range", spectral(func(s *Spectral) { s.Max[1] = -1 }), false},
		{"spectral, NaN bound", spectral(func(s *Spectral) { s.Min[0] = float32(math.NaN()) }), false},
		{"spectral, negative mode", spectral(func(s *Spectral) { s.Modes[0] = -1 }), false},
		{"spectral, short modes", spectral(func(s *Spectral) { s.Modes = s.Modes[:3] }), false},
		{"spectral, bad PCA", spectral(func(s *Spectral) { s.PCA.Mean = nil }), false},
		{"kernel", kernel(func(*Kernel) {}), true},
		{"kernel, zero width", kernel(func(k *Kernel) { k.Sigma = 0 }), false},
		{"kernel, NaN width", kernel(func(k *Kernel) { k.Sigma = math.NaN() }), false},
		{"kernel, short anchors", kernel(func(k *Kernel) { k.Anchors = k.Anchors[:1] }), false},
		{"kernel, no bias", kernel(func(k *Kernel) { k.Bias = nil }), false},
		{"linear", &Linear{Mean: []float32{0}, Projection: []float32{1, 2}, Dim: 1, Out: 2}, true},
		{"linear, short projection", &Linear{Mean: []float32{0}, Projection: []float32{1}, Dim: 1, Out: 2}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.enc.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate = %v, want ok %v", err, tc.ok)
			}
			// An invalid encoder refuses to encode rather than panicking.
			if _, err := tc.enc.Encode(make([]float32, tc.enc.Inputs()), 1); (err == nil) != tc.ok {
				t.Fatalf("Encode error %v, want ok %v", err, tc.ok)
			}
		})
	}
}

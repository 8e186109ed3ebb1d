package descriptor

import (
	"math"
	"reflect"
	"testing"
)

// Two channels of a 2x2 map: channel 0 is 1 2 / 3 4, channel 1 is
// 0 0 / 0 8.
var small = Map{C: 2, H: 2, W: 2, Data: []float32{1, 2, 3, 4, 0, 0, 0, 8}}

func TestPool(t *testing.T) {
	gem0 := math.Cbrt((1 + 8 + 27 + 64) / 4.0) // (mean x^3)^(1/3) = 25^(1/3)
	gem1 := math.Cbrt(512 / 4.0)               // 128^(1/3)
	tests := []struct {
		p    Pooling
		want []float64
	}{
		{MAC, []float64{4, 8}},
		{SPoC, []float64{2.5, 2}},
		{GeM, []float64{gem0, gem1}},
	}
	for _, tc := range tests {
		got := Pool(tc.p, small)
		for i := range tc.want {
			if math.Abs(float64(got[i])-tc.want[i]) > 1e-5 {
				t.Errorf("%s = %v, want %v", tc.p, got, tc.want)
			}
		}
	}
}

func TestRegions(t *testing.T) {
	// A 7x7 map: the whole map, 4 squares of side 4 at 0 and 3, 9 of side
	// 3 at 0, 2 and 4.
	got := Regions(7, 7)
	if len(got) != 14 || got[0] != [3]int{0, 0, 7} || got[1] != [3]int{0, 0, 4} || got[4] != [3]int{3, 3, 4} || got[13] != [3]int{4, 4, 3} {
		t.Errorf("Regions(7, 7) = %v", got)
	}
	// A wide 3x5 map gets more regions across than down; all fit.
	for _, r := range Regions(3, 5) {
		if r[0] < 0 || r[1] < 0 || r[0]+r[2] > 3 || r[1]+r[2] > 5 {
			t.Errorf("region %v outside a 3x5 map", r)
		}
	}
}

func TestRMAC(t *testing.T) {
	// A 1x1 map has one region (level 1; levels 2 and 3 have side 0): the
	// sum is the normalized global MAC plus the normalized region MAC,
	// twice (0.6, 0.8).
	m := Map{C: 2, H: 1, W: 1, Data: []float32{3, 4}}
	if got := Regions(1, 1); len(got) != 1 {
		t.Fatalf("Regions(1, 1) = %v", got)
	}
	got := Pool(RMAC, m)
	want := []float32{1.2, 1.6}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-6 {
			t.Fatalf("R-MAC = %v, want %v", got, want)
		}
	}
}

func TestWhitening(t *testing.T) {
	// Rows (2,0), (-2,0), (0,1), (0,-1): variances 8/3 and 2/3 along x, y.
	// Whitened, (2, 0) is (2/sqrt(8/3), 0) -> normalized (1, 0); (1, 1)
	// is (sqrt(3/8), sqrt(3/2)) -> normalized (1, 2)/sqrt(5).
	w, err := FitWhitening([]float32{2, 0, -2, 0, 0, 1, 0, -1}, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	got := w.Apply([]float32{1, 1})
	if math.Abs(math.Abs(float64(got[0]))-1/math.Sqrt(5)) > 1e-6 || math.Abs(math.Abs(float64(got[1]))-2/math.Sqrt(5)) > 1e-6 {
		t.Errorf("whitened (1, 1) = %v, want +-(1, 2)/sqrt(5)", got)
	}
	if _, err := FitWhitening([]float32{1, 2, 3, 4}, 2, 2); err == nil {
		t.Error("2 descriptors whitened to 2 dimensions")
	}
}

func TestNormalize(t *testing.T) {
	v := []float32{3, 4}
	Normalize(v)
	if !reflect.DeepEqual(v, []float32{0.6, 0.8}) {
		t.Errorf("Normalize = %v", v)
	}
	z := []float32{0, 0}
	Normalize(z)
	if z[0] != 0 || z[1] != 0 {
		t.Errorf("zero vector became %v", z)
	}
}

package eval

import (
	"bytes"
	"image/png"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lookalike/lookalike/codes"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// TestHamming_HandComputed: query 00 against database codes
// 00 (relevant), 01, 11 (relevant), 00 at distances 0, 1, 2, 0. Ranked by
// (distance, position): #0 rel, #3, #1, #2 rel.
//
//	AP@all = (1/1 + 2/4) / 2 = 0.75 (also AP@1000, the list being short)
//	P@1000 = 2 hits / 4 items = 0.5
//	radius 0: 2 retrieved, 1 relevant: P 0.5, R 0.5
//	radius 1: 3 retrieved, 1 relevant: P 1/3, R 0.5
//	radius 2: 4 retrieved, 2 relevant: P 0.5, R 1   => P@r<=2 = 0.5
func TestHamming_HandComputed(t *testing.T) {
	q := &codes.Set{Bits: 2, Data: []uint64{0b00}}
	db := &codes.Set{Bits: 2, Data: []uint64{0b00, 0b01, 0b11, 0b00}}
	r, err := Hamming(q, []int32{5}, db, []int32{5, 1, 5, 2})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want float64
	}{
		{"mAP@all", r.MAPAll, 0.75},
		{"mAP@1000", r.MAPAt1000, 0.75},
		{"P@1000", r.PAt1000, 0.5},
		{"P@r2", r.PR2, 0.5},
		{"empty r2", r.EmptyR2, 0},
		{"P r=0", r.PR[0].Precision, 0.5},
		{"R r=0", r.PR[0].Recall, 0.5},
		{"P r=1", r.PR[1].Precision, 1.0 / 3},
		{"R r=1", r.PR[1].Recall, 0.5},
		{"P r=2", r.PR[2].Precision, 0.5},
		{"R r=2", r.PR[2].Recall, 1},
	}
	for _, c := range checks {
		if !near(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

// TestHamming_TwoQueries averages over queries, counts an empty radius-2
// ball as precision 0, and a query with no relevant item as AP 0.
//
// 8-bit codes. Query A (label 1) = 0x00; query B (label 9, absent) = 0xFF.
// Database: 0x00 (1), 0x0F (1), 0xF0 (2).
//
//	A: distances 0, 4, 4 -> ranks #0 rel, #1 rel, #2: AP 1; ball r2 = {#0}: P 1
//	B: distances 8, 4, 4 -> no relevant item: AP 0; ball r2 empty: P 0
func TestHamming_TwoQueries(t *testing.T) {
	q := &codes.Set{Bits: 8, Data: []uint64{0x00, 0xFF}}
	db := &codes.Set{Bits: 8, Data: []uint64{0x00, 0x0F, 0xF0}}
	r, err := Hamming(q, []int32{1, 9}, db, []int32{1, 1, 2})
	if err != nil {
		t.Fatal(err)
	}
	if !near(r.MAPAll, 0.5) || !near(r.PR2, 0.5) || !near(r.EmptyR2, 0.5) {
		t.Errorf("mAP %v, P@r2 %v, empty %v; want 0.5, 0.5, 0.5", r.MAPAll, r.PR2, r.EmptyR2)
	}
	// Precision at radius 0 averages only query A (B's ball is empty): 1.
	if !near(r.PR[0].Precision, 1) || !near(r.PR[0].Recall, 0.25) {
		t.Errorf("PR[0] = %+v, want precision 1, recall 0.25", r.PR[0])
	}
}

// TestScoreQuery_AtK checks AP@K's normalization by the relevant items in
// the top K: with K = 1000 and the relevant items at ranks 1 and 1001, AP@K
// = 1 while AP@all = (1 + 2/1001) / 2.
func TestScoreQuery_AtK(t *testing.T) {
	n := 1001
	dist := make([]uint16, n)
	labels := make([]int32, n)
	for i := range dist {
		dist[i] = 1
		labels[i] = 0
	}
	dist[0], labels[0] = 0, 1
	dist[n-1], labels[n-1] = 2, 1
	s := scoreQuery(dist, make([]int32, n), 2, 1, labels)
	if !near(s.apK, 1) || !near(s.apAll, (1+2.0/1001)/2) || !near(s.pK, 1.0/1000) {
		t.Errorf("AP@K %v, AP@all %v, P@K %v", s.apK, s.apAll, s.pK)
	}
}

func TestHamming_Mismatch(t *testing.T) {
	q := &codes.Set{Bits: 8, Data: []uint64{0}}
	db := &codes.Set{Bits: 16, Data: []uint64{0}}
	if _, err := Hamming(q, []int32{0}, db, []int32{0}); err == nil {
		t.Error("different code lengths accepted")
	}
	if _, err := Hamming(q, []int32{0, 1}, q, []int32{0}); err == nil {
		t.Error("label count mismatch accepted")
	}
}

func TestWritePlot(t *testing.T) {
	pts := []PRPoint{{0, 1, 0.1}, {1, 0.8, 0.5}, {2, 0.4, 1}}
	for _, name := range []string{"pr.svg", "pr.png"} {
		if err := WritePlot(filepath.Join(t.TempDir(), name), "t", []Curve{{"dsh", pts}}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := WritePlot(filepath.Join(t.TempDir(), "pr.gif"), "t", nil); err == nil {
		t.Error("gif accepted")
	}
}

// TestLinePlot_Markers: a series of one point draws no line, so without
// markers its colour appears nowhere in the plot; with them a square of
// side 7 sits at the point, which for x = 32 on an axis 16..64 and y = 0.5
// is pixel (60 + 560/3, 40 + 195) = (247, 235).
func TestLinePlot_Markers(t *testing.T) {
	for _, markers := range []bool{false, true} {
		p := LinePlot{XMin: 16, XMax: 64, Markers: markers, Series: []Series{{Label: "", X: []float64{32}, Y: []float64{0.5}}}}
		var svg, pngOut bytes.Buffer
		if err := p.svg(&svg); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(svg.String(), `<rect x="244" y="232" width="7" height="7"`); got != markers {
			t.Errorf("markers %v: SVG has the square: %v", markers, got)
		}
		if err := p.png(&pngOut); err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(&pngOut)
		if err != nil {
			t.Fatal(err)
		}
		want := palette[0]
		for _, at := range [][2]int{{247, 235}, {244, 232}, {250, 238}} {
			r, g, b, _ := img.At(at[0], at[1]).RGBA()
			got := r>>8 == uint32(want.R) && g>>8 == uint32(want.G) && b>>8 == uint32(want.B)
			if got != markers {
				t.Errorf("markers %v: pixel %v in the series colour: %v", markers, at, got)
			}
		}
	}
}

// TestEuclidean: query 0 against 1 (relevant), -0.5, 2 (relevant), 0.5:
// distances 1, 0.5, 2, 0.5 rank #1, #3 (tie by position), #0, #2, so the
// relevant items sit at ranks 3 and 4: AP = (1/3 + 2/4) / 2 = 5/12.
func TestEuclidean(t *testing.T) {
	r, err := Euclidean([]float32{0}, []int32{1}, []float32{1, -0.5, 2, 0.5}, []int32{1, 0, 1, 0}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !near(r.MAPAll, 5.0/12) || !near(r.PAt1000, 0.5) || r.PAt1 != 0 {
		t.Errorf("mAP %v P@1000 %v P@1 %v, want 5/12, 0.5 and 0 (the nearest, -0.5, is irrelevant)", r.MAPAll, r.PAt1000, r.PAt1)
	}
	// Queries 0 (nearest -0.5: miss) and 1.1 (nearest 1: hit): P@1 = 1/2.
	r, err = Euclidean([]float32{0, 1.1}, []int32{1, 1}, []float32{1, -0.5, 2, 0.5}, []int32{1, 0, 1, 0}, 1)
	if err != nil || r.PAt1 != 0.5 {
		t.Errorf("P@1 = %v (%v), want 0.5", r.PAt1, err)
	}
	if _, err := Euclidean([]float32{0, 1}, []int32{1}, []float32{1}, []int32{1}, 1); err == nil {
		t.Error("mismatched lengths accepted")
	}
}

// TestInnerProduct: database (1, -0.5, 2, 0.5), labels (1, 0, 1, 0). Query
// 1 ranks 2, 1, 0.5, -0.5: both relevant first, AP 1. Query -1 ranks -0.5,
// 0.5, 1, 2: hits at 3 and 4, AP (1/3 + 2/4)/2 = 5/12.
func TestInnerProduct(t *testing.T) {
	db, labels := []float32{1, -0.5, 2, 0.5}, []int32{1, 0, 1, 0}
	for _, tc := range []struct {
		q    float32
		want float64
	}{{1, 1}, {-1, 5.0 / 12}} {
		r, err := InnerProduct([]float32{tc.q}, []int32{1}, db, labels, 1)
		if err != nil {
			t.Fatal(err)
		}
		if !near(r.MAPAll, tc.want) {
			t.Errorf("query %v: mAP %v, want %v", tc.q, r.MAPAll, tc.want)
		}
	}
}

// TestMarkerShapes: the palette's 8 colours repeat with a new shape; a
// filled square of half side 3 covers its corners, a diamond of radius 4
// its tips but not the square's corners, a hollow square its border only.
func TestMarkerShapes(t *testing.T) {
	for _, tc := range []struct{ series, shape int }{{0, 0}, {7, 0}, {8, 1}, {15, 1}, {16, 2}, {24, 0}} {
		if got := shape(tc.series); got != tc.shape {
			t.Errorf("series %d: shape %d, want %d", tc.series, got, tc.shape)
		}
	}
	for _, tc := range []struct {
		shape, dx, dy int
		in            bool
	}{
		{0, 3, 3, true}, {0, 0, 0, true}, {0, 4, 0, false},
		{1, 4, 0, true}, {1, 2, 2, true}, {1, 3, 3, false}, {1, 0, 0, true},
		{2, 3, 1, true}, {2, -3, -3, true}, {2, 0, 0, false}, {2, 2, 2, false},
	} {
		if got := inMarker(tc.shape, tc.dx, tc.dy); got != tc.in {
			t.Errorf("shape %d at (%d, %d): %v, want %v", tc.shape, tc.dx, tc.dy, got, tc.in)
		}
	}
}

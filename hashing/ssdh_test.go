package hashing

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/lookalike/lookalike/encoder"
)

// TestSSDH_Loss: one bit, u = (1, 0.5, -1, 0.8), labels (0, 0, 1, none).
// Squared distances: d01 = 0.25, d02 = 4, d03 = 0.04, d12 = 2.25,
// d13 = 0.09, d23 = 3.24.
//
// Ranking, m_r = 4: triplets (q, p, n) = (0, 1, 2): 4 + 0.25 - 4 = 0.25 and
// (1, 0, 2): 4 + 0.25 - 2.25 = 2; mean 1.125. The unlabelled image 3 is in
// no triplet.
//
// Embedding, k = 2 (the image itself and its nearest), the far band the
// last of 4 ranks (FarFrom 3/4, FarBand 1/4, or the default 114/128 and
// 10/128, which give the same ranks for 4 images), m_e = sqrt(9 * 1) = 3.
// Nearest of 0 is 3, of 1 is 3, of 2 is 1, of 3 is 0: (0.04 + 0.09 +
// 2.25 + 0.04) / 2 = 1.21. Farthest of 0 is 2 (distance 2), of 1 is 2
// (1.5), of 2 is 0 (2), of 3 is 2 (1.8): (3-2)^2 + 1.5^2 + 1^2 + 1.2^2 =
// 5.69. J_embed = (1.21 + 5.69) / 4 = 1.725, times lambda 0.1.
//
// Quantization: | |u| - 1 | = 0, 0.5, 0, 0.2, mean 0.175, times 0.01.
//
// J = (1.125 + 0.1725) / 2 + 0.00175 = 0.6505.
func TestSSDH_Loss(t *testing.T) {
	m := SSDH{RankMarginPerBit: 4, EmbedMarginPerBit: 9, Lambda: 0.1, Alpha: 0.01, Neighbours: 2, FarFrom: 0.75, FarBand: 0.25}
	byDefault := m
	byDefault.FarFrom, byDefault.FarBand = 0, 0
	nearOnly := m
	nearOnly.EmbedMarginPerBit = 1 // m_e = 1: every far image is beyond it
	u := [][]float32{{1}, {0.5}, {-1}, {0.8}}
	tests := []struct {
		name   string
		m      SSDH
		labels []int32
		want   float64
	}{
		{"semi-supervised", m, []int32{0, 0, 1, Unlabelled}, 0.6505},
		{"default far band", byDefault, []int32{0, 0, 1, Unlabelled}, 0.6505},
		// All unlabelled: no triplet, the embedding and quantization remain.
		{"unlabelled", m, []int32{Unlabelled, Unlabelled, Unlabelled, Unlabelled}, 0.1725/2 + 0.00175},
		// Far images at distances 2, 1.5, 2 and 1.8 cost nothing at m_e = 1.
		{"far beyond margin", nearOnly, []int32{Unlabelled, Unlabelled, Unlabelled, Unlabelled}, 0.1*1.21/4/2 + 0.00175},
	}
	for _, tc := range tests {
		if got := evalBatchLoss(t, tc.m, u, tc.labels, 0, 1); math.Abs(got-tc.want) > 1e-5 {
			t.Errorf("%s: loss = %.6f, want %.6f", tc.name, got, tc.want)
		}
	}
}

// TestRankBands: the images of TestSSDH_Loss ranked by distance from each
// image i, itself first, are 0: (0, 3, 1, 2), 1: (1, 3, 0, 2),
// 2: (2, 1, 3, 0), 3: (3, 0, 1, 2).
func TestRankBands(t *testing.T) {
	u := [][]float32{{1}, {0.5}, {-1}, {0.8}}
	tests := []struct {
		name            string
		k, lo, hi       int
		wantNear, wantF [][]float32
	}{
		{"nearest and farthest", 2, 3, 4,
			[][]float32{{1, 0, 0, 1}, {0, 1, 0, 1}, {0, 1, 1, 0}, {1, 0, 0, 1}},
			[][]float32{{0, 0, 1, 0}, {0, 0, 1, 0}, {1, 0, 0, 0}, {0, 0, 1, 0}}},
		{"itself and ranks 1-2", 1, 1, 3,
			[][]float32{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}},
			[][]float32{{0, 1, 0, 1}, {1, 0, 0, 1}, {0, 1, 0, 1}, {1, 1, 0, 0}}},
	}
	b, err := encoder.Backend()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		out, err := ExecOnce(b, func(u *Node) *Node {
			near, far := RankBands(SquaredDistances(u), tc.k, tc.lo, tc.hi)
			return Stack([]*Node{near, far}, 0)
		}, tensors.FromValue(u))
		if err != nil {
			t.Fatal(err)
		}
		got, err := tensors.CopyFlatData[float32](out)
		if err != nil {
			t.Fatal(err)
		}
		n := len(u)
		for i := range n {
			for j := range n {
				if v := got[i*n+j]; v != tc.wantNear[i][j] {
					t.Errorf("%s: near[%d][%d] = %v, want %v", tc.name, i, j, v, tc.wantNear[i][j])
				}
				if v := got[n*n+i*n+j]; v != tc.wantF[i][j] {
					t.Errorf("%s: far[%d][%d] = %v, want %v", tc.name, i, j, v, tc.wantF[i][j])
				}
			}
		}
	}
}

// TestPseudoPairLoss: one bit, u = (1, 0.5, -1, 0.8), labels (0, 1, none,
// none); the unlabelled rows' logits (0.2, 0.9) and (2, -1) make image 2
// likely class 1, unlikely 0, and image 3 likely 0, unlikely 1.
// Squared distances: d20 = 4, d21 = 2.25, d23 = 3.24, d30 = 0.04,
// d31 = 0.09, d32 = 3.24; margin 2.
//
// Image 2: positive 1 (label 1): pull 2.25; negatives 0 (label 0) and 3
// (pseudo-label 0) at distances 2 and 1.8: (0 + 0.2^2) / 2 = 0.02.
// Image 3: positive 0: pull 0.04; negatives 1 and 2 (pseudo-label 1) at
// distances 0.3 and 1.8: (1.7^2 + 0.2^2) / 2 = 1.465.
// J_pseudo = (2.27 + 1.505) / 2 = 1.8875. Labelled rows anchor nothing, so
// with every row labelled it is 0.
//
// The classifier's loss counts the labelled rows: -log softmax(1, 0)_0 =
// log(1 + e^-1) = 0.313262 for each of rows 0 and 1.
func TestPseudoPairLoss(t *testing.T) {
	u := [][]float32{{1}, {0.5}, {-1}, {0.8}}
	logits := [][]float32{{1, 0}, {0, 1}, {0.2, 0.9}, {2, -1}}
	b, err := encoder.Backend()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		labels []int32
		pseudo float64
	}{
		{"two unlabelled", []int32{0, 1, Unlabelled, Unlabelled}, 1.8875},
		{"all labelled", []int32{0, 1, 1, 0}, 0},
	}
	for _, tc := range tests {
		out, err := ExecOnceN(b, func(u, l, z *Node) []*Node {
			return []*Node{PseudoPairLoss(SquaredDistances(u), l, z, 2), ClassifierLoss(z, l, 2)}
		}, tensors.FromValue(u), tensors.FromValue(tc.labels), tensors.FromValue(logits))
		if err != nil {
			t.Fatal(err)
		}
		pseudo := tensors.ToScalar[float32](out[0])
		class := tensors.ToScalar[float32](out[1])
		if math.Abs(float64(pseudo)-tc.pseudo) > 1e-5 {
			t.Errorf("%s: J_pseudo = %.6f, want %.6f", tc.name, pseudo, tc.pseudo)
		}
		// Rows 2 and 3 labelled (1, 0) add -log softmax(0.2, 0.9)_1 and
		// -log softmax(2, -1)_0.
		want := 0.313262
		if tc.pseudo == 0 {
			want = (2*0.313262 + math.Log(1+math.Exp(-0.7)) + math.Log(1+math.Exp(-3))) / 4
		}
		if math.Abs(float64(class)-want) > 1e-5 {
			t.Errorf("%s: J_class = %.6f, want %.6f", tc.name, class, want)
		}
	}
}

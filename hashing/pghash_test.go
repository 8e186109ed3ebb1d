package hashing

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/lookalike/lookalike/encoder"
)

// softHinge is max(x, 0), or w log(1 + e^(x/w)) for w > 0.
func softHinge(x, w float64) float64 {
	if w <= 0 {
		return math.Max(x, 0)
	}
	return w * math.Log1p(math.Exp(x/w))
}

// tripletRewardRef is R(b) of PGHash's doc, by its definition.
func tripletRewardRef(b [][]float32, labels []int32, margin, posMargin, width float64) float64 {
	n, k := len(b), len(b[0])
	c, cp, w := margin*float64(k), posMargin*float64(k), width*float64(k)
	total := 0.0
	for i := range n {
		var pos, neg, np, nn float64
		for j := range n {
			if j == i {
				continue
			}
			d := 0.0
			for bit := range k {
				d += math.Abs(float64(b[i][bit] - b[j][bit]))
			}
			if labels[j] == labels[i] {
				pos, np = pos+softHinge(d-cp, w), np+1
			} else {
				neg, nn = neg+c-softHinge(c-d, w), nn+1
			}
		}
		if nn > 0 {
			total += neg / nn
		}
		if np > 0 {
			total -= pos / np
		}
	}
	return total / float64(n*k)
}

// TestPGHash_Reward: hand-computed rewards, 2 bits.
//
// b = (1,0), (1,1), (0,1), labels 0, 0, 1: d01 = 1, d02 = 2, d12 = 1.
// Hinges at 2 bits (margin 1): the positive pair, at 1 bit, costs
// nothing; anchor 0 earns 2, anchor 1 earns 1, anchor 2 mean(2, 1) = 1.5:
// R = 4.5 / (3 x 2) = 0.75. Hinges at 1 bit (margin 1/2): every negative
// earns 1: R = 3/6 = 0.5. Hinges at 1/2 bit (margin 1/4): the positive
// costs 1/2, each negative earns 1/2: anchors 0 and 1 net 0, anchor 2
// 1/2: R = 1/12.
// b = (1,0), (0,0), d = 1, hinges at 1/2 bit: one class, each anchor
// pays 1/2: R = -1/4; two classes, each earns 1/2: R = 1/4. b = (1,1),
// (0,0), two classes: d = 2, earned up to 1 bit: R = 1/2 (up to 2: 1).
// Softened with w = 1/2 bit (width 1/4) at d = c = 1 bit (margin 1/2):
// h(0) = w log 2; a negative pair earns 1 - log(2)/2 = 0.653426 per
// anchor, R = 0.326713, a positive one pays log(2)/2, R = -0.173287.
// The first codes with the negatives' hinge at 2 bits and the positives'
// at 1/2 bit: anchor 0 earns 2 and pays 1/2, anchor 1 earns 1 and pays
// 1/2, anchor 2 earns 1.5: R = 3.5/6 = 0.583333.
func TestPGHash_Reward(t *testing.T) {
	type hinges struct{ margin, posMargin, width float64 }
	same := func(margin, width float64) hinges { return hinges{margin, margin, width} }
	tests := []struct {
		name   string
		b      [][]float32
		labels []int32
		h      hinges
		want   float64
	}{
		{"triplets, hinges at 2", [][]float32{{1, 0}, {1, 1}, {0, 1}}, []int32{0, 0, 1}, same(1, 0), 0.75},
		{"triplets, hinges at 1", [][]float32{{1, 0}, {1, 1}, {0, 1}}, []int32{0, 0, 1}, same(0.5, 0), 0.5},
		{"triplets, hinges at 1/2", [][]float32{{1, 0}, {1, 1}, {0, 1}}, []int32{0, 0, 1}, same(0.25, 0), 1.0 / 12},
		{"positives only", [][]float32{{1, 0}, {0, 0}}, []int32{3, 3}, same(0.25, 0), -0.25},
		{"negatives only", [][]float32{{1, 0}, {0, 0}}, []int32{3, 4}, same(0.25, 0), 0.25},
		{"negative past the hinge", [][]float32{{1, 1}, {0, 0}}, []int32{3, 4}, same(0.5, 0), 0.5},
		{"negative within the hinge", [][]float32{{1, 1}, {0, 0}}, []int32{3, 4}, same(1, 0), 1},
		{"equal codes", [][]float32{{1, 1}, {1, 1}}, []int32{3, 3}, same(0.5, 0), 0},
		{"soft negative", [][]float32{{1, 0}, {0, 0}}, []int32{3, 4}, same(0.5, 0.25), (1 - math.Log(2)/2) / 2},
		{"positives' hinge at 1/2", [][]float32{{1, 0}, {1, 1}, {0, 1}}, []int32{0, 0, 1}, hinges{1, 0.25, 0}, 3.5 / 6},
		{"soft positive", [][]float32{{1, 0}, {0, 0}}, []int32{3, 3}, same(0.5, 0.25), -math.Log(2) / 4},
	}
	backend, err := encoder.Backend()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		out, err := ExecOnce(backend, func(b, l *Node) *Node { return TripletReward(b, l, tc.h.margin, tc.h.posMargin, tc.h.width) },
			tensors.FromValue(tc.b), tensors.FromValue(tc.labels))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := tensors.CopyFlatData[float32](out)
		if math.Abs(float64(got[0])-tc.want) > 1e-6 {
			t.Errorf("%s: R = %v, want %v", tc.name, got[0], tc.want)
		}
		if ref := tripletRewardRef(tc.b, tc.labels, tc.h.margin, tc.h.posMargin, tc.h.width); math.Abs(ref-tc.want) > 1e-12 {
			t.Errorf("%s: reference R = %v, want %v", tc.name, ref, tc.want)
		}
	}
}

// TestPGHash_Estimator enumerates every action of tiny batches: the
// REINFORCE surrogate's gradient averaged over all actions, each weighted
// by its probability, must equal -1/(n k) times the exact gradient of the
// expected reward, d E[R] / d u_ik = sum_b pi(b) R(b) (b_ik - p_ik).
func TestPGHash_Estimator(t *testing.T) {
	tests := []struct {
		name                     string
		u                        [][]float32
		labels                   []int32
		margin, posMargin, width float64
	}{
		{"2x2 one class", [][]float32{{0.3, -0.7}, {1.2, 0.1}}, []int32{0, 0}, 0.25, 0.25, 0},
		{"2x2 two classes", [][]float32{{0.3, -0.7}, {1.2, 0.1}}, []int32{0, 1}, 0.5, 0.5, 0},
		{"3x2 triplets, hinges at 1", [][]float32{{0.3, -0.7}, {1.2, 0.1}, {-0.4, 0.9}}, []int32{0, 0, 1}, 0.5, 0.5, 0},
		{"3x2 triplets, hinges at 1/2", [][]float32{{0.3, -0.7}, {1.2, 0.1}, {-0.4, 0.9}}, []int32{0, 0, 1}, 0.25, 0.25, 0},
		{"3x2 triplets, soft", [][]float32{{0.3, -0.7}, {1.2, 0.1}, {-0.4, 0.9}}, []int32{0, 0, 1}, 0.5, 0.5, 0.125},
		{"3x2 triplets, positives' hinge lower", [][]float32{{0.3, -0.7}, {1.2, 0.1}, {-0.4, 0.9}}, []int32{0, 0, 1}, 0.5, 0.25, 0.125},
		{"4x2 two pairs, soft", [][]float32{{0.3, -0.7}, {1.2, 0.1}, {-0.4, 0.9}, {0.5, 0.5}}, []int32{0, 1, 0, 1}, 0.5, 0.5, 0.25},
	}
	backend, err := encoder.Backend()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		grad := MustNewExec(backend, func(u, b, labels *Node) *Node {
			return Gradient(PGSurrogate(u, b, labels, tc.margin, tc.posMargin, tc.width), u)[0]
		})
		n, k := len(tc.u), len(tc.u[0])
		p := make([][]float64, n)
		for i := range n {
			p[i] = make([]float64, k)
			for c := range k {
				p[i][c] = 1 / (1 + math.Exp(-float64(tc.u[i][c])))
			}
		}
		exact := make([]float64, n*k)
		estimate := make([]float64, n*k)
		for a := range 1 << (n * k) {
			b := make([][]float32, n)
			prob := 1.0
			for i := range n {
				b[i] = make([]float32, k)
				for c := range k {
					if a>>(i*k+c)&1 == 1 {
						b[i][c] = 1
						prob *= p[i][c]
					} else {
						prob *= 1 - p[i][c]
					}
				}
			}
			r := tripletRewardRef(b, tc.labels, tc.margin, tc.posMargin, tc.width)
			out := grad.MustCall(tensors.FromValue(tc.u), tensors.FromValue(b), tensors.FromValue(tc.labels))
			g, _ := tensors.CopyFlatData[float32](out[0])
			for i := range n {
				for c := range k {
					exact[i*k+c] += prob * r * (float64(b[i][c]) - p[i][c])
					estimate[i*k+c] += prob * float64(g[i*k+c])
				}
			}
		}
		for j := range exact {
			want := -exact[j] / float64(n*k)
			if math.Abs(estimate[j]-want) > 1e-6 {
				t.Errorf("%s: E[estimate] = %v, want -grad E[R]/(nk) = %v (exact %v)", tc.name, estimate, want, exact)
				break
			}
		}
		nonzero := false
		for _, e := range exact {
			nonzero = nonzero || math.Abs(e) > 1e-4
		}
		if !nonzero {
			t.Errorf("%s: exact gradient %v is zero: the case tests nothing", tc.name, exact)
		}
	}
}

// TestPGHash_Loss: the loss reads -R of the greedy codes, hinges at 1/2
// bit. Outputs (30, -30), (30, 30), (-30, 30) are greedy codes 10, 11, 01,
// labels 0, 0, 1: R = 1/12 (TestPGHash_Reward's case with hinges at 1/2).
// Outputs (0.1, -0.2), (0.3, 0), (-0.1, 0.2) have the same greedy codes
// but for the second image's second bit (0 is not above 0): codes 10, 10,
// 01, d01 = 0, d02 = 2, d12 = 2; every anchor earns 1/2 and pays nothing:
// R = 1.5/6, loss -0.25, whatever the samples.
func TestPGHash_Loss(t *testing.T) {
	m := PGHash{Margin: 0.25, PosMargin: 0.25, Samples: 2}
	tests := []struct {
		name string
		u    [][]float32
		want float64
	}{
		{"certain", [][]float32{{30, -30}, {30, 30}, {-30, 30}}, -1.0 / 12},
		{"uncertain", [][]float32{{0.1, -0.2}, {0.3, 0}, {-0.1, 0.2}}, -0.25},
	}
	for _, tc := range tests {
		if got := evalLoss(t, m, tc.u, []int32{0, 0, 1}); math.Abs(got-tc.want) > 1e-6 {
			t.Errorf("%s: loss = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestPGHash_Entropy: H(p) and dH/du = -u p (1-p) at hand-computed points.
// u = 0: p = 1/2, H = log 2, slope 0. u = log 3: p = 3/4, H = -(3/4 log
// 3/4 + 1/4 log 1/4) = log 4 - 3/4 log 3 = 0.562335, slope -log 3 x 3/16
// = -0.205986; u = -log 3 mirrors it. u = 30: H = 0 (to 1e-6).
func TestPGHash_Entropy(t *testing.T) {
	tests := []struct {
		name           string
		u              float32
		entropy, slope float64
	}{
		{"even", 0, math.Log(2), 0},
		{"three to one", float32(math.Log(3)), math.Log(4) - 0.75*math.Log(3), -math.Log(3) * 3 / 16},
		{"one to three", float32(-math.Log(3)), math.Log(4) - 0.75*math.Log(3), math.Log(3) * 3 / 16},
		{"certain", 30, 0, 0},
	}
	backend, err := encoder.Backend()
	if err != nil {
		t.Fatal(err)
	}
	exec := MustNewExec(backend, func(u *Node) (*Node, *Node) {
		h := BernoulliEntropy(u)
		return h, Gradient(ReduceAllSum(h), u)[0]
	})
	for _, tc := range tests {
		out := exec.MustCall(tensors.FromValue([]float32{tc.u}))
		h, _ := tensors.CopyFlatData[float32](out[0])
		g, _ := tensors.CopyFlatData[float32](out[1])
		if math.Abs(float64(h[0])-tc.entropy) > 1e-6 || math.Abs(float64(g[0])-tc.slope) > 1e-6 {
			t.Errorf("%s: H = %v, dH/du = %v, want %v, %v", tc.name, h[0], g[0], tc.entropy, tc.slope)
		}
	}
}

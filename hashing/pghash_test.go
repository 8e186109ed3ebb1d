package hashing

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/lookalike/lookalike/encoder"
)

// tripletRewardRef is R(b) of PGHash's doc, by its definition.
func tripletRewardRef(b [][]float32, labels []int32, margin float64) float64 {
	n, k := len(b), len(b[0])
	total := 0.0
	for i := range n {
		var pos, neg, np, nn float64
		for j := range n {
			if j == i {
				continue
			}
			d := 0.0
			for c := range k {
				d += math.Abs(float64(b[i][c] - b[j][c]))
			}
			if labels[j] == labels[i] {
				pos, np = pos+d, np+1
			} else {
				neg, nn = neg+math.Min(d, margin*float64(k)), nn+1
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

// TestPGHash_Reward: hand-computed triplet rewards, 2 bits.
//
// b = (1,0), (1,1), (0,1), labels 0, 0, 1: d01 = 1, d02 = 2, d12 = 1.
// Uncapped (margin 1, k bits): anchor 0: 2 - 1 = 1; anchor 1: 1 - 1 = 0;
// anchor 2 (no positive): mean(2, 1) = 1.5; R = 2.5 / (3 x 2) = 0.416667.
// Capped at 1 bit (margin 1/2): anchor 0: 1 - 1 = 0; anchor 1: 0;
// anchor 2: mean(1, 1) = 1; R = 1/6.
// b = (1,0), (0,0): one class, each anchor -1: R = -2/4 = -0.5; two
// classes, +1 each: R = 0.5. b = (1,1), (0,0), two classes: d = 2, capped
// to 1: R = 0.5 (uncapped 1).
func TestPGHash_Reward(t *testing.T) {
	tests := []struct {
		name   string
		b      [][]float32
		labels []int32
		margin float64
		want   float64
	}{
		{"triplets uncapped", [][]float32{{1, 0}, {1, 1}, {0, 1}}, []int32{0, 0, 1}, 1, 2.5 / 6},
		{"triplets capped", [][]float32{{1, 0}, {1, 1}, {0, 1}}, []int32{0, 0, 1}, 0.5, 1.0 / 6},
		{"positives only", [][]float32{{1, 0}, {0, 0}}, []int32{3, 3}, 0.5, -0.5},
		{"negatives only", [][]float32{{1, 0}, {0, 0}}, []int32{3, 4}, 0.5, 0.5},
		{"negative past the cap", [][]float32{{1, 1}, {0, 0}}, []int32{3, 4}, 0.5, 0.5},
		{"negative uncapped", [][]float32{{1, 1}, {0, 0}}, []int32{3, 4}, 1, 1},
		{"equal codes", [][]float32{{1, 1}, {1, 1}}, []int32{3, 3}, 0.5, 0},
	}
	backend, err := encoder.Backend()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		out, err := ExecOnce(backend, func(b, l *Node) *Node { return TripletReward(b, l, tc.margin) },
			tensors.FromValue(tc.b), tensors.FromValue(tc.labels))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := tensors.CopyFlatData[float32](out)
		if math.Abs(float64(got[0])-tc.want) > 1e-6 {
			t.Errorf("%s: R = %v, want %v", tc.name, got[0], tc.want)
		}
		if ref := tripletRewardRef(tc.b, tc.labels, tc.margin); math.Abs(ref-tc.want) > 1e-12 {
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
		name   string
		u      [][]float32
		labels []int32
		margin float64
	}{
		{"2x2 one class", [][]float32{{0.3, -0.7}, {1.2, 0.1}}, []int32{0, 0}, 0.5},
		{"2x2 two classes", [][]float32{{0.3, -0.7}, {1.2, 0.1}}, []int32{0, 1}, 0.5},
		{"3x2 triplets capped", [][]float32{{0.3, -0.7}, {1.2, 0.1}, {-0.4, 0.9}}, []int32{0, 0, 1}, 0.5},
		{"3x2 triplets uncapped", [][]float32{{0.3, -0.7}, {1.2, 0.1}, {-0.4, 0.9}}, []int32{0, 0, 1}, 1},
		{"4x2 two pairs", [][]float32{{0.3, -0.7}, {1.2, 0.1}, {-0.4, 0.9}, {0.5, 0.5}}, []int32{0, 1, 0, 1}, 0.5},
	}
	backend, err := encoder.Backend()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		grad := MustNewExec(backend, func(u, b, labels *Node) *Node {
			return Gradient(PGSurrogate(u, b, labels, tc.margin), u)[0]
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
			r := tripletRewardRef(b, tc.labels, tc.margin)
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

// TestPGHash_Loss: the loss reads -R of the greedy codes, capped at 1 bit.
// Outputs (30, -30), (30, 30), (-30, 30) are greedy codes 10, 11, 01,
// labels 0, 0, 1: R = 1/6 (TestPGHash_Reward's capped case). Outputs
// (0.1, -0.2), (0.3, 0), (-0.1, 0.2) have the same greedy codes but for
// the second image's second bit (0 is not above 0): codes 10, 10, 01,
// d01 = 0, d02 = 2, d12 = 2, capped to 1; anchors 1 - 0, 1 - 0,
// mean(1, 1): R = 3/6, loss -0.5, whatever the samples.
func TestPGHash_Loss(t *testing.T) {
	m := PGHash{Margin: 0.5, Samples: 2}
	tests := []struct {
		name string
		u    [][]float32
		want float64
	}{
		{"certain", [][]float32{{30, -30}, {30, 30}, {-30, 30}}, -1.0 / 6},
		{"uncertain", [][]float32{{0.1, -0.2}, {0.3, 0}, {-0.1, 0.2}}, -0.5},
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

package learned

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// evalLoss runs loss on tuples of 2-d descriptors.
func evalLoss(t *testing.T, loss func(desc *Node) *Node, tuples [][][2]float32) float64 {
	t.Helper()
	b, err := backend()
	if err != nil {
		t.Fatal(err)
	}
	var flat []float32
	for _, tu := range tuples {
		for _, v := range tu {
			flat = append(flat, v[0], v[1])
		}
	}
	exec, err := model.NewExec(b, model.NewStore(), func(_ *model.Scope, x *Node) *Node { return loss(x) })
	if err != nil {
		t.Fatal(err)
	}
	res, err := exec.Exec(tensors.FromFlatDataAndDimensions(flat, len(tuples), len(tuples[0]), 2))
	if err != nil {
		t.Fatal(err)
	}
	v, err := scalar(res[0])
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// The tuples of the tables: q = (1,0) with positive (0,1), so |q-d+|^2 = 2,
// and negatives (-1,0) (|q-n|^2 = 4, |p-n|^2 = 2) and (0.6,0.8)
// (|q-n|^2 = 0.16+0.64 = 0.8, |p-n|^2 = 0.36+0.04 = 0.4).
var (
	q, pos        = [2]float32{1, 0}, [2]float32{0, 1}
	far, near     = [2]float32{-1, 0}, [2]float32{0.6, 0.8}
	twoNegatives  = [][][2]float32{{q, pos, far, near}}
	farOnly       = [][][2]float32{{q, pos, far, far}}
	twoTuples     = [][][2]float32{{q, pos, far, near}, {q, pos, far, far}}
	swappedTuples = [][][2]float32{{q, far, pos, near}} // positive at 4, negatives at 2 and 0.8
)

func TestGordoLoss(t *testing.T) {
	tests := []struct {
		name   string
		tuples [][][2]float32
		margin float64
		want   float64
	}{
		// Triplets: max(0, 0.1+2-4) = 0 and max(0, 0.1+2-0.8) = 1.3; half
		// their mean.
		{"one hard negative", twoNegatives, 0.1, 0.5 * (0 + 1.3) / 2},
		// Both negatives beyond the margin.
		{"easy", farOnly, 0.1, 0},
		// A margin of 2.5 makes the far negative count: 0.5 and 3.7.
		{"wide margin", twoNegatives, 2.5, 0.5 * (0.5 + 3.7) / 2},
		// Four triplets: 0, 1.3, 0, 0.
		{"two tuples", twoTuples, 0.1, 0.5 * 1.3 / 4},
		// Positive at 4: 0.1+4-2 = 2.1 and 0.1+4-0.8 = 3.3.
		{"far positive", swappedTuples, 0.1, 0.5 * (2.1 + 3.3) / 2},
	}
	for _, tc := range tests {
		got := evalLoss(t, func(d *Node) *Node { return GordoLoss(d, tc.margin) }, tc.tuples)
		if math.Abs(got-tc.want) > 1e-6 {
			t.Errorf("%s: loss %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestSOLARLoss(t *testing.T) {
	tests := []struct {
		name           string
		tuples         [][][2]float32
		margin, lambda float64
		triplet, sos   float64
	}{
		// Triplet: max(0, 2-4+1.25) = 0, max(0, 2-0.8+1.25) = 2.45, summed
		// over the negatives, over 1 tuple. SOS: (4-2)^2 + (0.8-0.4)^2 =
		// 4.16, root over 1 tuple.
		{"one tuple", twoNegatives, 1.25, 10, 2.45, math.Sqrt(4.16)},
		// Far negatives only: 2-4+1.25 < 0 twice; SOS (4-2)^2 twice = 8.
		{"easy", farOnly, 1.25, 10, 0, math.Sqrt(8)},
		// Two tuples: triplets 2.45 (first) over 2 tuples; SOS sums the
		// four squared differences 4 + 0.16 + 4 + 4 = 12.16, root over 2.
		{"two tuples", twoTuples, 1.25, 10, 2.45 / 2, math.Sqrt(12.16) / 2},
		// Positive at 4: 4-2+1.25 = 3.25, 4-0.8+1.25 = 4.45; SOS: the
		// negatives' distances to the anchor (2, 0.8) and to the positive
		// (-1,0): |(0,1)-(-1,0)|^2 = 2, |(0.6,0.8)-(-1,0)|^2 = 2.56+0.64 = 3.2:
		// (2-2)^2 + (0.8-3.2)^2 = 5.76.
		{"far positive", swappedTuples, 1.25, 1, 3.25 + 4.45, 2.4},
		// lambda 0 leaves the triplet loss.
		{"no SOS", twoNegatives, 1.25, 0, 2.45, math.Sqrt(4.16)},
	}
	for _, tc := range tests {
		tr := evalLoss(t, func(d *Node) *Node { return SOLARTripletLoss(d, tc.margin) }, tc.tuples)
		sos := evalLoss(t, SOSLoss, tc.tuples)
		all := evalLoss(t, func(d *Node) *Node { return SOLARLoss(d, tc.margin, tc.lambda) }, tc.tuples)
		if math.Abs(tr-tc.triplet) > 1e-5 || math.Abs(sos-tc.sos) > 1e-5 || math.Abs(all-(tc.triplet+tc.lambda*tc.sos)) > 1e-4 {
			t.Errorf("%s: triplet %v, SOS %v, total %v; want %v, %v, %v", tc.name, tr, sos, all, tc.triplet, tc.sos, tc.triplet+tc.lambda*tc.sos)
		}
	}
}

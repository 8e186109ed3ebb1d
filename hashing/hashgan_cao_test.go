package hashing

import (
	"math"
	"slices"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/lookalike/lookalike/encoder"
)

// TestMaskedPairCrossEntropy: theta = [[0, 2], [-1, 3]], s = [[1, 0],
// [0, 1]]. Softplus: sp(2) = 2.126928, sp(-1) = 0.313262, sp(3) - 3 =
// 0.048587.
//
//	all four pairs: similar (0,0) sp(0) = 0.693147 and (1,1) 0.048587,
//	  mean 0.370867; dissimilar 2.126928 and 0.313262, mean 1.220095: 1.590962
//	mask [[0, 1], [1, 1]]: 0.048587 + 1.220095 = 1.268682
//	mask [[0, 1], [0, 1]]: no dissimilar pair left but (0,1): 0.048587 + 2.126928 = 2.175515
//	mask of zeros: 0
func TestMaskedPairCrossEntropy(t *testing.T) {
	theta := [][]float32{{0, 2}, {-1, 3}}
	s := [][]float32{{1, 0}, {0, 1}}
	tests := []struct {
		name string
		mask [][]float32
		want float64
	}{
		{"all pairs", [][]float32{{1, 1}, {1, 1}}, 1.590962},
		{"three pairs", [][]float32{{0, 1}, {1, 1}}, 1.268682},
		{"one of each", [][]float32{{0, 1}, {0, 1}}, 2.175515},
		{"none", [][]float32{{0, 0}, {0, 0}}, 0},
	}
	for _, tc := range tests {
		got := evalGraph(t, func(x []*Node) *Node { return MaskedPairCrossEntropy(x[0], x[1], x[2]) }, theta, s, tc.mask)
		if !near(got, []float64{tc.want}, 1e-5) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestMaskedPairCrossEntropy_HashNet: with the off-diagonal mask it is
// HashNet's WeightedPairCrossEntropy, on three images of labels (0, 0, 1).
func TestMaskedPairCrossEntropy_HashNet(t *testing.T) {
	theta := [][]float32{{9, 0.5, -1}, {0.5, 7, 2}, {-1, 2, 5}}
	labels := []int32{0, 0, 1}
	offDiag := [][]float32{{0, 1, 1}, {1, 0, 1}, {1, 1, 0}}
	got := evalGraph(t, func(x []*Node) *Node {
		s := PairSimilarity(x[1], x[0].DType())
		return Sub(MaskedPairCrossEntropy(x[0], s, x[2]), WeightedPairCrossEntropy(x[0], s))
	}, theta, labels, offDiag)
	if !near(got, []float64{0}, 1e-6) {
		t.Errorf("masked minus HashNet's: %v, want 0", got)
	}
}

// TestCosineLogits: rows (3, 4), (1, 0) against (0, 2), (-1, -1), alpha
// 2: cosines 0.8, -0.989949, 0, -0.707107, doubled.
func TestCosineLogits(t *testing.T) {
	got := evalGraph(t, func(x []*Node) *Node { return CosineLogits(x[0], x[1], 2) },
		[][]float32{{3, 4}, {1, 0}}, [][]float32{{0, 2}, {-1, -1}})
	if want := []float64{1.6, -1.979899, 0, -1.414214}; !near(got, want, 1e-5) {
		t.Errorf("logits %v, want %v", got, want)
	}
}

// TestGradientPenalty: gradient norms 5, 0 and 1 cost (5-1)^2 = 16,
// (0-1)^2 = 1 and 0: mean 17/3.
func TestGradientPenalty(t *testing.T) {
	got := evalGraph(t, func(x []*Node) *Node { return GradientPenalty(x[0]) },
		[][]float32{{3, 4}, {0, 0}, {0.6, 0.8}})
	if !near(got, []float64{17.0 / 3}, 1e-5) {
		t.Errorf("penalty %v, want %v", got, 17.0/3)
	}
}

// TestHashGANCao_CriticGradient: the written-out gradient of the critic's
// value with respect to its input is automatic differentiation's, for a
// critic of two hidden layers on three 2x2 images; and it is not zero.
func TestHashGANCao_CriticGradient(t *testing.T) {
	m := HashGANCao{CriticHidden: []int{5, 3}}
	images := [][][][]float32{
		{{{1}, {0}}, {{0.5}, {0.2}}},
		{{{0}, {1}}, {{0.3}, {0.9}}},
		{{{0.7}, {0.7}}, {{0}, {0.1}}},
	}
	backend, err := encoder.Backend()
	if err != nil {
		t.Fatal(err)
	}
	store := model.NewStore()
	store.SetParam(model.ParamInitialSeed, int64(3))
	exec, err := model.NewExec(backend, store, func(scope *model.Scope, x *Node) *Node {
		flat := Reshape(x, 3, 4)
		value, _, written := m.critic(scope.In("critic"), flat, 2, false, true)
		auto := Gradient(ReduceAllSum(value), flat)[0]
		return Concatenate([]*Node{written, auto}, 0)
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Exec(images)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := tensors.CopyFlatData[float32](out[0])
	norm := 0.0
	for i := range 12 {
		if math.Abs(float64(v[i]-v[12+i])) > 1e-5 {
			t.Fatalf("written gradient %v, automatic %v", v[:12], v[12:])
		}
		norm += float64(v[i] * v[i])
	}
	if norm == 0 {
		t.Error("zero gradient")
	}
}

// ganCaoLoss runs f (m's Loss or PretrainLoss) once (a fresh store, seed
// 1) on outputs u with labels and 2x2 images x, the first labelled rows
// real (nil for none), at step of 10, and returns the loss and the
// scalars it reported.
func ganCaoLoss(t *testing.T, f func(Batch) *Node, u [][]float32, labels []int32, x [][][][]float32, labelled int, step float32) (float64, map[string]float64) {
	t.Helper()
	backend, err := encoder.Backend()
	if err != nil {
		t.Fatal(err)
	}
	store := model.NewStore()
	store.SetParam(model.ParamInitialSeed, int64(1))
	batch := func(scope *model.Scope, u, y, x, s *Node) Batch {
		return Batch{U: u, Labels: y, Images: x, Step: s, Steps: 10, Scope: scope.In("method"), Bits: 2,
			Classes: 2, Labelled: labelled, Views: 1, Monitor: scope.In("monitor")}
	}
	var out []*tensors.Tensor
	if x == nil {
		// The pure-Go backend fails on a graph input that nothing reads.
		exec, err := model.NewExec(backend, store, func(scope *model.Scope, u, y, s *Node) *Node { return f(batch(scope, u, y, nil, s)) })
		if err == nil {
			out, err = exec.Exec(u, labels, step)
		}
		if err != nil {
			t.Fatal(err)
		}
	} else {
		exec, err := model.NewExec(backend, store, func(scope *model.Scope, u, y, x, s *Node) *Node { return f(batch(scope, u, y, x, s)) })
		if err == nil {
			out, err = exec.Exec(u, labels, x, step)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	loss, _ := tensors.CopyFlatData[float32](out[0])
	return float64(loss[0]), monitorReports(t, store)
}

// Two real rows u0 = (1, 1) of class 0 and u1 = (0.5, -0.5) of class 1,
// then two synthesized rows u2 = (1, 0) of class 0 and u3 = (0, -1) of
// class 1, and images for them.
var (
	ganCaoOutputs = [][]float32{{1, 1}, {0.5, -0.5}, {1, 0}, {0, -1}}
	ganCaoLabels  = []int32{0, 1, 0, 1}
	ganCaoImages  = [][][][]float32{
		{{{1}, {0}}, {{1}, {0}}},
		{{{0}, {1}}, {{0.5}, {1}}},
		{{{0.9}, {0}}, {{1}, {0.1}}},
		{{{0}, {0.8}}, {{0.4}, {1}}},
	}
)

// TestHashGANCao_Loss: stage 2's L_H on the rows above, alpha 1 and one
// continuation stage, so h = tanh(u), t1 = tanh(1) = 0.761594, t5 =
// tanh(0.5) = 0.462117:
//
//	real pairs: <h0, h1> = t1 t5 - t1 t5 = 0, dissimilar: log 2 = 0.693147
//	real-synthetic: <h0, h2> = t1^2 = 0.580026 (similar, 0.444611),
//	  <h1, h3> = t1 t5 = 0.351946 (similar, 0.532578), <h0, h3> = -0.580026
//	  (dissimilar, 0.444611), <h1, h2> = 0.351946 (dissimilar, 0.884524):
//	  0.488595 + 0.664568 = 1.153163
//
// From step 5 of 10 (Warmup 0.5), with Synthetic 2, L_H = 0.693147 + 2 x
// 1.153163 = 2.999473; before, the real pairs alone (the synthetic pairs
// still reported). Without synthesized rows (all four real), the real
// pairs alone.
func TestHashGANCao_Loss(t *testing.T) {
	m := HashGANCao{Alpha: 1, Stages: 1, Gamma: 1, Synthetic: 2, Warmup: 0.5}
	tests := []struct {
		name          string
		labelled      int
		step          float32
		want          float64
		hash, synthet float64
	}{
		{"two synthesized", 2, 5, 2.999473, 0.693147, 1.153163},
		{"warm-up", 2, 4, 0.693147, 0.693147, 1.153163},
		// All real: similar pairs (0,2), (1,3) and their mirrors at
		// 0.444611 and 0.532578; dissimilar (0,1) 0.693147, (0,3)
		// 0.444611, (1,2) 0.884524, (2,3) log 2: mean 0.678857.
		{"all real", 4, 5, 0.488595 + 0.678857, 0.488595 + 0.678857, 0},
	}
	for _, tc := range tests {
		loss, r := ganCaoLoss(t, m.Loss, ganCaoOutputs, ganCaoLabels, nil, tc.labelled, tc.step)
		if math.Abs(loss-tc.want) > 1e-5 || math.Abs(r["hash"]-tc.hash) > 1e-5 || math.Abs(r["synthetic"]-tc.synthet) > 1e-5 {
			t.Errorf("%s: loss %v (hash %v, synthetic %v), want %v (%v, %v)", tc.name, loss, r["hash"], r["synthetic"], tc.want, tc.hash, tc.synthet)
		}
	}
}

// TestHashGANCao_PretrainLoss: stage 1's loss is L_D + L_G: with the
// generator's pair conditional term off (Conditional 0) it is the
// critic's Wasserstein estimate, lambda times the penalty, the pair
// conditional loss and the generator's adversarial term, each as
// reported; the penalty and the pair loss are positive.
func TestHashGANCao_PretrainLoss(t *testing.T) {
	m := HashGANCao{CosineAlpha: 5, Penalty: 10, Conditional: 0, Noise: 3, GeneratorHidden: []int{4}, CriticHidden: []int{3}}
	loss, r := ganCaoLoss(t, m.PretrainLoss, ganCaoOutputs, ganCaoLabels, ganCaoImages, 4, 0)
	want := r[ReportDiscriminatorLoss] + 10*r["gp"] + r["cond"] + r["g_adv"]
	if math.Abs(loss-want) > 1e-4 || r["gp"] <= 0 || r["cond"] <= 0 {
		t.Errorf("loss %v, want %v from reports %v", loss, want, r)
	}
}

// TestHashGANCao_SharedLoss: the network's second pass gets one
// generated image for each real one, of the real images' shape, and its
// outputs join the real ones as the synthesized rows of Loss: with the
// pass giving u2 = (1, 0) and u3 = (0, -1) for the real rows u0, u1 of
// TestHashGANCao_Loss (the fakes conditioned on their labels 0 and 1), the
// loss is that test's, 2.999473 from step 5 and 0.693147 at step 4.
func TestHashGANCao_SharedLoss(t *testing.T) {
	m := HashGANCao{Alpha: 1, Stages: 1, Gamma: 1, Synthetic: 2, Warmup: 0.5, Noise: 3, GeneratorHidden: []int{4}}
	for _, tc := range []struct {
		step float32
		want float64
	}{{5, 2.999473}, {4, 0.693147}} {
		var seen []int
		net := Network{Encode: func(images *Node) *Node {
			seen = images.Shape().Dimensions
			// Read the images, so that the generator is in the graph.
			return Add(Const(images.Graph(), [][]float32{{1, 0}, {0, -1}}), MulScalar(ReduceAllSum(images), 0))
		}}
		f := func(b Batch) *Node {
			return Add(m.SharedLoss(b, net), MulScalar(ReduceAllSum(b.Images), 0))
		}
		loss, _ := ganCaoLoss(t, f, ganCaoOutputs[:2], ganCaoLabels[:2], ganCaoImages[:2], 2, tc.step)
		if math.Abs(loss-tc.want) > 1e-5 {
			t.Errorf("step %v: loss %v, want %v", tc.step, loss, tc.want)
		}
		if want := []int{2, 2, 2, 1}; !slices.Equal(seen, want) {
			t.Errorf("step %v: the network's second pass got images %v, want %v", tc.step, seen, want)
		}
	}
}

// TestHashGANCao_PretrainUnlabelled: with the last two of four rows
// unlabelled (Labelled 2), their labels reach nothing, and their images
// reach the Wasserstein estimate but not the pair conditional loss.
func TestHashGANCao_PretrainUnlabelled(t *testing.T) {
	m := HashGANCao{CosineAlpha: 5, Penalty: 10, Conditional: 0.1, Noise: 3, GeneratorHidden: []int{4}, CriticHidden: []int{3}}
	loss, r := ganCaoLoss(t, m.PretrainLoss, ganCaoOutputs, []int32{0, 1, Unlabelled, Unlabelled}, ganCaoImages, 2, 0)
	relabelled, _ := ganCaoLoss(t, m.PretrainLoss, ganCaoOutputs, []int32{0, 1, 1, 0}, ganCaoImages, 2, 0)
	if math.Abs(loss-relabelled) > 1e-6 {
		t.Errorf("loss %v with the unlabelled rows' labels -1, %v with 1 and 0", loss, relabelled)
	}
	other := append([][][][]float32{}, ganCaoImages[:3]...)
	other = append(other, [][][]float32{{{0}, {0}}, {{0}, {0}}})
	_, r2 := ganCaoLoss(t, m.PretrainLoss, ganCaoOutputs, []int32{0, 1, Unlabelled, Unlabelled}, other, 2, 0)
	if r2["cond"] != r["cond"] {
		t.Errorf("pair conditional loss %v, %v with another unlabelled image", r["cond"], r2["cond"])
	}
	if r2[ReportDiscriminatorLoss] == r[ReportDiscriminatorLoss] {
		t.Errorf("Wasserstein estimate %v unchanged by another unlabelled image", r[ReportDiscriminatorLoss])
	}
}

package hashing

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/lookalike/lookalike/encoder"
)

// adversarialLoss runs m's loss once on outputs u and images x (a fresh
// store, seed 1) and returns the loss and the scalars it reported.
func adversarialLoss(t *testing.T, m Deep, u [][]float32, x [][][][]float32) (float64, map[string]float64) {
	t.Helper()
	backend, err := encoder.Backend()
	if err != nil {
		t.Fatal(err)
	}
	store := model.NewStore()
	store.SetParam(model.ParamInitialSeed, int64(1))
	exec, err := model.NewExec(backend, store, func(scope *model.Scope, u, x *Node) *Node {
		return m.Loss(Batch{U: u, Images: x, Steps: 10, Scope: scope.In("method"), Bits: 2, Views: 1, Monitor: scope.In("monitor")})
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Exec(u, x)
	if err != nil {
		t.Fatal(err)
	}
	loss, err := tensors.CopyFlatData[float32](out[0])
	if err != nil {
		t.Fatal(err)
	}
	return float64(loss[0]), monitorReports(t, store)
}

// tinyGAN is three 2x2 images and their network outputs: image 0 and 1
// are each other's nearest (cosine 0.990), image 2 is nearest to 1
// (0.327 against 0.236).
var (
	tinyImages = [][][][]float32{
		{{{1}, {0}}, {{1}, {0}}},
		{{{1}, {0.2}}, {{1}, {0}}},
		{{{0}, {1}}, {{0.5}, {1}}},
	}
	tinyOutputs = [][]float32{{1, -1}, {0.5, 0.5}, {-2, 1}}
)

// TestUADH_Loss: with the adversarial terms of E and G off, the loss is
// D's cross-entropy plus lambda L_S, each as reported; L_S is the
// hand-computable part. k = 1 links {0, 1} and {1, 2}; at step 0,
// h = tanh(u): h0 = (0.761594, -0.761594), h1 = (0.462117, 0.462117),
// h2 = (-0.964028, 0.761594). h h^T / 2: (0,1) 0, (0,2) -0.657112,
// (1,2) -0.046774. Neighbour pairs err (1-0)^2 and (1+0.046774)^2 =
// 1.095735, mean 1.047868; the other pair, target -1,
// (-1-(-0.657112))^2 = 0.117572. L_S = 1.165440.
func TestUADH_Loss(t *testing.T) {
	m := UADH{Neighbours: 1, Similarity: 2, Adversarial: 0, Stages: 5, Gamma: 1, GeneratorHidden: []int{4}, DiscriminatorHidden: []int{3}}
	loss, r := adversarialLoss(t, m, tinyOutputs, tinyImages)
	if got := r["similarity"]; math.Abs(got-1.165440) > 1e-5 {
		t.Errorf("L_S = %v, want 1.165440", got)
	}
	if want := r[ReportDiscriminatorLoss] + 2*r["similarity"]; math.Abs(loss-want) > 1e-5 {
		t.Errorf("loss %v, want D's %v + 2 L_S %v", loss, r[ReportDiscriminatorLoss], r["similarity"])
	}
	// D's cross-entropy from its mean outputs is at least -log of each.
	if r[ReportDiscriminatorLoss] < -math.Log(r[ReportDiscriminatorReal])-1e-6 || r["eg_adv"] <= 0 {
		t.Errorf("reports %v", r)
	}
}

// TestBGAN_Loss: the same batch and structure with BGAN: with content
// and adversarial weights 0 the loss is D's cross-entropy plus L_N.
func TestBGAN_Loss(t *testing.T) {
	m := BGAN{Neighbours: 1, Content: 0, Neighbourhood: 1, Adversarial: 0, Stages: 5, Gamma: 1, GeneratorHidden: []int{4}, DiscriminatorHidden: []int{3}}
	loss, r := adversarialLoss(t, m, tinyOutputs, tinyImages)
	if got := r["neighbour"]; math.Abs(got-1.165440) > 1e-5 {
		t.Errorf("L_N = %v, want 1.165440", got)
	}
	if want := r[ReportDiscriminatorLoss] + r["neighbour"]; math.Abs(loss-want) > 1e-5 {
		t.Errorf("loss %v, want %v + %v", loss, r[ReportDiscriminatorLoss], r["neighbour"])
	}
	if r["content"] <= 0 || r["g_adv"] <= 0 {
		t.Errorf("reports %v", r)
	}
}

// TestRandomCodes: 4,000 draws are all -1 or 1, about half each.
func TestRandomCodes(t *testing.T) {
	backend, err := encoder.Backend()
	if err != nil {
		t.Fatal(err)
	}
	exec, err := model.NewExec(backend, model.NewStore(), func(scope *model.Scope, u *Node) *Node {
		return RandomCodes(Batch{U: u, Scope: scope}, 1000, 4)
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Exec([][]float32{{0}})
	if err != nil {
		t.Fatal(err)
	}
	v, _ := tensors.CopyFlatData[float32](out[0])
	ones := 0
	for _, c := range v {
		switch c {
		case 1:
			ones++
		case -1:
		default:
			t.Fatalf("code value %v", c)
		}
	}
	if len(v) != 4000 || ones < 1800 || ones > 2200 {
		t.Errorf("%d values, %d ones", len(v), ones)
	}
}

// monitorReports returns the scalars a loss reported (Batch.Report), by
// name, from the store its graph ran with.
func monitorReports(t *testing.T, store *model.Store) map[string]float64 {
	t.Helper()
	reports := map[string]float64{}
	for v := range store.IterVariables() {
		const prefix = "/monitor/"
		if len(v.Path()) > len(prefix) && v.Path()[:len(prefix)] == prefix {
			val, err := v.Value()
			if err != nil {
				t.Fatal(err)
			}
			f, _ := tensors.CopyFlatData[float32](val)
			reports[v.Path()[len(prefix):]] = float64(f[0])
		}
	}
	return reports
}

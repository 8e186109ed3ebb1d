package training

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"

	"github.com/lookalike/lookalike/dataset"
	"github.com/lookalike/lookalike/encoder"
	"github.com/lookalike/lookalike/hashing"
	"github.com/lookalike/lookalike/modelfile"
)

// tiny returns 64 random 8x8 images of two classes (bright left half or
// bright right half) and a small network for them.
func tiny() (Config, *dataset.Set) {
	rng := rand.New(rand.NewPCG(5, 6))
	s := &dataset.Set{Height: 8, Width: 8, Channels: 1}
	for i := 0; i < 64; i++ {
		class := int32(i % 2)
		for y := 0; y < 8; y++ {
			for x := 0; x < 8; x++ {
				v := rng.Float32() * 0.3
				if (x < 4) == (class == 0) {
					v += 0.7
				}
				s.Pixels = append(s.Pixels, v)
			}
		}
		s.Labels = append(s.Labels, class)
	}
	m, _ := hashing.Lookup("dsh")
	c := NewConfig(m.(hashing.Deep), 8)
	c.Net = encoder.CNN{Height: 8, Width: 8, Channels: 1, Filters: []int{4}, Kernel: 3, Hidden: []int{16}, Outputs: 8}
	c.Epochs, c.BatchSize, c.Seed = 2, 16, 7
	return c, s
}

func weights(t *testing.T, m *modelfile.Model) map[string][]uint64 {
	t.Helper()
	out := map[string][]uint64{}
	for _, v := range m.Variables {
		out[v.Name] = v.Values
	}
	return out
}

func TestTrain_Deterministic(t *testing.T) {
	c, s := tiny()
	a, err := Train(context.Background(), c, s)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Train(context.Background(), c, s)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(weights(t, a), weights(t, b)) {
		t.Fatal("same seed gave different weights")
	}
	c.Seed++
	d, err := Train(context.Background(), c, s)
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(weights(t, a), weights(t, d)) {
		t.Fatal("different seeds gave the same weights")
	}
	if a.Header.Method != "dsh" || a.Header.Bits != 8 || a.Header.Training.Epoch != 2 {
		t.Fatalf("header %+v", a.Header)
	}
}

// TestTrain_Resume: a run stopped after one epoch and resumed from its
// checkpoint ends with the same weights as an uninterrupted run.
func TestTrain_Resume(t *testing.T) {
	c, s := tiny()
	whole, err := Train(context.Background(), c, s)
	if err != nil {
		t.Fatal(err)
	}
	// Cancel the run during its second epoch, after the first epoch's
	// checkpoint, then run again to resume.
	resumed := trainResumed(t, c, s)
	if !reflect.DeepEqual(weights(t, whole), weights(t, resumed)) {
		t.Fatal("resumed run differs from the uninterrupted one")
	}
	c2 := c
	c2.Checkpoint = filepath.Join(t.TempDir(), "run2.ckpt")
	if _, err := Train(context.Background(), c2, s); err != nil {
		t.Fatal(err)
	}
	// A checkpoint of another configuration is refused.
	c3 := c2
	c3.Seed = 99
	if _, err := Train(context.Background(), c3, s); err == nil {
		t.Fatal("checkpoint of another run accepted")
	}
}

func TestTrain_BadConfig(t *testing.T) {
	c, s := tiny()
	for name, mutate := range map[string]func(*Config){
		"epochs":     func(c *Config) { c.Epochs = 0 },
		"batch":      func(c *Config) { c.BatchSize = 1 },
		"lr":         func(c *Config) { c.LearningRate = -1 },
		"too few":    func(c *Config) { c.BatchSize = 1000 },
		"input size": func(c *Config) { c.Net.Height = 10 },
	} {
		cc := c
		mutate(&cc)
		if _, err := Train(context.Background(), cc, s); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// stepProbe is DSH with a term that turns NaN once Limit steps are done,
// so the error of Train tells which step the loss saw.
type stepProbe struct {
	hashing.DSH
	Limit float64
}

func (p stepProbe) Loss(b hashing.Batch) *Node {
	probe := MulScalar(Log(Sub(Scalar(b.U.Graph(), b.U.DType(), p.Limit), b.StepOrZero())), 0)
	return Add(p.DSH.Loss(b), probe)
}

// TestTrain_Step: the loss sees the number of steps done, counted across
// epochs and across a resumed run: with 4 steps an epoch and a loss that
// fails once 5 steps are done, training fails at epoch 2, step 2, both
// uninterrupted and resumed from the first epoch's checkpoint.
func TestTrain_Step(t *testing.T) {
	c, s := tiny()
	c.Method = stepProbe{DSH: hashing.DSH{Alpha: 0.01, MarginPerBit: 2}, Limit: 5}
	c.Epochs = 3
	const want = "at epoch 2 step 2"
	if _, err := Train(context.Background(), c, s); !errors.Is(err, ErrDiverged) || !strings.Contains(err.Error(), want) {
		t.Fatalf("uninterrupted: %v, want divergence %s", err, want)
	}
	c.Checkpoint = filepath.Join(t.TempDir(), "probe.ckpt")
	c.Epochs = 1
	if _, err := Train(context.Background(), c, s); err != nil {
		t.Fatal(err)
	}
	// The checkpoint records 1 of 1 epochs; resuming needs the same
	// header, so rewrite it as a 3-epoch run's first epoch.
	m, err := modelfile.ReadFile(c.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	m.Header.Training.Epochs = 3
	if err := modelfile.WriteFile(c.Checkpoint, m); err != nil {
		t.Fatal(err)
	}
	c.Epochs = 3
	if _, err := Train(context.Background(), c, s); !errors.Is(err, ErrDiverged) || !strings.Contains(err.Error(), want) {
		t.Fatalf("resumed: %v, want divergence %s", err, want)
	}
}

// countProbe is SSDH with a term that turns NaN unless each batch holds
// exactly Want unlabelled images.
type countProbe struct {
	hashing.SSDH
	Want float64
}

func (p countProbe) Loss(b hashing.Batch) *Node {
	return Add(p.SSDH.Loss(b), unlabelledCheck(b.Labels, b.U, p.Want))
}

// unlabelledCheck is 0, of like's dtype, when labels hold exactly want
// Unlabelled entries, and NaN otherwise.
func unlabelledCheck(labels, like *Node, want float64) *Node {
	unlabelled := ReduceAllSum(ConvertDType(Equal(labels, Scalar(labels.Graph(), labels.DType(), hashing.Unlabelled)), like.DType()))
	return MulScalar(Log(OneMinus(Abs(AddScalar(unlabelled, -want)))), 0)
}

// TestTrain_SemiSupervised: a semi-supervised method gets
// UnlabelledPerBatch unlabelled images in every batch (8 for batches of
// 16), the model records how many it drew from, and a resumed run draws
// the same ones as an uninterrupted run.
func TestTrain_SemiSupervised(t *testing.T) {
	c, s := tiny()
	_, pool := tiny()
	for i := range pool.Labels {
		pool.Labels[i] = 9 // must never reach the loss
	}
	ssdh := hashing.SSDH{RankMarginPerBit: 1, EmbedMarginPerBit: 2, Lambda: 0.1, Alpha: 0.01, Neighbours: 3, UnlabelledShare: 0.5}
	c.Method = countProbe{SSDH: ssdh, Want: 8}
	c.Unlabelled = pool
	whole, err := Train(context.Background(), c, s)
	if err != nil {
		t.Fatal(err)
	}
	if whole.Header.Training.Unlabelled != pool.Len() {
		t.Errorf("model records %d unlabelled images, want %d", whole.Header.Training.Unlabelled, pool.Len())
	}
	c.Method = countProbe{SSDH: ssdh, Want: 7}
	if _, err := Train(context.Background(), c, s); !errors.Is(err, ErrDiverged) {
		t.Fatalf("probe expecting 7 unlabelled images: %v, want divergence", err)
	}

	c.Method = countProbe{SSDH: ssdh, Want: 8}
	if !reflect.DeepEqual(weights(t, whole), weights(t, trainResumed(t, c, s))) {
		t.Fatal("resumed semi-supervised run differs from the uninterrupted one")
	}
}

// pretrainProbe is HashGAN (Cao) with a pretraining term that turns NaN
// unless each pretraining batch holds exactly Want unlabelled images.
type pretrainProbe struct {
	hashing.HashGANCao
	Want float64
}

func (p pretrainProbe) PretrainLoss(b hashing.Batch) *Node {
	return Add(p.HashGANCao.PretrainLoss(b), unlabelledCheck(b.Labels, b.Images, p.Want))
}

// TestTrain_PretrainUnlabelled: an UnlabelledPretrainer's pretraining
// batches hold PretrainUnlabelled unlabelled images (8 for batches of
// 16), and the model records how many it drew from.
func TestTrain_PretrainUnlabelled(t *testing.T) {
	c, s := tiny()
	_, pool := tiny()
	m := hashing.HashGANCao{Alpha: 0.1, Stages: 2, Gamma: 2, CosineAlpha: 5, Penalty: 10, Conditional: 0.1, Synthetic: 1,
		Pretrain: 1, PretrainRate: 1e-3, Warmup: 0.5, Unlabelled: 0.5, Noise: 4, GeneratorHidden: []int{8}, CriticHidden: []int{8}}
	c.Method, c.Unlabelled, c.Epochs = pretrainProbe{HashGANCao: m, Want: 8}, pool, 1
	got, err := Train(context.Background(), c, s)
	if err != nil {
		t.Fatal(err)
	}
	if got.Header.Training.Unlabelled != pool.Len() {
		t.Errorf("model records %d unlabelled images, want %d", got.Header.Training.Unlabelled, pool.Len())
	}
	c.Method = pretrainProbe{HashGANCao: m, Want: 7}
	if _, err := Train(context.Background(), c, s); !errors.Is(err, ErrDiverged) || !strings.Contains(err.Error(), "pretraining") {
		t.Fatalf("probe expecting 7 unlabelled images: %v, want divergence in pretraining", err)
	}
}

// TestTrain_DVSQ: a quantizing method trains with its codebooks refitted
// between epochs, and the model carries a quantizer for its code length:
// 4 bits as 2 codebooks of 4 codewords over 8 tanh outputs.
func TestTrain_DVSQ(t *testing.T) {
	c, s := tiny()
	m := hashing.DVSQ{Dim: 8, Codewords: 4, Lambda: 0.1, Every: 1, ICMSweeps: 2}
	c.Method, c.Bits = m, 4
	c.Net = m.Network(c.Net)
	model, err := Train(context.Background(), c, s)
	if err != nil {
		t.Fatal(err)
	}
	h := model.Header
	if h.Kind != modelfile.KindQuantized || h.Bits != 4 || h.Codewords != 4 || !h.Network.Tanh || h.Network.Outputs != 8 {
		t.Fatalf("header %+v", h)
	}
	q, err := model.Quantizer()
	if err != nil {
		t.Fatal(err)
	}
	if q.M != 2 || q.L != 2 {
		t.Errorf("quantizer has %d codebooks and %d label rows, want 2 and 2", q.M, q.L)
	}
	nonzero := false
	for _, v := range q.Codebooks {
		nonzero = nonzero || v != 0
	}
	if !nonzero {
		t.Error("codebooks were never fitted")
	}
	// Codes are whole 2-bit codeword indices.
	c.Bits = 5
	if _, err := Train(context.Background(), c, s); err == nil {
		t.Error("5-bit dvsq codes of 2-bit indices accepted")
	}
}

func TestConfig_Rate(t *testing.T) {
	c := Config{LearningRate: 1e-3, Schedule: "cosine"}
	for _, tc := range []struct {
		step int
		want float64
	}{{0, 1e-3}, {50, 0.5e-3}, {25, 1e-3 * (0.5 + 0.5*math.Sqrt(0.5))}, {100, 0}} {
		if got := c.rate(tc.step, 100); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("cosine rate(%d, 100) = %v, want %v", tc.step, got, tc.want)
		}
	}
	c.Schedule = ""
	if c.rate(50, 100) != 1e-3 {
		t.Error("constant schedule changed the rate")
	}
}

// TestTrain_Schedule: the cosine schedule reaches the optimizer (other
// weights than the constant rate), and a run resumed from a checkpoint
// ends as the uninterrupted one, the rate depending only on the step.
func TestTrain_Schedule(t *testing.T) {
	c, s := tiny()
	c.Schedule = "constant"
	constant, err := Train(context.Background(), c, s)
	if err != nil {
		t.Fatal(err)
	}
	c.Schedule = "cosine"
	whole, err := Train(context.Background(), c, s)
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(weights(t, constant), weights(t, whole)) {
		t.Fatal("cosine schedule gave the constant rate's weights")
	}
	if !reflect.DeepEqual(weights(t, whole), weights(t, trainResumed(t, c, s))) {
		t.Fatal("resumed cosine run differs from the uninterrupted one")
	}
	c.Schedule = "step"
	if _, err := Train(context.Background(), c, s); err == nil {
		t.Error("unknown schedule accepted")
	}
}

// trainResumed trains c on s, cancelled in its second epoch after the
// first epoch's checkpoint (in a fresh file), then resumed to the end.
func trainResumed(t *testing.T, c Config, s *dataset.Set) *modelfile.Model {
	t.Helper()
	c.Checkpoint = filepath.Join(t.TempDir(), "resume.ckpt")
	ctx, cancel := context.WithCancel(context.Background())
	steps := s.Len() / c.BatchSize
	c.OnStep = func(step, _ int) {
		if step == steps+1 {
			cancel()
		}
	}
	if _, err := Train(ctx, c, s); err == nil {
		t.Fatal("cancelled run returned no error")
	}
	c.OnStep = nil
	resumed, err := Train(context.Background(), c, s)
	if err != nil {
		t.Fatal(err)
	}
	return resumed
}

// featuresProbe is DSH with a term that turns NaN unless the loss sees the
// output layer's inputs: one row per output row, Width wide, and ReLU
// activations (none negative).
type featuresProbe struct {
	hashing.DSH
	Width int
}

func (p featuresProbe) Loss(b hashing.Batch) *Node {
	loss := p.DSH.Loss(b)
	f := b.Features
	if f == nil || f.Shape().Dimensions[0] != b.U.Shape().Dimensions[0] || f.Shape().Dimensions[1] != p.Width {
		return Add(loss, Sqrt(Scalar(b.U.Graph(), b.U.DType(), -1)))
	}
	return Add(loss, MulScalar(Sqrt(ReduceAllMin(f)), 0))
}

// TestTrain_Features: the loss sees the network's last hidden layer (16
// wide in tiny's network) as Batch.Features.
func TestTrain_Features(t *testing.T) {
	c, s := tiny()
	for _, tc := range []struct {
		width int
		ok    bool
	}{{16, true}, {17, false}} {
		c.Method = featuresProbe{DSH: hashing.DSH{Alpha: 0.01, MarginPerBit: 2}, Width: tc.width}
		_, err := Train(context.Background(), c, s)
		if tc.ok && err != nil {
			t.Errorf("width %d: %v", tc.width, err)
		}
		if !tc.ok && !errors.Is(err, ErrDiverged) {
			t.Errorf("width %d: %v, want divergence", tc.width, err)
		}
	}
}

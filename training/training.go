// Package training trains the deep hashing methods: the encoder network
// end to end with the method's loss, Adam (or SGD with momentum), seeded
// shuffling, a progress line, and per-epoch checkpoints that a killed run
// resumes from.
package training

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/optimizer"

	"github.com/lookalike/lookalike/dataset"
	"github.com/lookalike/lookalike/encoder"
	"github.com/lookalike/lookalike/hashing"
	"github.com/lookalike/lookalike/modelfile"
)

// Config sets up one training run. NewConfig fills in the defaults.
type Config struct {
	// Method is the deep hashing method to train.
	Method hashing.Deep
	// Net is the encoder network; its Outputs is the code length, except
	// for methods whose codes quantize the outputs (DVSQ).
	Net encoder.CNN
	// Bits is the code length; 0 means Net.Outputs.
	Bits int
	// Epochs over the training set. Default 30.
	Epochs int
	// BatchSize images per step. Default 128. The last incomplete batch
	// of each epoch is dropped (the PyTorch reference keeps it): measured
	// on fmnist-1k, DSH 48 bits, seed 0, keeping the 8-image remainder gave
	// mAP@all 0.810 against 0.829, its noisy statistics entering the batch
	// normalization averages at every epoch's end.
	BatchSize int
	// PerClass, when above 1, fills each batch with groups of PerClass
	// images of one label (the "PK" batches of Schroff et al., FaceNet,
	// CVPR 2015, and Hermans et al., 2017), for training sets of many
	// small classes, whose random batches hold almost no similar pair: the
	// learned heads' photos come in labels of four images (an original and
	// its edits), so a random batch of 128 of 4,000 holds about 6 similar
	// pairs among 8,128. 0 or 1 draws batches at random.
	PerClass int
	// Optimizer is Adam ("adam" or empty, the default) or SGD ("sgd",
	// with momentum SGDMomentum).
	Optimizer string
	// LearningRate of the optimizer. Default 1e-3.
	LearningRate float64
	// Schedule shapes the learning rate over the run: "constant" (or
	// empty) keeps it; "cosine" anneals it from LearningRate to 0 along
	// half a cosine over all steps (Loshchilov and Hutter, SGDR, ICLR
	// 2017, without restarts).
	Schedule string
	// Seed fixes the weight initialization and the shuffling: the same
	// seed and data give the same model.
	Seed int64
	// Protocol is recorded in the model file.
	Protocol string
	// Checkpoint is a file rewritten after every epoch; when it exists at
	// start, training resumes from it. Empty disables checkpoints.
	Checkpoint string
	// Progress receives a progress line per step; nil is quiet.
	Progress io.Writer
	// Unlabelled holds images without labels for semi-supervised methods
	// (hashing.SemiSupervised), which add UnlabelledPerBatch of them to
	// every batch; other methods ignore it.
	Unlabelled *dataset.Set
	// OnStep, when set, is called after every step with the step number
	// of this run (from 1) and the step's batch size, for benchmarks.
	OnStep func(step, batch int)
	// OnEpoch, when set, is called after every epoch (from 1) with the
	// model as it stands, for learning curves; an error stops training.
	OnEpoch func(epoch int, m *modelfile.Model) error
	// Trace, when set, receives the scalars of every step (the loss and
	// what the method reports with Batch.Report) and, for generative
	// methods, the generator's images at the end of training, for the
	// pictures of a run.
	Trace *Trace
	// init holds variables to start from instead of fresh ones (a pruned
	// model fine-tuned by fineTune); a checkpoint takes precedence.
	init []modelfile.Variable
}

// Trace is what a run records for its loss curves and generated samples.
type Trace struct {
	// Names names the scalars of each step: "loss", then those the method
	// reported, sorted, then those only its pretraining reported
	// (hashing.Pretrainer: "pretrain_loss" and the others), sorted.
	Names []string
	// Steps holds the scalars of each step of this run (resumed epochs
	// excluded), pretraining steps first, in Names' order; NaN where a
	// step did not report the scalar.
	Steps [][]float64
	// Real and Generated hold Samples training images and the
	// generator's images for them (hashing.Generative), each Height x
	// Width x Channels values in [0, 1]; empty for other methods.
	Samples                 int
	Height, Width, Channels int
	Real, Generated         []float32
}

// TraceSamples is how many training images the generator's grid shows.
const TraceSamples = 32

// NewConfig returns the defaults for method and bits: those of the PyTorch
// reference (shared/anchors/torch_dsh_fmnist.py), Adam 1e-3, batch 128, 30
// epochs, except that the learning rate is annealed along a cosine, which
// lifted DSH's mAP@all on fmnist-1k at 48 bits above the constant rate's,
// and that a method that names its optimizer (hashing.Optimized) gets it.
func NewConfig(method hashing.Deep, bits int) Config {
	net := encoder.Reference(bits)
	if a, ok := method.(hashing.Architect); ok {
		net = a.Network(net)
	}
	c := Config{Method: method, Net: net, Bits: bits, Epochs: 30, BatchSize: 128, LearningRate: 1e-3, Schedule: "cosine"}
	if o, ok := method.(hashing.Optimized); ok {
		c.Optimizer, c.LearningRate = o.Optimizer()
	}
	return c
}

func (c *Config) bits() int {
	if c.Bits == 0 {
		return c.Net.Outputs
	}
	return c.Bits
}

// methodScope holds the variables of a method's own loss (DVSQ's
// codebooks), apart from the network's.
const methodScope = "method"

// monitorScope holds the scalars the loss reports (Batch.Report): not
// trained, and left out of model files.
const monitorScope = "monitor"

// ErrDiverged is returned when the loss stops being a finite number.
var ErrDiverged = errors.New("training: loss diverged (NaN or Inf)")

// ErrCollapsed is returned when an adversarial method's discriminator
// stops playing: its loss at 0, or its outputs saturated, for a whole
// epoch. The generator then gets no useful gradient, and the model would
// be silently broken.
var ErrCollapsed = errors.New("training: adversarial game collapsed")

// Collapse thresholds: a discriminator loss below collapseLoss, or mean
// outputs within collapseSaturation of 0 or 1, at every step of an epoch.
// The outputs are batch means, so a saturated mean means (nearly) every
// image of the batch saturates.
const (
	collapseLoss       = 1e-3
	collapseSaturation = 1e-3
)

// collapse watches the discriminator's reported scalars over an epoch.
type collapse struct {
	steps             int
	lossSeen, lossLow bool
	outSeen, outSat   bool
}

func (c *collapse) reset() { *c = collapse{lossLow: true, outSat: true} }

// observe takes one step's reported scalars by name.
func (c *collapse) observe(reports map[string]float64) {
	c.steps++
	if v, ok := reports[hashing.ReportDiscriminatorLoss]; ok {
		c.lossSeen = true
		c.lossLow = c.lossLow && math.Abs(v) < collapseLoss
	}
	for _, name := range []string{hashing.ReportDiscriminatorReal, hashing.ReportDiscriminatorFake} {
		if v, ok := reports[name]; ok {
			c.outSeen = true
			c.outSat = c.outSat && (v < collapseSaturation || v > 1-collapseSaturation)
		}
	}
}

// err returns why the epoch collapsed, or nil.
func (c *collapse) err(epoch int) error {
	switch {
	case c.steps == 0:
		return nil
	case c.lossSeen && c.lossLow:
		return fmt.Errorf("%w at epoch %d: the discriminator's loss (%s) stayed below %g for all %d steps; try a lower learning rate or another seed",
			ErrCollapsed, epoch, hashing.ReportDiscriminatorLoss, collapseLoss, c.steps)
	case c.outSeen && c.outSat:
		return fmt.Errorf("%w at epoch %d: the discriminator's outputs (%s, %s) stayed within %g of 0 or 1 for all %d steps; try a lower learning rate or another seed",
			ErrCollapsed, epoch, hashing.ReportDiscriminatorReal, hashing.ReportDiscriminatorFake, collapseSaturation, c.steps)
	}
	return nil
}

// reported reads the scalars of the step just run from the monitor's
// variables, sorted by name.
func reported(store *model.Store) (names []string, values []float64, err error) {
	prefix := "/" + monitorScope + "/"
	type scalar struct {
		name string
		v    float64
	}
	var all []scalar
	for v := range store.IterVariables() {
		if !strings.HasPrefix(v.Path(), prefix) {
			continue
		}
		t, err := v.Value()
		if err != nil {
			return nil, nil, fmt.Errorf("training: read reported %s: %w", v.Path(), err)
		}
		x, err := tensors.CopyFlatData[float32](t)
		if err != nil || len(x) != 1 {
			return nil, nil, fmt.Errorf("training: read reported %s: not a scalar (%v)", v.Path(), err)
		}
		all = append(all, scalar{strings.TrimPrefix(v.Path(), prefix), float64(x[0])})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].name < all[j].name })
	for _, s := range all {
		names, values = append(names, s.name), append(values, s.v)
	}
	return names, values, nil
}

func (c *Config) validate(set *dataset.Set) error {
	switch {
	case c.Method == nil:
		return errors.New("training: no method")
	case c.Epochs < 1:
		return fmt.Errorf("training: epochs = %d, must be at least 1", c.Epochs)
	case c.BatchSize < 2:
		return fmt.Errorf("training: batch size %d, must be at least 2 (methods compare pairs)", c.BatchSize)
	case c.LearningRate <= 0 || math.IsNaN(c.LearningRate) || math.IsInf(c.LearningRate, 0):
		return fmt.Errorf("training: learning rate %v must be positive", c.LearningRate)
	case c.Schedule != "" && c.Schedule != "constant" && c.Schedule != "cosine":
		return fmt.Errorf("training: unknown learning-rate schedule %q (constant or cosine)", c.Schedule)
	case CheckOptimizer(c.Optimizer) != nil:
		return fmt.Errorf("training: %w", CheckOptimizer(c.Optimizer))
	case c.Bits != 0 && c.Bits != c.Net.Outputs && !quantizing(c.Method):
		return fmt.Errorf("training: %d bits from a network of %d outputs", c.Bits, c.Net.Outputs)
	case set.Len() < c.BatchSize:
		return fmt.Errorf("training: %d training images, fewer than one batch of %d", set.Len(), c.BatchSize)
	case set.Height != c.Net.Height || set.Width != c.Net.Width || set.Channels != c.Net.Channels:
		return fmt.Errorf("training: images are %dx%dx%d, network takes %dx%dx%d",
			set.Height, set.Width, set.Channels, c.Net.Height, c.Net.Width, c.Net.Channels)
	}
	if q, ok := c.Method.(hashing.Quantizing); ok {
		if _, err := q.Codebooks(c.bits()); err != nil {
			return err
		}
	}
	return c.Net.Validate()
}

func quantizing(m hashing.Deep) bool {
	_, ok := m.(hashing.Quantizing)
	return ok
}

// classes returns the number of classes of the labels, 1 + the largest.
func classes(set *dataset.Set) int {
	n := 0
	for _, l := range set.Labels {
		n = max(n, int(l)+1)
	}
	return n
}

func (c *Config) header(set *dataset.Set, epoch int, seconds float64) modelfile.Header {
	kind, codewords := "", 0
	if q, ok := c.Method.(hashing.Quantizing); ok {
		kind, codewords = modelfile.KindQuantized, q.CodewordsPerBook()
	}
	return modelfile.Header{
		Method:    c.Method.Info().Name,
		Bits:      c.bits(),
		Kind:      kind,
		Codewords: codewords,
		Network:   c.Net,
		Preprocess: modelfile.Preprocess{
			Height: c.Net.Height, Width: c.Net.Width, Channels: c.Net.Channels, Scale: 1.0 / 255,
		},
		Training: modelfile.Training{
			Protocol: c.Protocol, Images: set.Len(), Unlabelled: c.unlabelledLen(), Epochs: c.Epochs, BatchSize: c.BatchSize,
			Optimizer: c.Optimizer, LearningRate: c.LearningRate, Schedule: c.Schedule, Seed: c.Seed, Epoch: epoch, Seconds: seconds,
		},
	}
}

// rate returns the learning rate of step (from 0) of a run of steps.
func (c *Config) rate(step, steps int) float64 {
	if c.Schedule != "cosine" || steps < 1 {
		return c.LearningRate
	}
	return c.LearningRate * 0.5 * (1 + math.Cos(math.Pi*float64(step)/float64(steps)))
}

// unlabelledPerBatch returns how many unlabelled images join each batch.
func (c *Config) unlabelledPerBatch() int {
	m, ok := c.Method.(hashing.SemiSupervised)
	if !ok || c.Unlabelled == nil || c.Unlabelled.Len() == 0 {
		return 0
	}
	return max(m.UnlabelledPerBatch(c.BatchSize), 0)
}

// pretrainUnlabelled returns how many unlabelled images join each
// pretraining batch.
func (c *Config) pretrainUnlabelled() int {
	m, ok := c.Method.(hashing.UnlabelledPretrainer)
	if !ok || c.Unlabelled == nil || c.Unlabelled.Len() == 0 {
		return 0
	}
	return max(m.PretrainUnlabelled(c.BatchSize), 0)
}

func (c *Config) unlabelledLen() int {
	if c.unlabelledPerBatch() == 0 && c.pretrainUnlabelled() == 0 {
		return 0
	}
	return c.Unlabelled.Len()
}

// checkUnlabelled reports unlabelled images of another size than set's.
func (c *Config) checkUnlabelled(set *dataset.Set) error {
	if u := c.Unlabelled; u != nil && (u.Height != set.Height || u.Width != set.Width || u.Channels != set.Channels) {
		return fmt.Errorf("training: unlabelled images are %dx%dx%d, labelled ones %dx%dx%d",
			u.Height, u.Width, u.Channels, set.Height, set.Width, set.Channels)
	}
	return nil
}

// unlabelledOrder walks the unlabelled images in passes, each pass a
// permutation that depends only on the seed and the pass, so that the
// images of a step depend only on its number and a resumed run sees what
// an uninterrupted one would.
type unlabelledOrder struct {
	seed uint64
	// stream tells the training's order (0) from pretraining's (1).
	stream uint64
	n      int
	pass   int
	perm   []int
}

// at returns the position of the k-th unlabelled image drawn in the run.
func (o *unlabelledOrder) at(k int) int {
	if pass := k / o.n; o.perm == nil || pass != o.pass {
		o.pass = pass
		o.perm = rand.New(rand.NewPCG(o.seed, (1+o.stream)<<32+uint64(pass))).Perm(o.n)
	}
	return o.perm[k%o.n]
}

// Train trains c.Method on set and returns the model. Cancelling ctx stops
// training after the current step; the last checkpoint stays on disk.
func Train(ctx context.Context, c Config, set *dataset.Set) (*modelfile.Model, error) {
	if err := c.validate(set); err != nil {
		return nil, err
	}
	backend, err := encoder.Backend()
	if err != nil {
		return nil, err
	}
	store := model.NewStore()
	store.SetParam(model.ParamInitialSeed, c.Seed)
	startEpoch, elapsed := 0, 0.0
	if c.Checkpoint != "" {
		if startEpoch, elapsed, err = resume(c, set, store); err != nil {
			return nil, err
		}
	}
	if c.init != nil && startEpoch == 0 {
		if _, err := modelfile.ToStore(store, c.init); err != nil {
			return nil, err
		}
	}
	inner, err := c.newOptimizer()
	if err != nil {
		return nil, err
	}
	opt, err := newTapedOptimizer(inner)
	if err != nil {
		return nil, err
	}
	_, opt.shared = c.Method.(hashing.SharedDiscriminator)
	// The images go on to the loss too (Batch.Images).
	modelFn := func(scope *model.Scope, x *Node) []*Node {
		return []*Node{opt.build(c.Net, scope.In(encoder.Scope), x), x}
	}
	n, size := set.Len(), set.ImageSize()
	steps := n / c.BatchSize
	extra := c.unlabelledPerBatch()
	nclasses := classes(set)
	var order *unlabelledOrder
	if extra > 0 {
		if err := c.checkUnlabelled(set); err != nil {
			return nil, err
		}
		order = &unlabelledOrder{seed: uint64(c.Seed), n: c.Unlabelled.Len()}
	}
	views := hashing.ViewsOf(c.Method)
	augmenter, _ := c.Method.(hashing.Augmenter)
	redrawer, _ := c.Method.(hashing.Redrawer)
	lossFn := func(labels, predictions []*Node) *Node {
		u := predictions[0]
		// The optimizer increments the global step after the loss is
		// built, so here it still counts the steps taken before this one.
		step := ConvertDType(optimizer.GetGlobalStepVar(store).NodeValue(u.Graph()), u.DType())
		b := hashing.Batch{
			U: u, Labels: labels[0], Step: step, Steps: c.Epochs * steps, Scope: store.Scope("/" + methodScope),
			Bits: c.bits(), Classes: nclasses, Labelled: c.BatchSize,
			Images: predictions[1], Index: labels[1], Views: views, TrainingImages: n,
			Monitor: store.Scope("/" + monitorScope), Features: opt.features(u.Graph()),
		}
		if sd, ok := c.Method.(hashing.SharedDiscriminator); ok {
			return sd.SharedLoss(b, sharedNetwork(c.Net, store, u.Graph()))
		}
		return c.Method.Loss(b)
	}
	// Pretraining comes first: its trainer resets the learning-rate
	// variable, which the main trainer then sets up anew.
	var pre []map[string]float64
	if p, ok := c.Method.(hashing.Pretrainer); ok && startEpoch == 0 {
		if pre, err = pretrain(ctx, &c, p, backend, store, set, nclasses); err != nil {
			return nil, err
		}
	}
	trainer := train.NewTrainer(backend, store, modelFn, lossFn, opt, nil, nil)
	lrVar := optimizer.LearningRateVarWithValue(store.RootScope(), dtypes.Float32, c.LearningRate)
	rows := (c.BatchSize + extra) * views
	x := make([]float32, rows*size)
	y := make([]int32, rows)
	index := make([]int32, rows)
	bar := newProgress(c.Progress, c.Epochs*steps)
	start := time.Now()
	runStep := 0
	var watch collapse
	for epoch := startEpoch; epoch < c.Epochs; epoch++ {
		watch.reset()
		// The order of each epoch depends only on (seed, epoch), so a
		// resumed run sees the same batches as an uninterrupted one.
		perm := epochOrder(set.Labels, c.PerClass, c.Seed, epoch)
		for s := 0; s < steps; s++ {
			if err := ctx.Err(); err != nil {
				bar.done()
				return nil, err
			}
			members := perm[s*c.BatchSize : min((s+1)*c.BatchSize, n)]
			bs := len(members)
			for i, p := range members {
				copy(x[i*size:(i+1)*size], set.Image(p))
				y[i], index[i] = set.Labels[p], int32(p)
			}
			for i := range extra {
				p := order.at((epoch*steps+s)*extra + i)
				copy(x[(bs+i)*size:(bs+i+1)*size], c.Unlabelled.Image(p))
				y[bs+i], index[bs+i] = hashing.Unlabelled, hashing.Unlabelled
			}
			bs += extra
			key := stepKey(c.Seed, epoch*steps+s)
			for v := 1; v < views; v++ {
				for i := range bs {
					r := v*bs + i
					if redrawer != nil {
						redrawer.Redraw(x[r*size:(r+1)*size], x[i*size:(i+1)*size], set.Height, set.Width, set.Channels, v, key)
					} else {
						augmenter.Augment(x[r*size:(r+1)*size], x[i*size:(i+1)*size], set.Height, set.Width, set.Channels, v)
					}
					y[r], index[r] = y[i], index[i]
				}
			}
			bs *= views
			batch := train.Batch{
				Inputs: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(x[:bs*size], bs, set.Height, set.Width, set.Channels)},
				Labels: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(y[:bs], bs), tensors.FromFlatDataAndDimensions(index[:bs], bs)},
			}
			if c.Schedule == "cosine" {
				if err := lrVar.SetValue(tensors.FromScalar(float32(c.rate(epoch*steps+s, c.Epochs*steps)))); err != nil {
					return nil, fmt.Errorf("training: set the learning rate: %w", err)
				}
			}
			metrics, err := trainer.TrainStep(batch)
			if err != nil {
				bar.done()
				return nil, fmt.Errorf("training: step %d: %w", epoch*steps+s, err)
			}
			loss, err := tensors.CopyFlatData[float32](metrics[0])
			for _, m := range metrics {
				m.FinalizeAll()
			}
			if err != nil {
				return nil, fmt.Errorf("training: read loss: %w", err)
			}
			if math.IsNaN(float64(loss[0])) || math.IsInf(float64(loss[0]), 0) {
				bar.done()
				return nil, fmt.Errorf("%w at epoch %d step %d", ErrDiverged, epoch+1, s+1)
			}
			names, values, err := reported(store)
			if err != nil {
				bar.done()
				return nil, err
			}
			byName := make(map[string]float64, len(names))
			for i, name := range names {
				byName[name] = values[i]
			}
			watch.observe(byName)
			if c.Trace != nil {
				c.Trace.Names = append([]string{"loss"}, names...)
				c.Trace.Steps = append(c.Trace.Steps, append([]float64{float64(loss[0])}, values...))
			}
			drawn := bar.last
			bar.step(epoch+1, c.Epochs, epoch*steps+s+1, float64(loss[0]), bs)
			if bar.last != drawn && len(names) > 0 {
				// The progress line ends where the reported scalars go.
				var line strings.Builder
				for i, name := range names {
					fmt.Fprintf(&line, "%s %.4f ", name, values[i])
				}
				fmt.Fprint(c.Progress, line.String())
			}
			if c.OnStep != nil {
				runStep++
				c.OnStep(runStep, bs)
			}
		}
		if err := watch.err(epoch + 1); err != nil {
			bar.done()
			return nil, err
		}
		if r, ok := c.Method.(hashing.Refitter); ok && r.RefitEvery() > 0 && (epoch+1)%r.RefitEvery() == 0 {
			if err := refit(c, r, backend, store, set); err != nil {
				bar.done()
				return nil, fmt.Errorf("training: epoch %d: %w", epoch+1, err)
			}
		}
		if c.Checkpoint != "" {
			if err := checkpoint(c, set, store, epoch+1, elapsed+time.Since(start).Seconds()); err != nil {
				bar.done()
				return nil, err
			}
		}
		if c.OnEpoch != nil {
			m, err := result(c, set, store, epoch+1, elapsed+time.Since(start).Seconds())
			if err == nil {
				err = c.OnEpoch(epoch+1, m)
			}
			if err != nil {
				bar.done()
				return nil, fmt.Errorf("training: epoch %d: %w", epoch+1, err)
			}
		}
	}
	bar.done()
	m, err := result(c, set, store, c.Epochs, elapsed+time.Since(start).Seconds())
	if err != nil {
		return nil, err
	}
	if p, ok := c.Method.(hashing.Pruner); ok {
		if err := prune(c, p, backend, store, set, m); err != nil {
			return nil, err
		}
		if f, ok := p.(hashing.FineTuner); ok {
			if m, err = fineTune(ctx, c, f, set, m); err != nil {
				return nil, err
			}
		}
	}
	if c.Trace != nil && len(pre) > 0 {
		tracePretraining(c.Trace, pre)
	}
	if g, ok := c.Method.(hashing.Generative); ok && c.Trace != nil {
		if err := generate(c, g, backend, store, set, nclasses); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// pretrain runs a Pretrainer's steps before the network trains and
// returns the scalars of each step by name ("pretrain_loss" and what the
// method reported). Its Adam keeps its moments and step count apart from
// the main optimizer's, and the global step goes back to 0 afterwards, so
// that the main run's schedules start at 0. The batches are drawn in
// passes over set, each a permutation that depends only on the seed and
// the pass; a pass is an epoch for the collapse watch. An
// UnlabelledPretrainer's batches go on with unlabelled images from
// c.Unlabelled, drawn in passes of their own.
func pretrain(ctx context.Context, c *Config, p hashing.Pretrainer, backend compute.Backend, store *model.Store, set *dataset.Set, nclasses int) ([]map[string]float64, error) {
	steps, rate, beta1, beta2 := p.Pretraining(c.Epochs * (set.Len() / c.BatchSize))
	if steps <= 0 {
		return nil, nil
	}
	opt := optimizer.Adam().Scope("adam_pretrain").LearningRate(rate).Betas(beta1, beta2).Epsilon(1e-8).Done()
	lossFn := func(labels, predictions []*Node) *Node {
		x := predictions[0]
		step := ConvertDType(optimizer.GetGlobalStepVar(store).NodeValue(x.Graph()), x.DType())
		return p.PretrainLoss(hashing.Batch{
			Images: x, Labels: labels[0], Step: step, Steps: steps, Scope: store.Scope("/" + methodScope),
			Bits: c.bits(), Classes: nclasses, Labelled: c.BatchSize, Views: 1, TrainingImages: set.Len(),
			Monitor: store.Scope("/" + monitorScope),
		})
	}
	trainer := train.NewTrainer(backend, store, func(_ *model.Scope, x *Node) *Node { return x }, lossFn, opt, nil, nil)
	n, size, bs := set.Len(), set.ImageSize(), c.BatchSize
	perPass := n / bs
	passes := (steps + perPass - 1) / perPass
	extra := c.pretrainUnlabelled()
	var order *unlabelledOrder
	if extra > 0 {
		if err := c.checkUnlabelled(set); err != nil {
			return nil, err
		}
		order = &unlabelledOrder{seed: uint64(c.Seed), stream: 1, n: c.Unlabelled.Len()}
	}
	x := make([]float32, (bs+extra)*size)
	y := make([]int32, bs+extra)
	if c.Progress != nil {
		also := ""
		if extra > 0 {
			also = fmt.Sprintf(", %d labelled and %d unlabelled images a batch", bs, extra)
		}
		fmt.Fprintf(c.Progress, "pretraining %s: %d steps%s\n", c.Method.Info().Name, steps, also)
	}
	bar := newProgress(c.Progress, steps)
	defer bar.done()
	var rows []map[string]float64
	var watch collapse
	var perm []int
	for s := range steps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		pass, k := s/perPass, s%perPass
		if k == 0 {
			if err := watch.err(pass); err != nil {
				return nil, fmt.Errorf("pretraining: %w", err)
			}
			watch.reset()
			perm = rand.New(rand.NewPCG(uint64(c.Seed), 1<<33+uint64(pass))).Perm(n)
		}
		for i, q := range perm[k*bs : (k+1)*bs] {
			copy(x[i*size:(i+1)*size], set.Image(q))
			y[i] = set.Labels[q]
		}
		for i := range extra {
			q := order.at(s*extra + i)
			copy(x[(bs+i)*size:(bs+i+1)*size], c.Unlabelled.Image(q))
			y[bs+i] = hashing.Unlabelled
		}
		metrics, err := trainer.TrainStep(train.Batch{
			Inputs: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(x, bs+extra, set.Height, set.Width, set.Channels)},
			Labels: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(y, bs+extra)},
		})
		if err != nil {
			return nil, fmt.Errorf("training: pretraining step %d: %w", s+1, err)
		}
		loss, err := tensors.CopyFlatData[float32](metrics[0])
		for _, m := range metrics {
			m.FinalizeAll()
		}
		if err != nil {
			return nil, fmt.Errorf("training: read pretraining loss: %w", err)
		}
		if math.IsNaN(float64(loss[0])) || math.IsInf(float64(loss[0]), 0) {
			return nil, fmt.Errorf("%w at pretraining step %d", ErrDiverged, s+1)
		}
		names, values, err := reported(store)
		if err != nil {
			return nil, err
		}
		row := map[string]float64{"pretrain_loss": float64(loss[0])}
		for i, name := range names {
			row[name] = values[i]
		}
		watch.observe(row)
		rows = append(rows, row)
		drawn := bar.last
		bar.step(pass+1, passes, s+1, float64(loss[0]), bs)
		if bar.last != drawn {
			var line strings.Builder
			for i, name := range names {
				fmt.Fprintf(&line, "%s %.4f ", name, values[i])
			}
			fmt.Fprint(c.Progress, line.String())
		}
	}
	if err := watch.err(passes); err != nil {
		return nil, fmt.Errorf("pretraining: %w", err)
	}
	if err := optimizer.GetGlobalStepVar(store).SetValue(tensors.FromScalar(int64(0))); err != nil {
		return nil, fmt.Errorf("training: reset the step after pretraining: %w", err)
	}
	// The main run's progress line and curves show its own scalars.
	if err := store.Scope("/" + monitorScope).DeleteVariablesInScope(); err != nil {
		return nil, fmt.Errorf("training: after pretraining: %w", err)
	}
	return rows, nil
}

// tracePretraining puts the pretraining steps' scalars pre before the
// run's in t, matched by name; a scalar that a step did not report is NaN,
// which the curves skip.
func tracePretraining(t *Trace, pre []map[string]float64) {
	names := append([]string(nil), t.Names...)
	seen := map[string]bool{}
	for _, name := range names {
		seen[name] = true
	}
	var extra []string
	for _, row := range pre {
		for name := range row {
			if !seen[name] {
				seen[name] = true
				extra = append(extra, name)
			}
		}
	}
	sort.Strings(extra)
	names = append(names, extra...)
	steps := make([][]float64, 0, len(pre)+len(t.Steps))
	for _, row := range pre {
		v := make([]float64, len(names))
		for i, name := range names {
			if x, ok := row[name]; ok {
				v[i] = x
			} else {
				v[i] = math.NaN()
			}
		}
		steps = append(steps, v)
	}
	for _, old := range t.Steps {
		v := make([]float64, len(names))
		copy(v, old)
		for i := len(old); i < len(names); i++ {
			v[i] = math.NaN()
		}
		steps = append(steps, v)
	}
	t.Names, t.Steps = names, steps
}

// generate fills c.Trace with TraceSamples training images, spread over
// the set, and what the method's generator makes of them.
func generate(c Config, g hashing.Generative, backend compute.Backend, store *model.Store, set *dataset.Set, nclasses int) error {
	n, size := min(TraceSamples, set.Len()), set.ImageSize()
	real := make([]float32, 0, n*size)
	labels := make([]int32, n)
	for i := range n {
		p := i * set.Len() / n
		real = append(real, set.Image(p)...)
		labels[i] = set.Labels[p]
	}
	exec, err := model.NewExec(backend, store, func(scope *model.Scope, x, y *Node) *Node {
		u := c.Net.Build(scope.In(encoder.Scope), x)
		return g.Generate(hashing.Batch{
			U: u, Labels: y, Steps: 1, Scope: scope.In(methodScope), Bits: c.bits(), Classes: nclasses,
			Labelled: n, Images: x, Views: 1,
		})
	})
	if err != nil {
		return fmt.Errorf("training: generate samples: %w", err)
	}
	res, err := exec.Exec(tensors.FromFlatDataAndDimensions(real, n, set.Height, set.Width, set.Channels), tensors.FromFlatDataAndDimensions(labels, n))
	if err != nil {
		return fmt.Errorf("training: generate samples: %w", err)
	}
	out, err := tensors.CopyFlatData[float32](res[0])
	res[0].FinalizeAll()
	if err != nil {
		return fmt.Errorf("training: generate samples: %w", err)
	}
	if len(out) != n*size {
		return fmt.Errorf("training: generate samples: %d values for %d images of %d", len(out), n, size)
	}
	t := c.Trace
	t.Samples, t.Height, t.Width, t.Channels, t.Real, t.Generated = n, set.Height, set.Width, set.Channels, real, out
	return nil
}

// result returns the model of store after epoch epochs: the network's
// variables and the method's own.
func result(c Config, set *dataset.Set, store *model.Store, epoch int, seconds float64) (*modelfile.Model, error) {
	vars, err := modelfile.FromStore(store, "/"+encoder.Scope+"/")
	if err != nil {
		return nil, err
	}
	own, err := modelfile.FromStore(store, "/"+methodScope+"/")
	if err != nil {
		return nil, err
	}
	return &modelfile.Model{Header: c.header(set, epoch, seconds), Variables: append(vars, own...)}, nil
}

// prune asks p which output bits of the trained network to keep and
// removes the others from m's output layer.
func prune(c Config, p hashing.Pruner, backend compute.Backend, store *model.Store, set *dataset.Set, m *modelfile.Model) error {
	bits := c.Net.Outputs
	outputs, err := networkOutputs(c, backend, store, set)
	if err != nil {
		return fmt.Errorf("training: prune: %w", err)
	}
	keep, err := p.Prune(outputs, set.Len(), bits, set.Labels, c.Seed)
	if err != nil {
		return fmt.Errorf("training: prune: %w", err)
	}
	if err := KeepOutputs(m, keep); err != nil {
		return fmt.Errorf("training: prune: %w", err)
	}
	return nil
}

// lossOnly hides every ability of a method but its loss, so that a
// fine-tuning run does not cut the network a second time.
type lossOnly struct{ hashing.Deep }

// fineTune trains m's cut network on, from its weights, for the epochs f
// asks (none: m as it is) with f's loss and the run's schedule, seed and
// batches, without checkpoints, and returns the result under m's header
// with the seconds of both runs.
func fineTune(ctx context.Context, c Config, f hashing.FineTuner, set *dataset.Set, m *modelfile.Model) (*modelfile.Model, error) {
	epochs, rate := f.FineTune()
	if epochs <= 0 {
		return m, nil
	}
	ft := c
	ft.Method, ft.Net, ft.Bits, ft.Epochs = lossOnly{f}, m.Header.Network, 0, epochs
	if rate > 0 {
		ft.LearningRate = rate
	}
	ft.Checkpoint, ft.OnEpoch, ft.init = "", nil, m.Variables
	tuned, err := Train(ctx, ft, set)
	if err != nil {
		return nil, fmt.Errorf("training: fine-tune: %w", err)
	}
	h := m.Header
	h.Training.Seconds += tuned.Header.Training.Seconds
	tuned.Header = h
	return tuned, nil
}

// KeepOutputs cuts the output layer of m's network down to the outputs
// at positions keep (ascending, distinct), and records the new code
// length in the header.
func KeepOutputs(m *modelfile.Model, keep []int) error {
	bits := m.Header.Network.Outputs
	if len(keep) == 0 {
		return errors.New("no output kept")
	}
	for i, k := range keep {
		if k < 0 || k >= bits || (i > 0 && k <= keep[i-1]) {
			return fmt.Errorf("outputs to keep %v are not ascending positions below %d", keep, bits)
		}
	}
	prefix := "/" + encoder.Scope + "/"
	cut := 0
	for i := range m.Variables {
		v := &m.Variables[i]
		if !strings.HasPrefix(v.Name, prefix) {
			continue
		}
		switch {
		case strings.HasSuffix(v.Name, "_out/weights") && len(v.Dims) == 2 && v.Dims[1] == bits:
			rows := v.Dims[0]
			vals := make([]uint64, 0, rows*len(keep))
			for r := range rows {
				for _, k := range keep {
					vals = append(vals, v.Values[r*bits+k])
				}
			}
			v.Values, v.Dims = vals, []int{rows, len(keep)}
			cut++
		case strings.HasSuffix(v.Name, "_out/biases") && len(v.Dims) == 1 && v.Dims[0] == bits:
			vals := make([]uint64, len(keep))
			for i, k := range keep {
				vals[i] = v.Values[k]
			}
			v.Values, v.Dims = vals, []int{len(keep)}
			cut++
		}
	}
	if cut != 2 {
		return fmt.Errorf("network has no single output layer of %d units to cut (found %d of its 2 variables)", bits, cut)
	}
	m.Header.Network.Outputs = len(keep)
	m.Header.Bits = len(keep)
	return nil
}

// networkOutputs runs the network in inference mode over the training
// images and returns its outputs [n, Net.Outputs].
func networkOutputs(c Config, backend compute.Backend, store *model.Store, set *dataset.Set) ([]float32, error) {
	exec, err := model.NewExec(backend, store, func(scope *model.Scope, x *Node) *Node {
		return c.Net.Build(scope.In(encoder.Scope), x)
	})
	if err != nil {
		return nil, err
	}
	n, size, dim := set.Len(), set.ImageSize(), c.Net.Outputs
	outputs := make([]float32, 0, n*dim)
	const chunk = 500
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		res, err := exec.Exec(tensors.FromFlatDataAndDimensions(set.Pixels[lo*size:hi*size], hi-lo, set.Height, set.Width, set.Channels))
		if err != nil {
			return nil, fmt.Errorf("run the network: %w", err)
		}
		out, err := tensors.CopyFlatData[float32](res[0])
		res[0].FinalizeAll()
		if err != nil {
			return nil, err
		}
		outputs = append(outputs, out...)
	}
	return outputs, nil
}

// refit runs the network in inference mode over the training images and
// hands its outputs to the method's closed-form refit of its own
// variables.
func refit(c Config, r hashing.Refitter, backend compute.Backend, store *model.Store, set *dataset.Set) error {
	outputs, err := networkOutputs(c, backend, store, set)
	if err != nil {
		return fmt.Errorf("refit: %w", err)
	}
	n := set.Len()
	prefix := "/" + methodScope + "/"
	vars := map[string][]float32{}
	dims := map[string][]int{}
	held := map[string]*model.Variable{}
	for v := range store.IterVariables() {
		if !strings.HasPrefix(v.Path(), prefix) {
			continue
		}
		t, err := v.Value()
		if err != nil {
			return err
		}
		vals, err := tensors.CopyFlatData[float32](t)
		if err != nil {
			return fmt.Errorf("refit: variable %s: %w", v.Path(), err)
		}
		name := strings.TrimPrefix(v.Path(), prefix)
		vars[name], dims[name], held[name] = vals, t.Shape().Dimensions, v
	}
	if err := r.Refit(vars, hashing.RefitData{Outputs: outputs, N: n, Labels: set.Labels, Inputs: set.Pixels, Seed: c.Seed}); err != nil {
		return err
	}
	for name, v := range held {
		if err := v.SetValue(tensors.FromFlatDataAndDimensions(vars[name], dims[name]...)); err != nil {
			return fmt.Errorf("refit: set %s: %w", name, err)
		}
	}
	return nil
}

// checkpoint saves every variable, the optimizer's included.
func checkpoint(c Config, set *dataset.Set, store *model.Store, epoch int, seconds float64) error {
	vars, err := modelfile.FromStore(store, "")
	if err != nil {
		return err
	}
	m := &modelfile.Model{Header: c.header(set, epoch, seconds), Variables: vars}
	if err := modelfile.WriteFile(c.Checkpoint, m); err != nil {
		return fmt.Errorf("training: checkpoint: %w", err)
	}
	return nil
}

// resume loads the checkpoint into store when there is one, and returns
// the epochs it completed.
func resume(c Config, set *dataset.Set, store *model.Store) (epoch int, seconds float64, err error) {
	m, err := modelfile.ReadFile(c.Checkpoint)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("training: resume: %w", err)
	}
	want := c.header(set, m.Header.Training.Epoch, m.Header.Training.Seconds)
	if !reflect.DeepEqual(m.Header, want) {
		return 0, 0, fmt.Errorf("training: checkpoint %s belongs to another run (method %s, %d bits, seed %d, %d images); remove it or pick another --checkpoint",
			c.Checkpoint, m.Header.Method, m.Header.Bits, m.Header.Training.Seed, m.Header.Training.Images)
	}
	if _, err := modelfile.ToStore(store, m.Variables); err != nil {
		return 0, 0, err
	}
	return m.Header.Training.Epoch, m.Header.Training.Seconds, nil
}

// Remove deletes a checkpoint after a finished run.
func Remove(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// stepKey is the key of a Redrawer's draws at a step of a run of seed:
// the step's index mixed with the seed by SplitMix64's finalizer, so that
// neighbouring steps draw unrelated transformations.
func stepKey(seed int64, step int) uint64 {
	z := uint64(seed)*0x9e3779b97f4a7c15 + uint64(step)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// epochOrder returns the order of the training images in epoch: a
// permutation that depends only on (seed, epoch). With perClass > 1 the
// images of each label are shuffled and cut into groups of perClass, and
// the groups are shuffled, so that consecutive images come perClass of a
// label at a time.
func epochOrder(labels []int32, perClass int, seed int64, epoch int) []int {
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(epoch)))
	perm := rng.Perm(len(labels))
	if perClass <= 1 {
		return perm
	}
	byLabel := map[int32][]int{}
	var order []int32
	for _, p := range perm {
		l := labels[p]
		if _, ok := byLabel[l]; !ok {
			order = append(order, l)
		}
		byLabel[l] = append(byLabel[l], p)
	}
	var groups [][]int
	for _, l := range order {
		members := byLabel[l]
		for lo := 0; lo < len(members); lo += perClass {
			groups = append(groups, members[lo:min(lo+perClass, len(members))])
		}
	}
	rng.Shuffle(len(groups), func(i, j int) { groups[i], groups[j] = groups[j], groups[i] })
	out := make([]int, 0, len(perm))
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

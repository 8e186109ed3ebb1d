package learned

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"time"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/optimizer"

	"github.com/lookalike/lookalike/descriptor"
	"github.com/lookalike/lookalike/pca"
)

// Set is a training set: the frozen backbone's feature maps of images in
// groups of one instance each (an original and its edited copies).
type Set struct {
	// Maps are all of one size and channel count.
	Maps []descriptor.Map
	// Groups[i] is the instance of Maps[i].
	Groups []int
	// Queries are the positions of the query images (the originals); the
	// other images of a query's group are its positives.
	Queries []int
	// Backbone names the network that made the maps; Source says where
	// the images came from. Both are recorded in the head.
	Backbone, Source string
}

// Config sets up a training run. NewConfig fills in the defaults, which
// depend on the method.
type Config struct {
	Method Method `json:"method"`
	// Dim is the descriptors' dimension. Default 512.
	Dim int `json:"dim"`
	// Mid is the SOA block's reduced channel count (SOLAR). Default C/8.
	Mid int `json:"mid,omitempty"`
	// Margin of the triplet loss: Gordo et al. 0.1, SOLAR 1.25.
	Margin float64 `json:"margin"`
	// Lambda weighs SOLAR's second-order similarity loss. Paper: 10.
	Lambda float64 `json:"lambda,omitempty"`
	// Negatives are the hard negatives of each tuple: Gordo 4, SOLAR 5.
	Negatives int `json:"negatives"`
	// Batch is the number of tuples per step: Gordo 16 (64 triplets, the
	// paper's batch), SOLAR 8 (the paper's).
	Batch int `json:"batch"`
	// Epochs: each mines new tuples with the current model. Default 3.
	Epochs int `json:"epochs"`
	// Queries per epoch, drawn from the set's queries (0: all): Gordo
	// 1000, SOLAR 500.
	Queries int `json:"queries"`
	// Pool is the number of images, drawn anew each epoch, among which the
	// hard negatives are mined (0: all): Gordo 2000, SOLAR 1000.
	Pool int `json:"pool"`
	// LearningRate of Adam. Default 1e-4.
	LearningRate float64 `json:"learning_rate"`
	// Seed fixes the initialization, the draws of queries, pool and
	// positives, and the order of the tuples.
	Seed int64 `json:"seed"`
	// Progress, when set, receives a line per epoch.
	Progress io.Writer `json:"-"`
}

// NewConfig returns the defaults for method m. A SOLAR step costs about
// six times a Gordo step (the attention block runs on all 49 positions of
// a map where Gordo projects 15 regions), hence its fewer queries.
func NewConfig(m Method) Config {
	c := Config{Method: m, Dim: 512, Epochs: 3, LearningRate: 1e-4}
	switch m {
	case Gordo:
		c.Margin, c.Negatives, c.Batch, c.Queries, c.Pool = 0.1, 4, 16, 1000, 2000
	case SOLAR:
		c.Margin, c.Lambda, c.Negatives, c.Batch, c.Queries, c.Pool = 1.25, 10, 5, 8, 500, 1000
	}
	return c
}

// pcaSamples caps the vectors the PCA initialization learns from.
const pcaSamples = 6000

// evalTuples caps the tuples on which the loss before and after training
// is measured.
const evalTuples = 256

// ErrDiverged is returned when the loss stops being a finite number.
var ErrDiverged = errors.New("learned: loss diverged (NaN or Inf)")

func (c *Config) validate(set *Set) error {
	if _, err := ParseMethod(string(c.Method)); err != nil {
		return err
	}
	switch {
	case len(set.Maps) == 0 || len(set.Groups) != len(set.Maps):
		return fmt.Errorf("learned: %d maps and %d group labels", len(set.Maps), len(set.Groups))
	case len(set.Queries) == 0:
		return errors.New("learned: no queries")
	case c.Dim < 1 || c.Dim > set.Maps[0].C:
		return fmt.Errorf("learned: dimension %d outside 1..%d (the maps' channels)", c.Dim, set.Maps[0].C)
	case c.Negatives < 1 || c.Batch < 1 || c.Epochs < 1:
		return fmt.Errorf("learned: negatives %d, batch %d and epochs %d must be positive", c.Negatives, c.Batch, c.Epochs)
	case c.Margin < 0 || c.Lambda < 0:
		return fmt.Errorf("learned: margin %v and lambda %v must not be negative", c.Margin, c.Lambda)
	case !(c.LearningRate > 0) || math.IsInf(c.LearningRate, 0):
		return fmt.Errorf("learned: learning rate %v must be positive", c.LearningRate)
	case c.Method == SOLAR && (c.Mid < 0 || c.Mid > set.Maps[0].C):
		return fmt.Errorf("learned: SOA channels %d outside 1..%d", c.Mid, set.Maps[0].C)
	}
	m0 := set.Maps[0]
	for i, m := range set.Maps {
		if m.C != m0.C || m.H != m0.H || m.W != m0.W {
			return fmt.Errorf("learned: map %d is %dx%dx%d, map 0 %dx%dx%d", i, m.C, m.H, m.W, m0.C, m0.H, m0.W)
		}
	}
	groups := map[int]bool{}
	for _, g := range set.Groups {
		groups[g] = true
	}
	if len(groups) <= c.Negatives {
		return fmt.Errorf("learned: %d groups, need more than the %d negatives of a tuple", len(groups), c.Negatives)
	}
	for _, q := range set.Queries {
		if q < 0 || q >= len(set.Maps) {
			return fmt.Errorf("learned: query %d outside the %d maps", q, len(set.Maps))
		}
	}
	return nil
}

// trainer holds what a run shares.
type trainer struct {
	c       Config
	set     *Set
	sp      spec
	rows    int // rows per image
	chans   int
	store   *model.Store
	exec    *model.Exec // descriptors
	lossRun *model.Exec // loss of tuples, no update
	step    *train.Trainer
}

// Train trains a head of c.Method on set. Cancelling ctx stops it after
// the current step.
func Train(ctx context.Context, c Config, set *Set) (*Head, error) {
	if c.Method == SOLAR && c.Mid == 0 && len(set.Maps) > 0 {
		c.Mid = max(set.Maps[0].C/8, 1)
	}
	if err := c.validate(set); err != nil {
		return nil, err
	}
	start := time.Now()
	rng := rand.New(rand.NewPCG(uint64(c.Seed), 0x6c6561726e6564))
	t, vars, err := newTrainer(c, set, rng)
	if err != nil {
		return nil, err
	}
	var eval []Tuple
	var before float64
	for epoch := 0; epoch < c.Epochs; epoch++ {
		epochStart := time.Now()
		ts, err := t.mine(ctx, rng)
		if err != nil {
			return nil, err
		}
		if epoch == 0 {
			// The loss before and after training is measured on the
			// tuples the initial model mines.
			eval = ts[:min(len(ts), evalTuples)]
			if before, err = t.meanLoss(eval); err != nil {
				return nil, err
			}
		}
		mean, steps, err := t.epoch(ctx, ts, rng)
		if err != nil {
			return nil, fmt.Errorf("learned: epoch %d: %w", epoch+1, err)
		}
		if c.Progress != nil {
			fmt.Fprintf(c.Progress, "%s: epoch %d/%d: %d tuples, %d steps, mean loss %.4f, %.1f s\n",
				c.Method, epoch+1, c.Epochs, len(ts), steps, mean, time.Since(epochStart).Seconds())
		}
	}
	after, err := t.meanLoss(eval)
	if err != nil {
		return nil, err
	}
	trained, err := varsFromStore(t.store, vars)
	if err != nil {
		return nil, err
	}
	groups := map[int]bool{}
	for _, g := range set.Groups {
		groups[g] = true
	}
	c.Progress = nil
	return &Head{
		Method: c.Method, Backbone: set.Backbone, Channels: t.chans, Dim: c.Dim, Vars: trained,
		Training: Info{Images: len(set.Maps), Groups: len(groups), Source: set.Source, Config: c,
			Before: before, After: after, Seconds: time.Since(start).Seconds()},
	}, nil
}

// newTrainer initializes the head's variables and the executors.
func newTrainer(c Config, set *Set, rng *rand.Rand) (*trainer, []Var, error) {
	m0 := set.Maps[0]
	t := &trainer{c: c, set: set, sp: specOf(c.Method), chans: m0.C, rows: specOf(c.Method).rowCount(m0.H, m0.W)}
	var vars []Var
	var err error
	switch c.Method {
	case Gordo:
		vars, err = gordoInit(c, set)
	case SOLAR:
		vars, err = solarInit(c, set, rng)
	}
	if err != nil {
		return nil, nil, err
	}
	if t.store, err = newStore(vars); err != nil {
		return nil, nil, err
	}
	return t, vars, t.build()
}

// mine draws the epoch's queries and pool, describes them with the
// current weights and returns the epoch's tuples.
func (t *trainer) mine(ctx context.Context, rng *rand.Rand) ([]Tuple, error) {
	all := make([]int, len(t.set.Maps))
	for i := range all {
		all[i] = i
	}
	queries := sample(t.set.Queries, t.c.Queries, rng)
	pool := sample(all, t.c.Pool, rng)
	qDesc, err := t.describe(ctx, queries)
	if err != nil {
		return nil, err
	}
	pDesc, err := t.describe(ctx, pool)
	if err != nil {
		return nil, err
	}
	ts := tuples(t.set, queries, pool, qDesc, pDesc, t.c.Dim, t.c.Negatives, rng)
	if len(ts) == 0 {
		return nil, errors.New("learned: no training tuples (each query needs a positive and enough negatives)")
	}
	return ts, nil
}

// epoch takes a step per Config.Batch tuples of ts, in a random order
// (the last incomplete batch is left out unless it is the only one), and
// returns the mean loss of the steps.
func (t *trainer) epoch(ctx context.Context, ts []Tuple, rng *rand.Rand) (mean float64, steps int, err error) {
	rng.Shuffle(len(ts), func(i, j int) { ts[i], ts[j] = ts[j], ts[i] })
	steps = max(len(ts)/t.c.Batch, 1)
	var sum float64
	for s := 0; s < steps; s++ {
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
		loss, err := t.trainStep(ts[s*t.c.Batch : min((s+1)*t.c.Batch, len(ts))])
		if err != nil {
			return 0, 0, fmt.Errorf("step %d: %w", s+1, err)
		}
		sum += loss
	}
	return sum / float64(steps), steps, nil
}

// build makes the executors over t.store.
func (t *trainer) build() error {
	store := t.store
	b, err := backend()
	if err != nil {
		return err
	}
	if t.exec, err = model.NewExec(b, store, t.sp.describe); err != nil {
		return fmt.Errorf("learned: %w", err)
	}
	t.exec.SetMaxCache(-1)
	if t.lossRun, err = model.NewExec(b, store, func(scope *model.Scope, x *Node) *Node {
		return t.loss(t.sp.describe(scope, x))
	}); err != nil {
		return fmt.Errorf("learned: %w", err)
	}
	t.lossRun.SetMaxCache(-1)
	opt := optimizer.Adam().LearningRate(t.c.LearningRate).Done()
	t.step = train.NewTrainer(b, store, t.sp.describe, func(_, predictions []*Node) *Node {
		return t.loss(predictions[0])
	}, opt, nil, nil)
	return nil
}

// loss is the method's loss of descriptors [tuples * (2+N), dim], tuple
// by tuple.
func (t *trainer) loss(desc *Node) *Node {
	s := 2 + t.c.Negatives
	d := desc.Shape().Dimensions
	tuples := Reshape(desc, d[0]/s, s, d[1])
	if t.c.Method == SOLAR {
		return SOLARLoss(tuples, t.c.Margin, t.c.Lambda)
	}
	return GordoLoss(tuples, t.c.Margin)
}

// input returns the network input of images: [len(images), rows, C].
func (t *trainer) input(images []int) []float32 {
	x := make([]float32, 0, len(images)*t.rows*t.chans)
	for _, i := range images {
		x = t.sp.rows(t.set.Maps[i], x)
	}
	return x
}

// tupleImages lists the images of ts, tuple by tuple.
func tupleImages(ts []Tuple) []int {
	var out []int
	for _, tu := range ts {
		out = append(out, tu.Query, tu.Positive)
		out = append(out, tu.Negatives...)
	}
	return out
}

// describe returns the current descriptors of images, one after the
// other.
func (t *trainer) describe(ctx context.Context, images []int) ([]float32, error) {
	const chunk = 64
	out := make([]float32, 0, len(images)*t.c.Dim)
	for lo := 0; lo < len(images); lo += chunk {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		part := images[lo:min(lo+chunk, len(images))]
		vecs, err := runExec(t.exec, t.input(part), len(part), t.rows, t.chans, t.c.Dim)
		if err != nil {
			return nil, err
		}
		for _, v := range vecs {
			out = append(out, v...)
		}
	}
	return out, nil
}

// meanLoss is the loss of ts under the current weights, averaged over
// batches of Config.Batch tuples weighted by their size.
func (t *trainer) meanLoss(ts []Tuple) (float64, error) {
	var sum float64
	for lo := 0; lo < len(ts); lo += t.c.Batch {
		part := ts[lo:min(lo+t.c.Batch, len(ts))]
		images := tupleImages(part)
		res, err := t.lossRun.Exec(tensors.FromFlatDataAndDimensions(t.input(images), len(images), t.rows, t.chans))
		if err != nil {
			return 0, fmt.Errorf("learned: loss: %w", err)
		}
		v, err := scalar(res[0])
		if err != nil {
			return 0, err
		}
		sum += v * float64(len(part))
	}
	return sum / float64(len(ts)), nil
}

// trainStep takes one optimizer step on ts and returns its loss.
func (t *trainer) trainStep(ts []Tuple) (float64, error) {
	images := tupleImages(ts)
	x := tensors.FromFlatDataAndDimensions(t.input(images), len(images), t.rows, t.chans)
	// The loss reads no labels; the trainer wants a tensor all the same.
	metrics, err := t.step.TrainStep(train.Batch{
		Inputs: []*tensors.Tensor{x}, Labels: []*tensors.Tensor{tensors.FromScalar(float32(0))}})
	if err != nil {
		return 0, err
	}
	v, err := scalar(metrics[0])
	for _, m := range metrics[1:] {
		m.FinalizeAll()
	}
	if err != nil {
		return 0, err
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, ErrDiverged
	}
	return v, nil
}

func scalar(t *tensors.Tensor) (float64, error) {
	v, err := tensors.CopyFlatData[float32](t)
	t.FinalizeAll()
	if err != nil || len(v) != 1 {
		return 0, fmt.Errorf("learned: reading a scalar: %v", err)
	}
	return float64(v[0]), nil
}

// sample returns k of items drawn without replacement (all of them, in a
// random order, when k is 0 or not smaller).
func sample(items []int, k int, rng *rand.Rand) []int {
	perm := rng.Perm(len(items))
	if k <= 0 || k > len(items) {
		k = len(items)
	}
	out := make([]int, k)
	for i := range out {
		out[i] = items[perm[i]]
	}
	return out
}

// whitening learns PCA whitening to dim dimensions from the vectors of x
// (each L2-normalized first), as descriptor.FitWhitening does but with
// the leading directions by subspace iteration (pca.Leading): the full
// eigendecomposition of a 1792 x 1792 covariance takes about a minute
// here.
func whitening(x []float32, c, dim int, seed int64) (*descriptor.Whitening, error) {
	n := len(x) / c
	if n <= dim {
		return nil, fmt.Errorf("learned: PCA initialization to %d dimensions needs more than %d vectors, got %d (more training images or a smaller Config.Dim)", dim, dim, n)
	}
	for i := 0; i+c <= len(x); i += c {
		descriptor.Normalize(x[i : i+c])
	}
	mean, centred := pca.Centre(x, n, c)
	dirs, variances, err := pca.Leading(centred, dim, uint64(seed))
	if err != nil {
		return nil, fmt.Errorf("learned: PCA initialization: %w", err)
	}
	w := &descriptor.Whitening{Dim: c, Out: dim, Mean: mean, Proj: make([]float32, dim*c)}
	for k := 0; k < dim; k++ {
		// The floor of descriptor.FitWhitening for directions of no variance.
		s := 1 / math.Sqrt(math.Max(variances[k], 1e-12))
		for i := 0; i < c; i++ {
			w.Proj[k*c+i] = float32(dirs.At(i, k) * s)
		}
	}
	return w, nil
}

// transposed returns w's projection as [C, Out].
func transposed(w *descriptor.Whitening) []float32 {
	out := make([]float32, w.Dim*w.Out)
	for k := 0; k < w.Out; k++ {
		for c := 0; c < w.Dim; c++ {
			out[c*w.Out+k] = w.Proj[k*w.Dim+c]
		}
	}
	return out
}

// gordoInit starts the shift and projection as the PCA whitening of the
// normalized region MACs of (a sample of) the training images.
func gordoInit(c Config, set *Set) ([]Var, error) {
	m0 := set.Maps[0]
	rows := gordoRows(m0.H, m0.W)
	images := min(len(set.Maps), max(pcaSamples/rows, 1))
	// An even spread over the set, deterministic.
	var x []float32
	for k := 0; k < images; k++ {
		x = gordoRegions(set.Maps[k*len(set.Maps)/images], x)
	}
	w, err := whitening(x, m0.C, c.Dim, c.Seed)
	if err != nil {
		return nil, err
	}
	shift := make([]float32, m0.C)
	for i, v := range w.Mean {
		shift[i] = -v
	}
	return []Var{
		{gordoShift, []int{m0.C}, shift},
		{gordoProjection, []int{m0.C, c.Dim}, transposed(w)},
	}, nil
}

// solarInit starts the SOA block as the identity (W_v = 0) with
// Kaiming-normal W_f, W_g, W_h, and the whitening as the PCA
// whitening of the GeM descriptors of (a sample of) the training images.
func solarInit(c Config, set *Set, rng *rand.Rand) ([]Var, error) {
	ch := set.Maps[0].C
	images := min(len(set.Maps), pcaSamples)
	var x []float32
	for k := 0; k < images; k++ {
		x = append(x, descriptor.Pool(descriptor.GeM, set.Maps[k*len(set.Maps)/images])...)
	}
	w, err := whitening(x, ch, c.Dim, c.Seed)
	if err != nil {
		return nil, err
	}
	bias := make([]float32, c.Dim)
	for k := range bias {
		var s float32
		for i, m := range w.Mean {
			s += w.Proj[k*ch+i] * m
		}
		bias[k] = -s
	}
	kaiming := func() []float32 {
		// PyTorch's kaiming_normal_ of a 1x1 convolution: std sqrt(2 / C).
		out := make([]float32, ch*c.Mid)
		std := math.Sqrt(2 / float64(ch))
		for i := range out {
			out[i] = float32(rng.NormFloat64() * std)
		}
		return out
	}
	return []Var{
		{solarF, []int{ch, c.Mid}, kaiming()},
		{solarFBias, []int{c.Mid}, make([]float32, c.Mid)},
		{solarG, []int{ch, c.Mid}, kaiming()},
		{solarGBias, []int{c.Mid}, make([]float32, c.Mid)},
		{solarH, []int{ch, c.Mid}, kaiming()},
		{solarHBias, []int{c.Mid}, make([]float32, c.Mid)},
		{solarV, []int{c.Mid, ch}, make([]float32, c.Mid*ch)},
		{solarVBias, []int{ch}, make([]float32, ch)},
		{solarWhiten, []int{ch, c.Dim}, transposed(w)},
		{solarWhitenBias, []int{c.Dim}, bias},
	}, nil
}

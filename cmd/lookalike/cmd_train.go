package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/lookalike/lookalike/codes"
	"github.com/lookalike/lookalike/dataset"
	"github.com/lookalike/lookalike/encoder"
	"github.com/lookalike/lookalike/generative"
	"github.com/lookalike/lookalike/hashing"
	"github.com/lookalike/lookalike/modelfile"
	"github.com/lookalike/lookalike/training"
)

type trainOptions struct {
	dataOptions
	Method       string
	Bits         int
	Out          string
	Epochs       int
	BatchSize    int
	Optimizer    string
	LearningRate float64
	Schedule     string
	Seed         int64
	Checkpoint   string
	Filters      intList
	Hidden       intList
	Quiet        bool
	Labelled     int
	// LabelEmbeddings is a file of label embeddings for a method that
	// takes them (hashing.LabelEmbedder).
	LabelEmbeddings string
	// trace, when set, records the run's scalars and generated images
	// (generative methods), for the pictures written next to the model.
	trace *training.Trace
}

func (o *trainOptions) AddFlags(fs *flag.FlagSet) {
	o.dataOptions.AddFlags(fs, "training images")
	fs.StringVar(&o.Method, "method", "dsh", "hashing method (see 'lookalike methods')")
	fs.IntVar(&o.Bits, "bits", 48, fmt.Sprintf("code length in bits, 1..%d", codes.MaxBits))
	fs.StringVar(&o.Out, "out", "model.lkm", "model file to write")
	fs.IntVar(&o.Epochs, "epochs", 0, "passes over the training images (default: enough to see about 150,000 images, at most 30: 30 on fmnist-1k, 2 on fmnist-full)")
	fs.IntVar(&o.BatchSize, "batch", 128, "images per training step")
	fs.StringVar(&o.Optimizer, "optimizer", "", "adam, or sgd (with momentum 0.9) (default the method's: "+methodOptimizers()+")")
	fs.Float64Var(&o.LearningRate, "lr", 0, "learning rate (default the optimizer's: adam 1e-3, sgd 0.01)")
	fs.StringVar(&o.Schedule, "lr-schedule", "cosine", "learning-rate schedule: cosine (annealed to 0 over the run) or constant")
	fs.Int64Var(&o.Seed, "seed", 0, "seed of weight initialization and shuffling (same seed, same codes)")
	fs.StringVar(&o.Checkpoint, "checkpoint", "", "checkpoint file, rewritten every epoch and resumed from if present (default OUT.ckpt)")
	o.Filters = intList{32, 64}
	o.Hidden = intList{512}
	fs.Var(&o.Filters, "filters", "filters of each conv-bn-relu-pool block, comma-separated")
	fs.Var(&o.Hidden, "hidden", "widths of the fully connected ReLU layers, comma-separated")
	fs.BoolVar(&o.Quiet, "quiet", false, "no progress line")
	fs.StringVar(&o.LabelEmbeddings, "label-embeddings", "", "text file of label embeddings, one line of numbers per class in class order, for dvsq (a leading word, as in word2vec's text format, is skipped); default: a regular simplex, every two classes equally far apart")
	fs.IntVar(&o.Labelled, "labelled", 0, "train on only this many of the training images, the first N/classes of each class (scarce labels); 0 for all")
}

func init() {
	register(&command{
		Name:  "train",
		Usage: "train [--method dsh] [--bits 48] [--protocol fmnist-1k | --images DIR] [--out MODEL] [flags]",
		Short: "Train a hashing model",
		Long: `
Train trains a deep hashing method on the training images of a protocol (or
on a folder with one sub-folder per class) and writes a model file that
records the method, code length, architecture and preprocessing, so that
encoding needs nothing else.

A checkpoint is written after every epoch; rerunning the same command after
a kill resumes from it. It is removed when training finishes.

Example:

	lookalike train --method dsh --bits 48 --protocol fmnist-1k --out dsh48.lkm`,
		Flags: func(fs *flag.FlagSet) runFunc {
			var o trainOptions
			o.AddFlags(fs)
			return func(ctx context.Context, args []string, out, errw io.Writer) error {
				return runTrain(ctx, o, args, out, errw)
			}
		},
	})
}

func runTrain(ctx context.Context, o trainOptions, args []string, _, errw io.Writer) error {
	if len(args) > 0 {
		return badInput("unexpected arguments %q", args)
	}
	if err := training.CheckOptimizer(o.Optimizer); err != nil {
		return badInput("--optimizer: %v", err)
	}
	set, unlabelled, protocol, err := o.trainingSet(errw)
	if err != nil {
		return err
	}
	if o.Labelled != 0 {
		if set, err = firstPerClass(set, o.Labelled); err != nil {
			return inputError{err}
		}
		protocol = fmt.Sprintf("%s/labelled-%d", protocol, set.Len())
	}
	checkpoint := o.Checkpoint
	if checkpoint == "" {
		checkpoint = o.Out + ".ckpt"
	}
	if m, err := hashing.Lookup(o.Method); err == nil {
		if _, ok := m.(hashing.Generative); ok {
			o.trace = &training.Trace{}
		}
	}
	model, err := fit(ctx, o, set, unlabelled, protocol, checkpoint, errw)
	if err != nil {
		return err
	}
	if err := modelfile.WriteFile(o.Out, model); err != nil {
		return err
	}
	if o.trace != nil {
		if err := writePictures(o.Out, o.Method, o.trace, errw); err != nil {
			return err
		}
	}
	if checkpoint != "" {
		if err := training.Remove(checkpoint); err != nil {
			return err
		}
	}
	if model.Header.Bits != o.Bits {
		// A pruning method (DRDH) chose the code length.
		fmt.Fprintf(errw, "%s kept %d of the %d bits\n", o.Method, model.Header.Bits, o.Bits)
	}
	fmt.Fprintf(errw, "wrote %s (%.1f s of training)\n", o.Out, model.Header.Training.Seconds)
	return nil
}

// trainingSet loads the training images: a protocol's train split (and
// its unlabelled images, when it has some), or a folder read at the
// reference network's input size.
func (o *trainOptions) trainingSet(errw io.Writer) (train, unlabelled *dataset.Set, protocol string, err error) {
	if o.Images != "" {
		ref := encoder.Reference(1)
		pre := modelfile.Preprocess{Height: ref.Height, Width: ref.Width, Channels: ref.Channels}
		f, err := o.folder(pre, func(s string) { fmt.Fprintln(errw, s) })
		if err != nil {
			return nil, nil, "", err
		}
		return f.Set, nil, "folder:" + o.Images, nil
	}
	split, err := o.split()
	if err != nil {
		return nil, nil, "", err
	}
	return split.Train, split.Unlabelled, split.Protocol, nil
}

// fit trains o.Method at o.Bits on set and returns the model. Deep methods
// checkpoint to checkpoint ("" for none); semi-supervised ones also draw
// from unlabelled (nil for none).
func fit(ctx context.Context, o trainOptions, set, unlabelled *dataset.Set, protocol, checkpoint string, errw io.Writer) (*modelfile.Model, error) {
	if err := codes.CheckBits(o.Bits); err != nil {
		return nil, inputError{err}
	}
	m, err := hashing.Lookup(o.Method)
	if err != nil {
		return nil, inputError{err}
	}
	if o.LabelEmbeddings != "" {
		if m, err = withLabelEmbeddings(m, o.LabelEmbeddings, set); err != nil {
			return nil, err
		}
	}
	switch m := m.(type) {
	case hashing.Shallow:
		return fitShallow(o, m, set, protocol, errw)
	case hashing.Deep:
		c := training.NewConfig(m, o.Bits)
		c.Epochs, c.BatchSize, c.Schedule, c.Seed = o.Epochs, o.BatchSize, o.Schedule, o.Seed
		c.Optimizer, c.LearningRate = chooseOptimizer(c.Optimizer, c.LearningRate, o.Optimizer, o.LearningRate)
		if c.Epochs == 0 {
			c.Epochs = methodEpochs(m, set.Len())
		}
		// The flags describe the reference network; a method that changes
		// it (hashing.Architect) changes the network they describe.
		c.Net = encoder.Reference(o.Bits)
		c.Net.Filters, c.Net.Hidden = o.Filters, o.Hidden
		if a, ok := m.(hashing.Architect); ok {
			c.Net = a.Network(c.Net)
		}
		c.Net.Height, c.Net.Width, c.Net.Channels = set.Height, set.Width, set.Channels
		c.Protocol, c.Checkpoint, c.Unlabelled, c.Trace = protocol, checkpoint, unlabelled, o.trace
		if !o.Quiet {
			c.Progress = errw
		}
		if err := c.Net.Validate(); err != nil {
			return nil, inputError{err}
		}
		also := ""
		if semi, ok := m.(hashing.SemiSupervised); ok && unlabelled != nil {
			also = fmt.Sprintf(" plus %d unlabelled images (%d a batch)", unlabelled.Len(), semi.UnlabelledPerBatch(c.BatchSize))
		}
		fmt.Fprintf(errw, "training %s, %d bits, on %d images of %s%s: %s, %d epochs, batch %d, %s lr %g (%s), seed %d\n",
			o.Method, o.Bits, set.Len(), protocol, also, c.Net, c.Epochs, c.BatchSize, cmp.Or(c.Optimizer, training.Adam), c.LearningRate, o.Schedule, c.Seed)
		return training.Train(ctx, c, set)
	}
	return nil, badInput("method %s cannot be trained from the command line", o.Method)
}

// methodOptimizers says which optimizer the methods train with by
// default: Adam, except those that name another (hashing.Optimized).
func methodOptimizers() string {
	byOptimizer := map[string][]string{}
	var names []string
	for _, m := range hashing.All() {
		if o, ok := m.(hashing.Optimized); ok {
			name, _ := o.Optimizer()
			if byOptimizer[name] == nil {
				names = append(names, name)
			}
			byOptimizer[name] = append(byOptimizer[name], m.Info().Name)
		}
	}
	s := "adam"
	for _, name := range names {
		s += fmt.Sprintf(", %s for %s", name, strings.Join(byOptimizer[name], " and "))
	}
	return s
}

// chooseOptimizer returns the optimizer and learning rate of a run: the
// method's (method, rate: training.NewConfig's) unless flags name others;
// a named optimizer other than the method's starts from its own default
// rate.
func chooseOptimizer(method string, rate float64, flag string, flagRate float64) (string, float64) {
	method = cmp.Or(method, training.Adam)
	if flag != "" && flag != method {
		method, rate = flag, training.DefaultLearningRate(flag)
	}
	if flagRate != 0 {
		rate = flagRate
	}
	return method, rate
}

// withLabelEmbeddings returns m with the label embeddings of the file at
// path, which must hold one per class of set.
func withLabelEmbeddings(m hashing.Method, path string, set *dataset.Set) (hashing.Method, error) {
	le, ok := m.(hashing.LabelEmbedder)
	if !ok {
		return nil, badInput("--label-embeddings: %s takes no label embeddings", m.Info().Name)
	}
	rows, err := readLabelEmbeddings(path)
	if err != nil {
		return nil, inputError{err}
	}
	classes := 0
	for _, l := range set.Labels {
		classes = max(classes, int(l)+1)
	}
	if len(rows) != classes {
		return nil, badInput("--label-embeddings %s: %d rows for the %d classes of the training images", path, len(rows), classes)
	}
	d, err := le.WithLabelEmbeddings(rows)
	if err != nil {
		return nil, inputError{fmt.Errorf("--label-embeddings %s: %w", path, err)}
	}
	return d, nil
}

// readLabelEmbeddings reads one embedding a non-empty line, its numbers
// separated by spaces, tabs or commas; a first field that is not a
// number (a word, as in word2vec's text format) is skipped.
func readLabelEmbeddings(path string) ([][]float32, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read label embeddings: %w", err)
	}
	var rows [][]float32
	for i, line := range strings.Split(string(data), "\n") {
		fields := strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '\t' || r == ',' || r == '\r' })
		if len(fields) == 0 {
			continue
		}
		if _, err := strconv.ParseFloat(fields[0], 32); err != nil {
			fields = fields[1:]
		}
		row := make([]float32, len(fields))
		for j, f := range fields {
			v, err := strconv.ParseFloat(f, 32)
			if err != nil {
				return nil, fmt.Errorf("%s line %d: %q is not a number", path, i+1, f)
			}
			row[j] = float32(v)
		}
		if len(row) == 0 {
			return nil, fmt.Errorf("%s line %d: a word and no numbers", path, i+1)
		}
		if len(rows) > 0 && len(row) != len(rows[0]) {
			return nil, fmt.Errorf("%s line %d: %d numbers, the first row %d", path, i+1, len(row), len(rows[0]))
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: no label embeddings", path)
	}
	return rows, nil
}

// firstPerClass keeps the first n/classes images of each class of set, in
// file order, for training with scarce labels (--labelled): 500 of
// fmnist-1k's 5,000 training images are its first 50 of each class.
func firstPerClass(set *dataset.Set, n int) (*dataset.Set, error) {
	classes := map[int32]bool{}
	for _, l := range set.Labels {
		classes[l] = true
	}
	if n < len(classes) || n > set.Len() {
		return nil, fmt.Errorf("--labelled %d: need from one image per class (%d classes) to all %d training images", n, len(classes), set.Len())
	}
	sub, err := set.Subset(dataset.FirstPerClass(set.Labels, n/len(classes)))
	if err != nil {
		return nil, fmt.Errorf("--labelled %d: %w", n, err)
	}
	return sub, nil
}

// writePictures writes what a generative method's run traced next to its
// model file: MODEL.samples.png, training images above what the generator
// makes of them, and MODEL.losses.png, the curves of the loss and of
// what the method reported at each step.
func writePictures(model, method string, t *training.Trace, errw io.Writer) error {
	if t.Samples > 0 {
		path := model + ".samples.png"
		if err := generative.WriteGrid(path, t.Real, t.Generated, t.Samples, t.Height, t.Width, t.Channels); err != nil {
			return fmt.Errorf("write samples: %w", err)
		}
		fmt.Fprintf(errw, "wrote %s\n", path)
	}
	if len(t.Steps) > 0 {
		path := model + ".losses.png"
		if err := generative.WriteCurves(path, method+" training losses", t.Names, t.Steps); err != nil {
			return fmt.Errorf("write loss curves: %w", err)
		}
		fmt.Fprintf(errw, "wrote %s\n", path)
	}
	return nil
}

// defaultEpochs is the number of epochs over n training images when none
// is asked for. The reference's 30 epochs of fmnist-1k's 5,000 images are
// about 150,000 images seen; a larger set reaches the same step count in
// fewer epochs, which keeps the main job on fmnist-full's 60,000 images
// (2 epochs) within minutes on 2 cores.
func defaultEpochs(n int) int {
	return epochsFor(150_000, n)
}

// methodEpochs is defaultEpochs, or the epochs of the images the method
// asks to see (hashing.Budgeted).
func methodEpochs(m hashing.Method, n int) int {
	if b, ok := m.(hashing.Budgeted); ok {
		return epochsFor(b.ImagesSeen(), n)
	}
	return defaultEpochs(n)
}

// epochsFor is the number of epochs over n images that sees about seen
// images, at least 1 and at most 30.
func epochsFor(seen, n int) int {
	const most = 30
	if n <= 0 {
		return most
	}
	return max(1, min(most, seen/n))
}

// fitShallow fits a shallow method on the pixels of the training images.
func fitShallow(o trainOptions, m hashing.Shallow, set *dataset.Set, protocol string, errw io.Writer) (*modelfile.Model, error) {
	fmt.Fprintf(errw, "fitting %s, %d bits, on the pixels of %d images of %s, seed %d\n", o.Method, o.Bits, set.Len(), protocol, o.Seed)
	start := time.Now()
	var labels []int32
	if m.Info().Supervised {
		labels = set.Labels
	}
	enc, err := m.Fit(set.Pixels, set.ImageSize(), labels, o.Bits, o.Seed)
	if err != nil {
		return nil, inputError{err}
	}
	kind, vars, err := modelfile.ShallowVariables(enc)
	if err != nil {
		return nil, err
	}
	return &modelfile.Model{
		Header: modelfile.Header{
			Method: o.Method, Bits: o.Bits, Kind: kind,
			Preprocess: modelfile.Preprocess{Height: set.Height, Width: set.Width, Channels: set.Channels, Scale: 1.0 / 255},
			Training:   modelfile.Training{Protocol: protocol, Images: set.Len(), Seed: o.Seed, Seconds: time.Since(start).Seconds()},
		},
		Variables: vars,
	}, nil
}

// Package hashing holds the hashing methods and the registry through which
// the CLI, the benchmarks and the server find them.
//
// # Methods
//
// Every method implements Method. A method that trains the encoder network
// end to end with a loss on its real-valued outputs also implements Deep;
// the training package then runs it. Each method lives in its own file,
// cites its paper in its doc comment, and registers itself in init.
package hashing

import (
	"fmt"
	"sort"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/lookalike/lookalike/encoder"
)

// Info describes a method for listings and model files.
type Info struct {
	// Name is the registry key, stored in model files ("dsh").
	Name string `json:"name"`
	// Title is the method's full name.
	Title string `json:"title"`
	// Paper is the citation of the method's paper.
	Paper string `json:"paper"`
	// Supervised reports whether training uses labels.
	Supervised bool `json:"supervised"`
}

// Method is a hashing method.
type Method interface {
	Info() Info
}

// Deep is a method that trains the encoder network end to end on
// mini-batches, with codes taken as the sign of the network's outputs.
type Deep interface {
	Method
	// Loss returns the scalar loss of one mini-batch.
	Loss(b Batch) *Node
}

// Budgeted is a deep method that trains best on a number of images seen
// other than the trainer's default (about 150,000: 30 epochs of
// fmnist-1k): the command line's default epochs give it that many.
type Budgeted interface {
	Deep
	// ImagesSeen is the number of training images (epochs times the
	// training set) a run should see by default.
	ImagesSeen() int
}

// Optimized is a deep method that trains by default with another
// optimizer than the trainer's Adam, as its authors train it: DVSQ and
// DHN with SGD and momentum.
type Optimized interface {
	Deep
	// Optimizer returns the optimizer's name ("sgd" or "adam") and its
	// learning rate.
	Optimizer() (name string, rate float64)
}

// Architect is a deep method that changes the network it trains, as
// FusionNet fuses the outputs of several convolutional blocks.
type Architect interface {
	// Network returns the method's network built on base, the reference
	// network sized for the data and code length.
	Network(base encoder.CNN) encoder.CNN
}

// Batch is what a deep method's loss sees of one training step.
type Batch struct {
	// U holds the network's real-valued outputs [batch, bits].
	U *Node
	// Labels holds the class labels [batch] (int32).
	Labels *Node
	// Step is the number of steps taken before this one, a scalar of U's
	// dtype, and Steps the length of the whole run: schedules that change
	// the loss during training (HashNet's continuation) read them. A nil
	// Step means the first step.
	Step  *Node
	Steps int
	// Scope holds variables of the method's own, outside the network
	// (DVSQ's codebooks); their gradients come from automatic
	// differentiation of the loss.
	Scope *model.Scope
	// Bits is the code length, which may differ from U's width (DVSQ's
	// codes index codewords), and Classes the number of classes in the
	// training labels.
	Bits, Classes int
	// Labelled is the number of leading rows of U whose images carry
	// labels, the rest being unlabelled (semi-supervised methods); 0 means
	// all.
	Labelled int
	// Images holds the batch's input images [rows, height, width,
	// channels], scaled to [0, 1], for losses that compare the images
	// themselves (reconstruction, generative models). Nil when the caller
	// has none.
	Images *Node
	// TrainingImages is the number of images in the training set (0 when
	// the caller does not say), for methods that keep per-image state.
	TrainingImages int
	// Index holds each row's position in the training set [rows] (int32),
	// for methods that keep per-image state such as target codes (SADH);
	// unlabelled extra images are Unlabelled. Nil when the caller has none.
	Index *Node
	// Views is the number of views of each image in the batch (1 when the
	// method is not an Augmenter): the rows are Views blocks of equal
	// size, the first holding the images as drawn and block v their
	// Augment(v) copies, in the same order.
	Views int
	// Features holds the activations [rows, width] that the network's
	// output layer read (U = Features W + b), held constant, for losses
	// that look at where the network's next step moves U (GAH). Nil when
	// the caller has none.
	Features *Node
	// Monitor holds the scalars the loss reports with Report, for the
	// trainer's progress line, loss curves and collapse checks. Nil when
	// the caller watches nothing.
	Monitor *model.Scope
}

// Names under which adversarial methods Report their discriminator, which
// the trainer watches for a collapsed game.
const (
	// ReportDiscriminatorLoss is the discriminator's (or critic's) loss.
	ReportDiscriminatorLoss = "d_loss"
	// ReportDiscriminatorReal and ReportDiscriminatorFake are the mean
	// probabilities in (0, 1) the discriminator gives the real and the
	// generated images.
	ReportDiscriminatorReal = "d_real"
	ReportDiscriminatorFake = "d_fake"
)

// Report records the mean of x under name as a scalar of the step, shown
// on the progress line and in the loss curves; it adds nothing to the
// gradient. Without a Monitor it does nothing.
func (b Batch) Report(name string, x *Node) {
	if b.Monitor == nil {
		return
	}
	v := StopGradient(ConvertDType(ReduceAllMean(x), dtypes.Float32))
	b.Monitor.VariableWithValue(name, float32(0)).SetTrainable(false).SetNodeValue(v)
}

// Generative is a deep method that trains an image generator next to the
// hashing network (the adversarial methods): the trainer draws a grid of
// its images at the end of training.
type Generative interface {
	Deep
	// Generate returns images [rows, height, width, channels] in [0, 1]
	// made by the method's generator for the batch b, whose U holds the
	// network's outputs for b.Images in inference mode: reconstructions
	// from their codes, or samples conditioned on their labels, or free
	// samples, as the method's generator takes.
	Generate(b Batch) *Node
}

// Augmenter is a deep method that trains on transformed copies of each
// image next to the image itself, as DeepBit does on rotated ones: the
// trainer appends Views()-1 blocks of copies to every batch (Batch.Views).
type Augmenter interface {
	Deep
	// Views is the number of views of each image, the image itself
	// included; at least 1.
	Views() int
	// Augment writes into dst the view-th copy (1 <= view < Views()) of
	// src, an image of height x width x channels values in [0, 1]; dst and
	// src have the same length.
	Augment(dst, src []float32, height, width, channels, view int)
}

// Redrawer is an Augmenter whose transformations are drawn afresh at
// every step, as HashGAN's reference code draws one random affine map per
// mini-batch. The trainer calls Redraw in place of Augment, with a key
// that depends only on the run's seed and the step, the same for every
// image of the batch, so that a resumed run sees the same views as an
// uninterrupted one.
type Redrawer interface {
	Augmenter
	Redraw(dst, src []float32, height, width, channels, view int, key uint64)
}

// Unaugmenter is an Augmenter that can also learn from inputs that are not
// images, such as CNN descriptors, whose transformed copies cannot be
// made: Unaugmented is the method without them, its other terms intact.
type Unaugmenter interface {
	Augmenter
	Unaugmented() Deep
}

// Pruner is a deep method that, once the network is trained, keeps only
// some of its output bits, as DRDH removes the redundant ones: the trainer
// runs the trained network over the training images, asks Prune which
// bits to keep, and drops the other outputs from the network's output
// layer, so the model file's codes have len(keep) bits.
type Pruner interface {
	Deep
	// Prune returns the positions (ascending, distinct, within [0, bits))
	// of the output bits to keep, given the network's outputs [n, bits]
	// over the n training images and their labels.
	Prune(outputs []float32, n, bits int, labels []int32, seed int64) (keep []int, err error)
}

// ViewsOf returns how many views of each image m trains on.
func ViewsOf(m Method) int {
	if a, ok := m.(Augmenter); ok {
		return max(a.Views(), 1)
	}
	return 1
}

// StepOrZero returns b.Step, or a zero scalar when it is nil.
func (b Batch) StepOrZero() *Node {
	if b.Step == nil {
		return ScalarZero(b.U.Graph(), b.U.DType())
	}
	return b.Step
}

var registry = map[string]Method{}

// Register adds a method under its Info().Name. Registering a name twice
// panics: it is a programming error.
func Register(m Method) {
	name := m.Info().Name
	if _, ok := registry[name]; ok {
		panic("hashing: method registered twice: " + name)
	}
	registry[name] = m
}

// Lookup returns the method registered under name.
func Lookup(name string) (Method, error) {
	m, ok := registry[name]
	if !ok {
		return nil, fmt.Errorf("hashing: unknown method %q (known: %v)", name, Names())
	}
	return m, nil
}

// Names lists the registered methods, sorted.
func Names() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// All returns the registered methods sorted by name.
func All() []Method {
	var out []Method
	for _, n := range Names() {
		out = append(out, registry[n])
	}
	return out
}

// identity is the n x n identity matrix of dtype in g, the mask of a
// batch's pairs of an image with itself.
func identity(g *Graph, n int, dtype dtypes.DType) *Node {
	return DiagonalWithValue(ScalarOne(g, dtype), n)
}

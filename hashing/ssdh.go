package hashing

import (
	"errors"
	"math"

	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"

	"github.com/lookalike/lookalike/encoder"
)

// Unlabelled is the label of an image whose class is unknown, in the
// mini-batches of semi-supervised methods.
const Unlabelled = -1

// SemiSupervised is a deep method that also learns from unlabelled images:
// its mini-batches hold labelled images followed by unlabelled ones, whose
// labels are Unlabelled.
type SemiSupervised interface {
	Deep
	// UnlabelledPerBatch is how many unlabelled images join each batch of
	// batch labelled ones.
	UnlabelledPerBatch(batch int) int
}

// SSDH is Semi-Supervised Deep Hashing: J. Zhang, Y. Peng, "SSDH:
// Semi-supervised Deep Hashing for Large Scale Image Retrieval", IEEE
// TCSVT 2019 (arXiv:1607.08477, 2016).
//
// Its loss joins a supervised ranking loss on the labelled images of a
// mini-batch to a semi-supervised embedding loss on all of them, labelled
// and unlabelled, whose neighbours are found online among the network's
// current outputs, as the authors' code does (PKU-ICST-MIPL/SSDH_TCSVT2017,
// SemiRankLoss, feature_index 0):
//
//	J = 1/2 J_rank + Lambda/2 J_embed + Alpha J_quant
//	J_rank  = mean over labelled triplets (q, p, n), y_q = y_p != y_n, of
//	          max(0, m_r + ||b_q - b_p||^2 - ||b_q - b_n||^2)
//	J_embed = mean over images i of
//	          mean over p in N(i) of ||b_i - b_p||^2
//	          + mean over n in F(i) of max(0, m_e - ||b_i - b_n||)^2
//	J_quant = mean over images of sum_k | |b_k| - 1 |
//
// The images of the batch are ranked by distance from b_i, i itself first
// (rank 0). N(i) holds the Neighbours first ranks, i among them (its term
// is 0), and F(i) the far ranks FarFrom*n to (FarFrom+FarBand)*n of the n
// images: the embedding loss of Weston et al. (ICML 2008) that the paper
// adopts, a neighbour pulled in and a non-neighbour pushed out to m_e,
// with both taken where the authors' code takes them. That code draws, for
// each image, one neighbour among its 8 first ranks and one far image
// among ranks 114 to 123 of its batch of 128, and for each labelled image
// one triplet, at random; here each term is the expectation of that draw,
// the mean over all the candidates, so the loss needs no random numbers
// (the triplets are averaged over the whole batch, not anchor by anchor).
// Pushing only far images out keeps the embedding loss from pushing apart
// the images of a class that are not among each other's few nearest.
//
// The authors' code also trains a classifier on the labelled images and
// uses its predictions for the unlabelled ones (their train_test
// prototxt: "pred", a linear layer with a softmax loss beside the hash
// layer; SemiRankLoss's pseudo-label pairs, which the paper does not
// describe). Each unlabelled image i takes the classifier's most likely
// class as its pseudo-label and its least likely one as a class it is
// not; an image j whose label (or, unlabelled, pseudo-label) is i's
// pseudo-label is a positive of i, one whose label is i's least likely
// class a negative, and the pair term of the embedding loss joins them
// with the same weight Lambda:
//
//	J_pseudo = mean over unlabelled i with both of
//	           mean over positives p of ||b_i - b_p||^2
//	           + mean over negatives n of max(0, m_e - ||b_i - b_n||)^2
//	J_class  = softmax cross-entropy of the classifier on the labelled images
//	J        = ... + Lambda/2 J_pseudo + Classify J_class
//
// As with the other terms, the expectation over the candidates replaces
// the authors' one random draw. Their classifier reads fc7, the layer
// below the hash layer; this project's methods see only the hash layer's
// outputs, so here the classifier is a linear layer on them (its weights
// in Batch.Scope), and its loss trains the network through the codes.
// Measured (fmnist-1k, 48 bits, seed 0, 30 epochs, mAP@all): 0.8427 with
// the classifier and pseudo-label pairs, 0.8277 without them, and 0.8363
// with the classifier but no unlabelled image in the batches
// (UnlabelledShare 0): the unlabelled images add 0.0064. DSH on the same
// 5,000 labelled images: 0.8416.
//
// Differences from the paper, each to fit this project's network and
// codes: the paper's hash layer is a sigmoid with codes at 0.5 and no
// quantization term; here outputs are real and codes their signs, so
// J_quant is DSH's regularizer pulling outputs to +-1, and distances are
// on the +-1 scale, whose squares are 4 times the 0/1 scale's. The
// authors' m_e of 3 at 48 bits is m_e^2 = 36 = 0.75 bits here. Their m_r
// of 1 (one bit of Hamming distance) is m_r = bits here (12 bits), a
// margin on the scale of DSH's.
type SSDH struct {
	// RankMarginPerBit gives m_r = RankMarginPerBit * bits, on squared
	// distances.
	RankMarginPerBit float64
	// EmbedMarginPerBit gives m_e^2 = EmbedMarginPerBit * bits: m_e is a
	// margin on the (unsquared) distance to far images. Paper's code: 0.75.
	EmbedMarginPerBit float64
	// Lambda weighs the embedding loss. Paper's code: 0.1.
	Lambda float64
	// Alpha weighs the quantization term.
	Alpha float64
	// Neighbours is the k of the online nearest-neighbour graph, the image
	// itself counted. Paper's code: 8 at 48 bits.
	Neighbours int
	// FarFrom and FarBand place the far images of each anchor, as
	// fractions of the batch: ranks FarFrom*n to (FarFrom+FarBand)*n. Zero
	// FarBand means the authors' 114/128 and 10/128.
	FarFrom, FarBand float64
	// UnlabelledShare is the number of unlabelled images per labelled
	// image in a batch.
	UnlabelledShare float64
	// Classify weighs the classifier's loss; 0 leaves out the classifier
	// and the pseudo-label pairs. Authors' code: 1.
	Classify float64
}

// ssdhScope is the sub-scope of Batch.Scope holding the classifier.
const ssdhScope = "ssdh_classifier"

func init() {
	Register(SSDH{RankMarginPerBit: 1, EmbedMarginPerBit: 0.75, Lambda: 0.1, Alpha: 0.01, Neighbours: 8, UnlabelledShare: 0.5, Classify: 1})
}

// Info describes SSDH.
func (SSDH) Info() Info {
	return Info{
		Name:       "ssdh",
		Title:      "Semi-supervised deep hashing (ranking loss on labelled, graph embedding loss on all images)",
		Paper:      "J. Zhang, Y. Peng. SSDH: Semi-supervised Deep Hashing for Large Scale Image Retrieval. IEEE TCSVT 2019 (arXiv:1607.08477)",
		Supervised: true,
	}
}

// UnlabelledPerBatch implements SemiSupervised.
func (m SSDH) UnlabelledPerBatch(batch int) int { return int(m.UnlabelledShare * float64(batch)) }

// Loss is J of the paper over the mini-batch.
func (m SSDH) Loss(b Batch) *Node {
	u, labels := b.U, b.Labels
	n := u.Shape().Dimensions[0]
	bits := float64(u.Shape().Dimensions[1])
	d := SquaredDistances(u)

	rank := m.rankLoss(d, labels, b.Labelled, bits)

	from, band := m.FarFrom, m.FarBand
	if band == 0 {
		from, band = 114.0/128, 10.0/128
	}
	lo := min(int(from*float64(n)), n-1)
	hi := min(lo+max(int(band*float64(n)), 1), n)
	near, far := RankBands(StopGradient(d), m.Neighbours, lo, hi)
	near = DivScalar(near, float64(min(m.Neighbours, n)))
	far = DivScalar(far, float64(hi-lo))
	embed := DivScalar(ReduceAllSum(Add(Mul(near, d), Mul(far, marginPush(d, m.embedMargin(bits))))), float64(n))

	quant := ReduceAllMean(ReduceSum(Abs(AddScalar(Abs(u), -1)), 1))
	loss := Add(MulScalar(Add(rank, MulScalar(embed, m.Lambda)), 0.5), MulScalar(quant, m.Alpha))
	if m.Classify == 0 {
		return loss
	}
	if b.Scope == nil || b.Classes < 2 {
		// Training always passes both; the classifier has nowhere else
		// to live.
		panic(errors.New("hashing: ssdh's classifier needs Batch.Scope and Batch.Classes"))
	}
	logits := m.classifier(b.Scope.In(ssdhScope), u, b.Classes)
	class := ClassifierLoss(logits, labels, b.Classes)
	pseudo := PseudoPairLoss(d, labels, StopGradient(logits), m.embedMargin(bits))
	return Add(loss, Add(MulScalar(pseudo, m.Lambda/2), MulScalar(class, m.Classify)))
}

// classifier returns the logits [rows, classes] of a linear layer on u.
func (m SSDH) classifier(scope *model.Scope, u *Node, classes int) *Node {
	g, dtype := u.Graph(), u.DType()
	bits := u.Shape().Dimensions[1]
	w := scope.WithInitializer(initializer.RandomNormalFn(scope, 1/math.Sqrt(float64(bits)))).
		VariableWithShape("w", shapes.Make(dtype, bits, classes)).NodeValue(g)
	bias := scope.WithInitializer(initializer.Zero).VariableWithShape("b", shapes.Make(dtype, classes)).NodeValue(g)
	return Add(MatMul(u, w), ExpandAxes(bias, 0))
}

// ClassifierLoss is the mean softmax cross-entropy of logits [rows,
// classes] over the rows with a label (labels >= 0); 0 when none has one.
func ClassifierLoss(logits, labels *Node, classes int) *Node {
	g, dtype := logits.Graph(), logits.DType()
	onehot := OneHot(labels, classes, dtype) // unlabelled (-1) rows are zero
	labelled := ReduceSum(onehot, 1)
	logp := LogSoftmax(logits)
	nll := Neg(ReduceSum(Mul(onehot, logp), 1))
	return Div(ReduceAllSum(Mul(nll, labelled)), Max(ReduceAllSum(labelled), ScalarOne(g, dtype)))
}

// PseudoPairLoss is J_pseudo: each unlabelled row i (labels < 0) takes the
// largest of its logits as its pseudo-label and the smallest as a class it
// is not; the other rows whose label (or pseudo-label, for unlabelled
// ones) is the first are pulled to it and those whose label is the second
// pushed to margin (on the unsquared distance), over the squared distances
// d [n, n]. Rows with no positive or no negative are left out of the mean.
func PseudoPairLoss(d, labels, logits *Node, margin float64) *Node {
	g, dtype := d.Graph(), d.DType()
	classes := logits.Shape().Dimensions[1]
	unlabelled := ConvertDType(LessThan(labels, ScalarZero(g, labels.DType())), dtype)
	likely := OneHot(ArgMax(logits, 1), classes, dtype)   // [n, classes]
	unlikely := OneHot(ArgMin(logits, 1), classes, dtype) // [n, classes]
	u := ExpandAxes(unlabelled, 1)
	// Each row's class: its label, or its pseudo-label when it has none.
	own := Add(OneHot(labels, classes, dtype), Mul(u, likely))
	eye := identity(g, d.Shape().Dimensions[0], dtype)
	pos := Mul(Mul(MatMul(likely, Transpose(own, 0, 1)), u), OneMinus(eye))
	neg := Mul(Mul(MatMul(unlikely, Transpose(own, 0, 1)), u), OneMinus(eye))
	npos, nneg := ReduceSum(pos, 1), ReduceSum(neg, 1)
	one := ScalarOne(g, dtype)
	pull := Div(ReduceSum(Mul(pos, d), 1), Max(npos, one))
	push := Div(ReduceSum(Mul(neg, marginPush(d, margin)), 1), Max(nneg, one))
	anchors := Mul(ConvertDType(GreaterThan(npos, ZerosLike(npos)), dtype), ConvertDType(GreaterThan(nneg, ZerosLike(nneg)), dtype))
	return Div(ReduceAllSum(Mul(anchors, Add(pull, push))), Max(ReduceAllSum(anchors), one))
}

// embedMargin is m_e for codes of bits bits.
func (m SSDH) embedMargin(bits float64) float64 { return math.Sqrt(m.EmbedMarginPerBit * bits) }

// marginPush is max(0, margin - sqrt(d))^2 for squared distances d: the
// embedding loss's cost of a far image within the margin. The square
// root's gradient stays finite at d = 0 (the diagonal, weight 0).
func marginPush(d *Node, margin float64) *Node {
	return Square(encoder.Relu(AddScalar(Neg(Sqrt(AddScalar(d, 1e-6))), margin)))
}

// rankLoss is the mean triplet hinge over the labelled images, the first
// nl rows (0: all). The [q, p, n] cube is built over those rows alone: on
// the pure-Go backend it is the costliest part of the loss, and the
// unlabelled rows would only be masked out of it.
func (m SSDH) rankLoss(d, labels *Node, nl int, bits float64) *Node {
	g := d.Graph()
	dtype := d.DType()
	if n := d.Shape().Dimensions[0]; nl <= 0 || nl > n {
		nl = n
	}
	d = Slice(d, AxisRange(0, nl), AxisRange(0, nl))
	labels = Slice(labels, AxisRange(0, nl))
	labelled := ConvertDType(GreaterOrEqual(labels, ScalarZero(g, labels.DType())), dtype)
	same := PairSimilarity(labels, dtype)
	eye := identity(g, d.Shape().Dimensions[0], dtype)
	both := Mul(ExpandAxes(labelled, 1), ExpandAxes(labelled, 0))
	pos := Mul(Mul(same, both), OneMinus(eye)) // [q, p]
	neg := Mul(OneMinus(same), both)           // [q, n]
	hinge := encoder.Relu(AddScalar(Sub(ExpandAxes(d, 2), ExpandAxes(d, 1)), m.RankMarginPerBit*bits))
	valid := Mul(ExpandAxes(pos, 2), ExpandAxes(neg, 1))
	return Div(ReduceAllSum(Mul(valid, hinge)), Max(ReduceAllSum(valid), ScalarOne(g, dtype)))
}

// RankBands orders the images of a batch by their squared distances d
// ([n, n]) from each image i, itself first (rank 0) and ties broken by
// position, and returns the [n, n] masks of the ranks below k (near) and
// of the ranks lo to hi-1 (far). The nearest are taken by k rounds of
// argmin and the far ones by n-lo rounds of argmax, each masking the one it
// found: GoMLX's TopK sorts whole rows, which the pure-Go backend did about
// 1,000 times slower here, and counting ranks takes an [n, n, n] cube.
func RankBands(d *Node, k, lo, hi int) (near, far *Node) {
	g := d.Graph()
	n := d.Shape().Dimensions[0]
	dtype := d.DType()
	k, lo, hi = min(k, n), max(lo, 0), min(hi, n)
	eye := identity(g, d.Shape().Dimensions[0], dtype)
	// The image itself goes first, below every distance; picked entries
	// are pushed past every distance, out of the later rounds.
	d = Sub(Mul(d, OneMinus(eye)), eye)
	step := AddScalar(MulScalar(ReduceAllMax(d), 2), 2)
	near, far = ZerosLike(d), ZerosLike(d)
	dm := d
	for range k {
		hit := OneHot(ArgMin(dm, 1), n, dtype)
		near = Add(near, hit)
		dm = Add(dm, Mul(hit, step))
	}
	dm = d
	for t := range n - lo {
		hit := OneHot(ArgMax(dm, 1), n, dtype)
		if t >= n-hi {
			far = Add(far, hit)
		}
		dm = Sub(dm, Mul(hit, step))
	}
	return near, far
}

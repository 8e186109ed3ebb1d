package hashing

import (
	. "github.com/gomlx/gomlx/core/graph"

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
// and unlabelled, whose neighbour graph is built online from the network's
// current features:
//
//	J = J_rank + Lambda J_embed + Alpha J_quant
//	J_rank  = mean over labelled triplets (q, p, n), y_q = y_p != y_n, of
//	          max(0, m_r + ||b_q - b_p||^2 - ||b_q - b_n||^2)
//	J_embed = mean over pairs (i, j), i != j, of
//	          w_ij ||b_i - b_j||^2 + (1 - w_ij) max(0, m_e - ||b_i - b_j||^2)
//	J_quant = mean over images of sum_k | |b_k| - 1 |
//
// with w_ij = 1 when j is among the Neighbours nearest images of i (or i
// among j's) in the batch, and 0 otherwise: the embedding loss of Weston et
// al. (ICML 2008) that the paper adopts.
//
// Differences from the paper, each to fit this project's network and
// codes: the paper's hash layer is a sigmoid with codes at 0.5, and its
// quantization term pushes outputs to 0 or 1; here outputs are real and
// codes their signs, so the margins are on the +-1 scale (m_r = bits, m_e
// = 2 bits, as DSH's margin) and J_quant is DSH's regularizer pulling
// outputs to +-1. The paper builds its neighbour graph from the fully
// connected features below the hash layer; here it is built from the hash
// layer's outputs (without gradient through the graph), the features the
// loss already sees.
type SSDH struct {
	// RankMarginPerBit gives m_r = RankMarginPerBit * bits.
	RankMarginPerBit float64
	// EmbedMarginPerBit gives m_e = EmbedMarginPerBit * bits.
	EmbedMarginPerBit float64
	// Lambda weighs the embedding loss.
	Lambda float64
	// Alpha weighs the quantization term.
	Alpha float64
	// Neighbours is the k of the online k-nearest-neighbour graph.
	Neighbours int
	// UnlabelledShare is the number of unlabelled images per labelled
	// image in a batch.
	UnlabelledShare float64
}

func init() {
	Register(SSDH{RankMarginPerBit: 1, EmbedMarginPerBit: 2, Lambda: 0.1, Alpha: 0.01, Neighbours: 5, UnlabelledShare: 0.5})
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
	g := u.Graph()
	dtype := u.DType()
	n := u.Shape().Dimensions[0]
	bits := float64(u.Shape().Dimensions[1])
	d := SquaredDistances(u)

	eye := ConvertDType(Equal(Iota(g, d.Shape(), 0), Iota(g, d.Shape(), 1)), dtype)
	rank := m.rankLoss(d, labels, b.Labelled, bits)

	w := NeighbourGraph(StopGradient(d), m.Neighbours)
	offDiag := OneMinus(eye)
	embed := Add(Mul(w, d), Mul(OneMinus(w), encoder.Relu(AddScalar(Neg(d), m.EmbedMarginPerBit*bits))))
	embedMean := DivScalar(ReduceAllSum(Mul(offDiag, embed)), float64(n*(n-1)))

	quant := ReduceAllMean(ReduceSum(Abs(AddScalar(Abs(u), -1)), 1))
	return Add(rank, Add(MulScalar(embedMean, m.Lambda), MulScalar(quant, m.Alpha)))
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
	eye := ConvertDType(Equal(Iota(g, d.Shape(), 0), Iota(g, d.Shape(), 1)), dtype)
	both := Mul(ExpandAxes(labelled, 1), ExpandAxes(labelled, 0))
	pos := Mul(Mul(same, both), OneMinus(eye)) // [q, p]
	neg := Mul(OneMinus(same), both)           // [q, n]
	hinge := encoder.Relu(AddScalar(Sub(ExpandAxes(d, 2), ExpandAxes(d, 1)), m.RankMarginPerBit*bits))
	valid := Mul(ExpandAxes(pos, 2), ExpandAxes(neg, 1))
	return Div(ReduceAllSum(Mul(valid, hinge)), Max(ReduceAllSum(valid), ScalarOne(g, dtype)))
}

// NeighbourGraph returns the symmetric k-nearest-neighbour graph of the
// squared distances d ([n, n]): 1 where j is among the k nearest of i
// (itself excluded, ties to the lower position) or i among j's, 0
// elsewhere, the diagonal 0. The neighbours are taken by k rounds of
// argmin, each masking the one it found: GoMLX's TopK sorts whole rows,
// which the pure-Go backend did about 1,000 times slower here.
func NeighbourGraph(d *Node, k int) *Node {
	g := d.Graph()
	n := d.Shape().Dimensions[0]
	k = min(k, n-1)
	eye := ConvertDType(Equal(Iota(g, d.Shape(), 0), Iota(g, d.Shape(), 1)), d.DType())
	// Masked entries are pushed past every distance.
	far := AddScalar(MulScalar(ReduceAllMax(d), 2), 1)
	dm := Add(d, Mul(eye, far))
	knn := ZerosLike(d)
	for range k {
		hit := OneHot(ArgMin(dm, 1), n, d.DType())
		knn = Add(knn, hit)
		dm = Add(dm, Mul(hit, far))
	}
	return Max(knn, Transpose(knn, 0, 1))
}

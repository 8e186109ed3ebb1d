package hashing

import (
	"fmt"

	. "github.com/gomlx/gomlx/core/graph"

	"github.com/lookalike/lookalike/generative"
)

// BGAN is Binary Generative Adversarial Networks: J. Song, T. He, L. Gao,
// X. Xu, A. Hanjalic, H. T. Shen, "Binary Generative Adversarial Networks
// for Image Retrieval", AAAI 2018. Unsupervised.
//
// The hashing network's binary code b of an image x is the only input of
// a generator G that reconstructs x, judged by a discriminator D against
// the real images. With S the neighbourhood structure of the training
// images and L bits, the paper's loss is
//
//	L = L_A + lambda_C L_C + lambda_N L_N
//	L_A = E log D(x) + E log(1 - D(G(b)))                       (adversarial)
//	L_C = ||x - G(b)||^2 + ||f_D(x) - f_D(G(b))||^2            (content: pixels and D's features)
//	L_N = sum_ij (s_ij - b_i^T b_j / L)^2                       (neighbourhood structure)
//
// G and the hashing network minimize it, D maximizes L_A.
//
// Sign activation: the paper trains sign(h) through smoothed activations
// that converge to it; here b = tanh(beta h) with beta raised in Stages
// stages, beta = sqrt(1 + Gamma s) at stage s (HashNet's continuation,
// ending near sign), and the codes are sign(h).
//
// Differences from the paper, for this trainer and data:
//   - S comes from the images of each mini-batch: s_ij = 1 when x_j is
//     one of the Neighbours nearest images of x_i by cosine similarity
//     of the pixels (or x_i one of x_j's), 0 otherwise. The paper builds
//     S once over the training set, from VGG features, refined by shared
//     neighbours. In L_N the non-neighbours' target is -1, not 0 (see
//     NeighbourhoodLoss), and L_N is averaged separately over the
//     neighbour pairs and the other pairs and the two means added, so
//     that the few neighbours weigh as much as the many others; pairs of
//     an image with itself are left out.
//   - G and D are multi-layer perceptrons (generative.Generator,
//     generative.Discriminator), not the paper's convolutional networks;
//     the squared errors of L_C are means over pixels and features, the
//     features' relative to their scale (ContentLoss).
//   - One optimizer step minimizes L_D (D's loss, the negated L_A on D's
//     weights) plus lambda_A times the generator's non-saturating loss
//     -E log D(G(b)) through D with its weights held, plus the content and
//     neighbourhood terms: simultaneous gradient descent, where the paper
//     alternates D and G updates.
type BGAN struct {
	// Neighbours is the number of nearest neighbours of each image in S.
	Neighbours int
	// Content, Neighbourhood and Adversarial weigh L_C, L_N and the
	// generator's adversarial loss: 0.5, 1 and 0.1, set here, not taken
	// from the paper. With Content 1 the perceptual term, then not
	// relative to the features' scale, grew past the others within two
	// epochs; with 0.1 and the non-neighbours' target at 0 the codes
	// collapsed (see NeighbourhoodLoss).
	Content, Neighbourhood, Adversarial float64
	// Stages and Gamma set the continuation of the sign activation.
	Stages int
	Gamma  float64
	// GeneratorHidden and DiscriminatorHidden are the widths of the
	// hidden layers of G and D.
	GeneratorHidden, DiscriminatorHidden []int
}

func init() {
	Register(BGAN{
		Neighbours: 5, Content: 0.5, Neighbourhood: 1, Adversarial: 0.1, Stages: 50, Gamma: 1,
		GeneratorHidden: []int{512}, DiscriminatorHidden: []int{256},
	})
}

// Info describes BGAN.
func (BGAN) Info() Info {
	return Info{
		Name:  "bgan",
		Title: "Binary Generative Adversarial Networks",
		Paper: "J. Song, T. He, L. Gao, X. Xu, A. Hanjalic, H. T. Shen. Binary Generative Adversarial Networks for Image Retrieval. AAAI 2018",
	}
}

// Loss is the paper's loss on one mini-batch (see the type's comment).
func (m BGAN) Loss(b Batch) *Node {
	x := mustImages(b, "bgan")
	h := ContinuationTanh(b.U, b.StepOrZero(), b.Steps, m.Stages, m.Gamma)
	gen := b.Scope.At("generator")
	dis := b.Scope.At("discriminator")
	d := x.Shape().Dimensions
	fake := generative.Generator(gen, h, m.GeneratorHidden, d[1], d[2], d[3])

	realLogits, _ := generative.Discriminator(dis, x, nil, m.DiscriminatorHidden, false)
	fakeLogits, _ := generative.Discriminator(dis, StopGradient(fake), nil, m.DiscriminatorHidden, false)
	lossD := generative.DiscriminatorLoss(realLogits, fakeLogits)

	heldLogits, fakeFeatures := generative.Discriminator(dis, fake, nil, m.DiscriminatorHidden, true)
	_, realFeatures := generative.Discriminator(dis, x, nil, m.DiscriminatorHidden, true)
	lossG := generative.GeneratorLoss(heldLogits)
	content := ContentLoss(x, fake, realFeatures, fakeFeatures)
	s := NeighbourSimilarity(x, m.Neighbours)
	neighbour := NeighbourhoodLoss(h, s)

	b.Report(ReportDiscriminatorLoss, lossD)
	b.Report(ReportDiscriminatorReal, Sigmoid(realLogits))
	b.Report(ReportDiscriminatorFake, Sigmoid(fakeLogits))
	b.Report("g_adv", lossG)
	b.Report("content", content)
	b.Report("neighbour", neighbour)
	return Add(lossD, Add(MulScalar(lossG, m.Adversarial),
		Add(MulScalar(content, m.Content), MulScalar(neighbour, m.Neighbourhood))))
}

// Generate reconstructs b's images from their binary codes sign(U).
func (m BGAN) Generate(b Batch) *Node {
	x := mustImages(b, "bgan")
	d := x.Shape().Dimensions
	return generative.Generator(b.Scope.At("generator"), Sign(b.U), m.GeneratorHidden, d[1], d[2], d[3])
}

// mustImages returns b.Images: the trainer always passes them, so their
// absence is a programming error.
func mustImages(b Batch, method string) *Node {
	if b.Images == nil || b.Scope == nil {
		panic(fmt.Sprintf("hashing: %s needs the batch's images and a scope", method))
	}
	return b.Images
}

// NeighbourSimilarity returns the [rows, rows] neighbourhood structure of
// images [rows, ...]: 1 where x_j is among the k images nearest to x_i by
// the cosine similarity of their pixels, or x_i among x_j's, 0 elsewhere
// and on the diagonal. An image ranks by how many others are strictly
// nearer, so ties may give more than k neighbours.
func NeighbourSimilarity(images *Node, k int) *Node {
	x := StopGradient(generative.Flatten(images))
	n := x.Shape().Dimensions[0]
	x = Div(x, ExpandAxes(Max(Sqrt(ReduceSum(Square(x), 1)), Scalar(x.Graph(), x.DType(), 1e-12)), 1))
	g := x.Graph()
	eye := identity(g, n, x.DType())
	// The diagonal is pushed below any cosine so an image is not its own
	// neighbour.
	cos := Sub(MatMul(x, Transpose(x, 0, 1)), MulScalar(eye, 4))
	// closer[i, j] counts the l with cos[i, l] > cos[i, j].
	closer := ReduceSum(ConvertDType(GreaterThan(ExpandAxes(cos, 1), ExpandAxes(cos, 2)), x.DType()), 2)
	knn := Mul(ConvertDType(LessThan(closer, Scalar(g, x.DType(), float64(k))), x.DType()), OneMinus(eye))
	return Max(knn, Transpose(knn, 0, 1))
}

// NeighbourhoodLoss is L_N of BGAN on the relaxed codes h [rows, L] and
// the structure s (1 for neighbours, 0 otherwise): the mean of
// (t_ij - h_i^T h_j / L)^2 over the neighbour pairs plus its mean over the
// other distinct pairs (a kind absent from the batch adds 0), with
// target t_ij = 2 s_ij - 1. A target of 0 for the non-neighbours, the
// structure's own value, let the codes of fmnist-1k collapse to one (the
// within-batch neighbour graph joins nearly every image, and equal codes
// cost the non-neighbours only 1): mAP@all 0.175 at 32 bits after one
// epoch, 89% of the database at Hamming distance 0 from a query.
func NeighbourhoodLoss(h, s *Node) *Node {
	g := h.Graph()
	n, bits := h.Shape().Dimensions[0], h.Shape().Dimensions[1]
	eye := identity(g, n, h.DType())
	pos := Mul(s, OneMinus(eye))
	neg := Mul(OneMinus(s), OneMinus(eye))
	target := AddScalar(MulScalar(s, 2), -1)
	err := Square(Sub(target, DivScalar(MatMul(h, Transpose(h, 0, 1)), float64(bits))))
	one := ScalarOne(g, h.DType())
	return Add(Div(ReduceAllSum(Mul(pos, err)), Max(ReduceAllSum(pos), one)),
		Div(ReduceAllSum(Mul(neg, err)), Max(ReduceAllSum(neg), one)))
}

// ContentLoss is L_C of BGAN: the mean squared error between the images
// and their reconstructions plus that between the discriminator's
// features of the two, the latter relative to the mean square of the real
// images' features: the discriminator trains on its own loss and its
// features grow, which would otherwise let the perceptual term swamp the
// others as training goes on.
func ContentLoss(x, fake, realFeatures, fakeFeatures *Node) *Node {
	scale := AddScalar(StopGradient(ReduceAllMean(Square(realFeatures))), 1e-8)
	return Add(ReduceAllMean(Square(Sub(x, fake))), Div(ReduceAllMean(Square(Sub(realFeatures, fakeFeatures))), scale))
}

package hashing

import (
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"

	"github.com/lookalike/lookalike/generative"
)

// UADH is unsupervised adversarial deep hashing as Unsupervised
// Semantic-Preserving Adversarial Hashing: C. Deng, E. Yang, T. Liu, J. Li,
// W. Liu, D. Tao, "Unsupervised Semantic-Preserving Adversarial Hashing
// for Image Search", IEEE Transactions on Image Processing 28(8), 2019.
//
// Three networks: the hashing network E maps an image x to its code
// E(x), a generator G maps a code b to an image, and a discriminator D
// tells the pairs (x, E(x)) of real images and their codes from the pairs
// (G(b), b) of random binary codes and the images generated from them.
// Played adversarially (BiGAN's game, Donahue et al. and Dumoulin et al.,
// ICLR 2017), E and G learn to invert each other. The semantic similarity
// matrix S of the training images guides the codes:
//
//	min_{E,G} max_D V = E_x log D(x, E(x)) + E_b log(1 - D(G(b), b))
//	L_S = sum_ij (s_ij - E(x_i)^T E(x_j) / L)^2
//	L = V + lambda L_S
//
// Differences from the paper, for this trainer and data:
//   - S comes from the pixels of each mini-batch (NeighbourSimilarity: 1
//     for the Neighbours nearest images by cosine similarity, either way,
//     0 otherwise), and L_S is the balanced mean of BGAN's
//     NeighbourhoodLoss; the paper builds S once over the training set
//     from pre-trained CNN features, combining feature similarity and
//     shared neighbours.
//   - E(x) enters the game and L_S as tanh(beta u) with HashNet's
//     continuation of beta (ContinuationTanh) so that the codes given to
//     D approach the binary ones; the random codes b are uniform in
//     {-1, 1}^L. Codes are sign(u).
//   - G and D are multi-layer perceptrons, D reading the flattened image
//     joined with the code.
//   - One optimizer step minimizes D's cross-entropy plus lambda_A times
//     the non-saturating losses of E (-E log(1 - D(x, E(x)))) and G
//     (-E log D(G(b), b)) through D with its weights held, plus lambda
//     L_S: simultaneous gradient descent, where the paper alternates the
//     updates of D and of E and G.
type UADH struct {
	// Neighbours is the number of nearest neighbours of each image in S.
	Neighbours int
	// Similarity weighs L_S (lambda), Adversarial the game's terms of E
	// and G: 1 and 0.1, as BGAN's neighbourhood and adversarial weights,
	// not taken from the paper.
	Similarity, Adversarial float64
	// Stages and Gamma set the continuation of tanh towards sign.
	Stages int
	Gamma  float64
	// GeneratorHidden and DiscriminatorHidden are the widths of the
	// hidden layers of G and D.
	GeneratorHidden, DiscriminatorHidden []int
}

func init() {
	Register(UADH{
		Neighbours: 5, Similarity: 1, Adversarial: 0.1, Stages: 50, Gamma: 1,
		GeneratorHidden: []int{512}, DiscriminatorHidden: []int{256},
	})
}

// Info describes UADH.
func (UADH) Info() Info {
	return Info{
		Name:  "uadh",
		Title: "Unsupervised (semantic-preserving) adversarial deep hashing",
		Paper: "C. Deng, E. Yang, T. Liu, J. Li, W. Liu, D. Tao. Unsupervised Semantic-Preserving Adversarial Hashing for Image Search. IEEE TIP 28(8), 2019",
	}
}

// Loss is the game V with L_S on one mini-batch (see the type's comment).
func (m UADH) Loss(b Batch) *Node {
	x := mustImages(b, "uadh")
	h := ContinuationTanh(b.U, b.StepOrZero(), b.Steps, m.Stages, m.Gamma)
	n, bits := h.Shape().Dimensions[0], h.Shape().Dimensions[1]
	codes := RandomCodes(b, n, bits)
	d := x.Shape().Dimensions
	fake := generative.Generator(b.Scope.At("generator"), codes, m.GeneratorHidden, d[1], d[2], d[3])
	dis := b.Scope.At("discriminator")

	realLogits, _ := generative.Discriminator(dis, x, StopGradient(h), m.DiscriminatorHidden, false)
	fakeLogits, _ := generative.Discriminator(dis, StopGradient(fake), codes, m.DiscriminatorHidden, false)
	lossD := generative.DiscriminatorLoss(realLogits, fakeLogits)

	// E would have D call its pairs fake, G its pairs real.
	heldReal, _ := generative.Discriminator(dis, x, h, m.DiscriminatorHidden, true)
	heldFake, _ := generative.Discriminator(dis, fake, codes, m.DiscriminatorHidden, true)
	lossEG := Add(generative.GeneratorLoss(Neg(heldReal)), generative.GeneratorLoss(heldFake))
	similarity := NeighbourhoodLoss(h, NeighbourSimilarity(x, m.Neighbours))

	b.Report(ReportDiscriminatorLoss, lossD)
	b.Report(ReportDiscriminatorReal, Sigmoid(realLogits))
	b.Report(ReportDiscriminatorFake, Sigmoid(fakeLogits))
	b.Report("eg_adv", lossEG)
	b.Report("similarity", similarity)
	return Add(lossD, Add(MulScalar(lossEG, m.Adversarial), MulScalar(similarity, m.Similarity)))
}

// Generate reconstructs b's images from their codes sign(U): with E and
// G inverting each other, G(E(x)) shows what the codes keep of x.
func (m UADH) Generate(b Batch) *Node {
	x := mustImages(b, "uadh")
	d := x.Shape().Dimensions
	return generative.Generator(b.Scope.At("generator"), Sign(b.U), m.GeneratorHidden, d[1], d[2], d[3])
}

// RandomCodes draws [rows, bits] codes uniform in {-1, 1} from the random
// state of b's scope.
func RandomCodes(b Batch, rows, bits int) *Node {
	u := b.Scope.RandomUniform(b.U.Graph(), shapes.Make(b.U.DType(), rows, bits))
	return Sign(AddScalar(u, -0.5))
}

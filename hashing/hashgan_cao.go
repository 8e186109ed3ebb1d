package hashing

import (
	"math"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/lookalike/lookalike/generative"
)

// Pretrainer is a deep method that trains variables of its own before the
// network, as HashGAN trains its GAN first: the trainer runs Pretraining's
// steps of PretrainLoss on batches of the training images (U nil, the
// network not running), with Adam of Pretraining's rate and betas, then
// trains the network as for any deep method.
type Pretrainer interface {
	Deep
	// Pretraining returns the number of pretraining steps before a run
	// of steps steps, and Adam's learning rate and betas.
	Pretraining(steps int) (pretrain int, rate, beta1, beta2 float64)
	// PretrainLoss returns the scalar loss of one pretraining batch: b
	// has Images, Labels, Step, Steps, Scope, Bits, Classes and Monitor.
	PretrainLoss(b Batch) *Node
}

// UnlabelledPretrainer is a Pretrainer whose pretraining batches go on,
// after the labelled images, with PretrainUnlabelled(batch) images
// without labels (labels Unlabelled), when the trainer has some: HashGAN's
// critic learns what real images look like from unlabelled ones too.
// Batch.Labelled counts the labelled rows.
type UnlabelledPretrainer interface {
	Pretrainer
	PretrainUnlabelled(batch int) int
}

// HashGANCao is HashGAN: Y. Cao, B. Liu, M. Long, J. Wang, "HashGAN: Deep
// Learning to Hash with Pair Conditional Wasserstein GAN", CVPR 2018.
// Supervised; meant for scarce labels (train --labelled).
//
// A pair conditional Wasserstein GAN (PC-WGAN) learns to synthesize
// images of a given class, then the hashing network learns from the real
// labelled images and from pairs of a real and a synthesized image, whose
// similarity comes from the conditions. The generator G(z, y) maps noise
// z ~ N(0, I) joined with the one-hot label y to an image. The critic D
// has two heads on one trunk, as in the authors' code (thuml/HashGAN,
// main.py and lib/criterion.py): a Wasserstein critic value D_w and a
// hash layer D_h. With x real images of labels y, x~ = G(z, y), x^ = x +
// e (x~ - x) for e ~ U(0, 1) and the pairwise cross-entropy
//
//	C(theta, S) = mean_{s_ij = 1} (log(1 + exp(theta_ij)) - theta_ij) + mean_{s_ij = 0} log(1 + exp(theta_ij))
//
// (HashNet's balanced likelihood, MaskedPairCrossEntropy), stage 1
// (PretrainLoss) trains
//
//	critic:    L_D = E D_w(x~) - E D_w(x) + lambda E (||grad D_w(x^)|| - 1)^2          (WGAN-GP)
//	                 + C(a cos(D_h(x), D_h(x)), S_xx) + C(a cos(D_h(x), D_h(x~)), S_xx~)  (pair conditional)
//	generator: L_G = -E D_w(x~) + mu C(a cos(D_h(x), D_h(x~)), S_xx~)
//
// with cos the cosine of two rows, a = CosineAlpha (10), lambda = Penalty
// (10), mu = Conditional (10), the real side of the real-synthetic pairs
// held fixed ("fake can't influence real"), and S_xx~ the similarity of
// the real image's label to the synthesized one's condition. Stage 2
// (Loss) trains the hashing network H, G held fixed, on the real pairs
// and on pairs of a real and a synthesized image (the latter after a
// warm-up, see below):
//
//	L_H = C(alpha <h_i, h_j>, S_xx) + nu C(alpha <h_i, h~_j>, S_xx~),  h = tanh(beta H(x)), h~ = tanh(beta H(x~))
//
// with HashNet's alpha (0.1) and continuation of beta, nu = Synthetic
// (1), and the real codes h_i held fixed in the second term. The first
// term alone is HashNet (its Loss), so HashNet on the same labelled
// images is the baseline that shows what the synthesized pairs add.
// Codes are sign(H(x)).
//
// Differences from the paper and the authors' code, for this trainer and
// data:
//   - G and D are multi-layer perceptrons (generative.Generator, and a
//     leaky-ReLU trunk here), with G's last layer a sigmoid onto the
//     images' [0, 1]; the paper's are convolutional (ResNet and AlexNet).
//     The gradient of D_w with respect to its input, which the penalty
//     needs, is written out as the product of the layers' weights and the
//     leaky ReLU's slopes, so that training differentiates it once more
//     by plain automatic differentiation.
//   - Stage 1 is Pretrain (5) times as many steps as stage 2, each one
//     Adam step for D and G together on their own losses (fakes held
//     fixed in L_D, D's weights in L_G): simultaneous gradient descent,
//     with Adam (0.5, 0.9) at PretrainRate (5e-4). The authors run
//     100,000 iterations of five critic steps per generator step, Adam
//     (0, 0.9) at 1e-4, ten times their hashing network's iterations.
//   - The synthesized pairs enter L_H after the first Warmup (half) of
//     stage 2 (before, they weigh 0). With them from the start (Warmup
//     0) mAP@all was 0.7339 on seed 0 against 0.7417 (see below).
//   - As in the authors' code, the critic's Wasserstein terms also see
//     unlabelled images (fmnist-1k: the 55,000 training images outside
//     the labelled split), as many as the labelled ones in each batch,
//     with as many more fakes; the pair conditional terms see the
//     labelled images only.
//   - The hashing network's pair loss is HashNet's on tanh(beta u) with
//     alpha 0.1; the authors' code scores its codes by the cosine, scaled
//     by 5, as the critic's hash head does here. Both weigh the similar
//     and the dissimilar pairs by their mean (the authors' code weighs the
//     dissimilar pairs by 1 and the similar by |S|/|S_1|, over all pairs).
//   - In stage 2 the synthesized images, one for each real image and
//     conditioned on its label, as in the authors' code, go through the
//     network in a pass of their own (SharedLoss: the trainer's second
//     pass, differentiated automatically), so that batch normalization
//     normalizes them by their own batch's statistics and its running
//     averages, which inference uses, come from the real images alone.
//     The authors train a fresh hashing network (pre-trained on ImageNet)
//     where here it is the one network, trained from scratch.
//
// Measured (fmnist-1k, 48 bits, train --labelled 500 --batch 64 --epochs
// 60, mAP@all on seeds 0, 1 and 2): HashNet on the 500 labelled images
// 0.7426, 0.7560 and 0.7387 (mean 0.7458), this method 0.7417, 0.7363 and
// 0.7408 (mean 0.7396): the synthesized pairs beat HashNet on seed 2
// alone and cost 0.006 on the mean, less than the seeds' spread. G's images
// are blurred and speckled class sketches (the samples PNG of a run), so
// the pairs teach the network codes for images unlike the test images.
// Earlier versions, in builds not kept: with the synthesized images in
// the network's batch, after the real ones (one pass, batch statistics
// shared, so that until the warm-up's end the synthesized rows had to be
// copies of the real images: without that the two groups' statistics set
// them apart and gave the real images nearly one code, HashNet's loss
// near 4 in the first epoch against 1.4 to 1.6 alone), conditioned on
// classes drawn uniformly: 0.7367, 0.7320 and 0.7307 (mean 0.7331); with
// that, on seed 0, Synthetic 0.5 gave 0.7377, a quarter as many
// synthesized images 0.7344, and four times as many stage-1 steps
// (Pretrain 20, 8,400 steps) 0.7257.
type HashGANCao struct {
	// Alpha scales the hashing network's inner products (HashNet's),
	// Stages and Gamma set its continuation: 0.1, 50, 2, as HashNet's.
	Alpha  float64
	Stages int
	Gamma  float64
	// CosineAlpha scales the cosines of the critic's hash head: 10, the
	// authors' CROSS_ENTROPY_ALPHA in their CIFAR-10 configuration (5 in
	// their defaults).
	CosineAlpha float64
	// Penalty is the gradient penalty's lambda: 10, as WGAN-GP and the
	// authors' code.
	Penalty float64
	// Conditional weighs the pair conditional loss in the generator's
	// loss: 10, the authors' ACGAN_SCALE_G in their CIFAR-10
	// configuration (config/cifar_step_1.yaml; 0.1 in their defaults).
	// With 0.1 and CosineAlpha 5 G's images hardly depended on the class
	// asked for (fmnist-1k, 500 labels, 48 bits, seed 0: trousers, shoes
	// and bags drawn as tops; mAP@all 0.7270), with 10 and 10 they do
	// (0.7367).
	Conditional float64
	// Synthetic weighs the real-synthetic pairs in the hashing network's
	// loss: 1, as the authors' code weighs them against the real pairs.
	Synthetic float64
	// Pretrain is the number of stage-1 steps per step of the network's
	// training, and PretrainRate their Adam learning rate: 5 and 5e-4.
	Pretrain     int
	PretrainRate float64
	// Warmup is the fraction of the network's training before the
	// synthesized pairs enter its loss. 0.5.
	Warmup float64
	// Unlabelled is the number of unlabelled images per labelled one in
	// the critic's batches, when the trainer has some: 1, as the
	// authors' code.
	Unlabelled float64
	// Noise is the dimension of the generator's noise z. 64.
	Noise int
	// GeneratorHidden and CriticHidden are the widths of the hidden layers
	// of G and of D's trunk.
	GeneratorHidden, CriticHidden []int
}

func init() {
	Register(HashGANCao{
		Alpha: 0.1, Stages: 50, Gamma: 2, CosineAlpha: 10, Penalty: 10, Conditional: 10, Synthetic: 1,
		Pretrain: 5, PretrainRate: 5e-4, Warmup: 0.5, Unlabelled: 1, Noise: 64, GeneratorHidden: []int{512}, CriticHidden: []int{256},
	})
}

// Info describes HashGAN (Cao et al.).
func (HashGANCao) Info() Info {
	return Info{
		Name:       "hashgan-cao",
		Title:      "HashGAN: deep learning to hash with pair conditional Wasserstein GAN",
		Paper:      "Y. Cao, B. Liu, M. Long, J. Wang. HashGAN: Deep Learning to Hash with Pair Conditional Wasserstein GAN. CVPR 2018",
		Supervised: true,
	}
}

// Pretraining implements Pretrainer: stage 1, the PC-WGAN, Pretrain
// times as many steps as stage 2.
func (m HashGANCao) Pretraining(steps int) (pretrain int, rate, beta1, beta2 float64) {
	return m.Pretrain * steps, m.PretrainRate, 0.5, 0.9
}

// PretrainUnlabelled implements UnlabelledPretrainer: Unlabelled times
// batch, rounded.
func (m HashGANCao) PretrainUnlabelled(batch int) int {
	return int(math.Round(m.Unlabelled * float64(batch)))
}

// SharedLoss implements SharedDiscriminator: G's images, one for each
// real image and conditioned on its label, held fixed, go through the
// network in a pass of their own; Loss then scores the real rows and
// those.
func (m HashGANCao) SharedLoss(b Batch, net Network) *Node {
	x := mustImages(b, "hashgan-cao")
	rows := b.U.Shape().Dimensions[0]
	labels := b.Labels
	fake := Identity(StopGradient(m.generator(b, labels, x.Shape().Dimensions)))
	uf := net.Encode(fake)
	b.U = Concatenate([]*Node{b.U, uf}, 0)
	b.Labels = Concatenate([]*Node{labels, labels}, 0)
	b.Labelled = rows
	return m.Loss(b)
}

// warm returns 1 once the synthesized pairs train the hashing network
// (step >= Warmup Steps), 0 before, as a scalar of dtype.
func (m HashGANCao) warm(b Batch, g *Graph, dtype dtypes.DType) *Node {
	start := math.Floor(m.Warmup * float64(b.Steps))
	step := b.Step
	if step == nil {
		step = ScalarZero(g, dtype)
	}
	return ConvertDType(GreaterOrEqual(ConvertDType(step, dtype), Scalar(g, dtype, start)), dtype)
}

// generator returns G(z, y) for the labels [rows] (int32), z drawn from
// b.Scope's random state, as images of dims' height, width and channels.
func (m HashGANCao) generator(b Batch, labels *Node, dims []int) *Node {
	g := labels.Graph()
	rows := labels.Shape().Dimensions[0]
	z := b.Scope.RandomNormal(g, shapes.Make(b.Images.DType(), rows, m.Noise))
	y := OneHot(labels, b.Classes, b.Images.DType())
	return generative.Generator(b.Scope.At("generator"), Concatenate([]*Node{z, y}, 1), m.GeneratorHidden, dims[1], dims[2], dims[3])
}

// Loss is stage 2's L_H on one batch (see the type's comment); the rows
// after the first Labelled are the synthesized ones.
func (m HashGANCao) Loss(b Batch) *Node {
	rows := b.U.Shape().Dimensions[0]
	n := b.Labelled
	if n <= 0 || n > rows {
		n = rows
	}
	dt := b.U.DType()
	h := ContinuationTanh(b.U, b.StepOrZero(), b.Steps, m.Stages, m.Gamma)
	hr, yr := Slice(h, AxisRange(0, n)), Slice(b.Labels, AxisRange(0, n))
	loss := WeightedPairCrossEntropy(MulScalar(MatMul(hr, Transpose(hr, 0, 1)), m.Alpha), PairSimilarity(yr, dt))
	b.Report("hash", loss)
	if n == rows {
		// A node apart from the reported one: the pure-Go backend fails
		// to run a graph whose output is also a variable's new value.
		return Identity(loss)
	}
	hs, ys := Slice(h, AxisRange(n, rows)), Slice(b.Labels, AxisRange(n, rows))
	s := ConvertDType(Equal(ExpandAxes(yr, 1), ExpandAxes(ys, 0)), dt)
	theta := MulScalar(MatMul(StopGradient(hr), Transpose(hs, 0, 1)), m.Alpha)
	synthetic := MaskedPairCrossEntropy(theta, s, OnesLike(s))
	b.Report("synthetic", synthetic)
	return Add(loss, Mul(MulScalar(synthetic, m.Synthetic), m.warm(b, b.U.Graph(), dt)))
}

// PretrainLoss is stage 1's L_D + L_G on the batch's images and as many
// fakes, each player's gradient reaching only its own weights (see the
// type's comment). The Wasserstein terms and the penalty take all rows,
// the unlabelled ones after the first Labelled included; the pair
// conditional terms take the labelled rows and their fakes.
func (m HashGANCao) PretrainLoss(b Batch) *Node {
	x := mustImages(b, "hashgan-cao")
	dt := x.DType()
	rows := x.Shape().Dimensions[0]
	n := b.Labelled
	if n <= 0 || n > rows {
		n = rows
	}
	labels := Slice(b.Labels, AxisRange(0, n))
	// Fake i < n is conditioned on real image i's label, the others on
	// classes drawn uniformly (the authors' code conditions them on the
	// unlabelled images' labels, which it reads from its database list).
	conds := labels
	if rows > n {
		conds = Concatenate([]*Node{labels, b.Scope.RandomIntN(x.Graph(), int32(b.Classes), shapes.Make(dtypes.Int32, rows-n))}, 0)
	}
	fake := m.generator(b, conds, x.Shape().Dimensions)
	critic := b.Scope.At("critic")
	vr, cr, _ := m.critic(critic, x, b.Bits, false, false)
	vf, cf, _ := m.critic(critic, StopGradient(fake), b.Bits, false, false)
	e := b.Scope.RandomUniform(x.Graph(), shapes.Make(dt, rows, 1))
	flat := generative.Flatten(x)
	between := Add(flat, Mul(e, Sub(generative.Flatten(StopGradient(fake)), flat)))
	_, _, grad := m.critic(critic, between, b.Bits, false, true)
	wasserstein := Sub(ReduceAllMean(vf), ReduceAllMean(vr))
	penalty := GradientPenalty(grad)
	sim := PairSimilarity(labels, dt)
	cr, cf = Slice(cr, AxisRange(0, n)), Slice(cf, AxisRange(0, n))
	fixed := StopGradient(cr)
	// S_xx~ is S_xx for the labelled rows and their fakes.
	condReal := WeightedPairCrossEntropy(CosineLogits(cr, cr, m.CosineAlpha), sim)
	condFake := MaskedPairCrossEntropy(CosineLogits(fixed, cf, m.CosineAlpha), sim, OnesLike(sim))
	lossD := Add(Add(wasserstein, MulScalar(penalty, m.Penalty)), Add(condReal, condFake))

	vg, cg, _ := m.critic(critic, fake, b.Bits, true, false)
	advG := Neg(ReduceAllMean(vg))
	condG := MaskedPairCrossEntropy(CosineLogits(fixed, Slice(cg, AxisRange(0, n)), m.CosineAlpha), sim, OnesLike(sim))
	lossG := Add(advG, MulScalar(condG, m.Conditional))

	b.Report(ReportDiscriminatorLoss, wasserstein)
	b.Report("gp", penalty)
	b.Report("cond", Add(condReal, condFake))
	b.Report("g_adv", advG)
	return Add(lossD, lossG)
}

// critic runs D on images [rows, ...] (flattened): leaky-ReLU layers of
// CriticHidden, then the value head D_w [rows] and the hash head D_h
// [rows, bits]. With grad it also returns the gradient of D_w with
// respect to the flattened input, [rows, pixels]. frozen stops the
// gradient at every weight (generative.Dense).
func (m HashGANCao) critic(scope *model.Scope, images *Node, bits int, frozen, grad bool) (value, codes, inputGrad *Node) {
	x := generative.Flatten(images)
	g := x.Graph()
	var weights, slopes []*Node
	for i, width := range m.CriticHidden {
		layer := scope.At("d%d", i)
		z := generative.Dense(layer, x, width, frozen)
		weights = append(weights, layer.GetVariable("weights").NodeValue(g))
		slopes = append(slopes, StopGradient(Where(GreaterThan(z, ZerosLike(z)), OnesLike(z), MulScalar(OnesLike(z), generative.LeakySlope))))
		x = generative.LeakyRelu(z, generative.LeakySlope)
	}
	out := scope.At("d_out")
	value = Reshape(generative.Dense(out, x, 1, frozen), x.Shape().Dimensions[0])
	codes = generative.Dense(scope.At("h_out"), x, bits, frozen)
	if !grad {
		return value, codes, nil
	}
	// d D_w / d x = w_out^T diag(s_L) W_L^T ... diag(s_1) W_1^T, row by row.
	w := out.GetVariable("weights").NodeValue(g)
	d := BroadcastToDims(Transpose(w, 0, 1), x.Shape().Dimensions...)
	for i := len(weights) - 1; i >= 0; i-- {
		d = MatMul(Mul(d, slopes[i]), Transpose(weights[i], 0, 1))
	}
	return value, codes, d
}

// Generate returns G's samples for the labels of b's images, one per
// image, so that the grid shows each real image above a synthesized one
// of its class.
func (m HashGANCao) Generate(b Batch) *Node {
	x := mustImages(b, "hashgan-cao")
	return m.generator(b, b.Labels, x.Shape().Dimensions)
}

// GradientPenalty is WGAN-GP's E (||g|| - 1)^2 over the rows of the
// critic's input gradients g [rows, dim] (Gulrajani et al., "Improved
// Training of Wasserstein GANs", NeurIPS 2017). The norm is taken as
// sqrt(|g|^2 + 1e-12), finite in its gradient at g = 0.
func GradientPenalty(g *Node) *Node {
	norm := Sqrt(AddScalar(ReduceSum(Square(g), 1), 1e-12))
	return ReduceAllMean(Square(AddScalar(norm, -1)))
}

// CosineLogits returns alpha times the cosines of the rows of u [n, k]
// and v [m, k], [n, m]: the scores the authors' HashGAN code gives pairs
// of hash outputs (its "normed" cross-entropy).
func CosineLogits(u, v *Node, alpha float64) *Node {
	nu := Sqrt(AddScalar(ReduceSum(Square(u), 1), 1e-12))
	nv := Sqrt(AddScalar(ReduceSum(Square(v), 1), 1e-12))
	return MulScalar(Div(MatMul(u, Transpose(v, 0, 1)), Mul(ExpandAxes(nu, 1), ExpandAxes(nv, 0))), alpha)
}

// MaskedPairCrossEntropy is HashNet's balanced negative log-likelihood
// (WeightedPairCrossEntropy) over the pairs where mask is 1, for pair
// logits theta and similarities s, all [n, m] (pairs of two different
// sets of rows allowed):
//
//	mean_{mask, s = 1} (log(1 + exp(theta)) - theta) + mean_{mask, s = 0} log(1 + exp(theta))
//
// which is 1/|M| sum_M w_ij (log(1 + exp(theta_ij)) - s_ij theta_ij) with
// w = |M|/|M_1| on similar pairs and |M|/|M_0| on dissimilar ones. A kind
// of pair absent from the mask adds 0.
func MaskedPairCrossEntropy(theta, s, mask *Node) *Node {
	one := ScalarOne(theta.Graph(), theta.DType())
	pos := Mul(s, mask)
	neg := Mul(OneMinus(s), mask)
	nll := Sub(Softplus(theta), Mul(s, theta))
	return Add(Div(ReduceAllSum(Mul(pos, nll)), Max(ReduceAllSum(pos), one)),
		Div(ReduceAllSum(Mul(neg, nll)), Max(ReduceAllSum(neg), one)))
}

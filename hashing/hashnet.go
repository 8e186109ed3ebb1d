package hashing

import (
	"math"

	. "github.com/gomlx/gomlx/core/graph"
)

// HashNet is HashNet: Z. Cao, M. Long, J. Wang, P. S. Yu, "HashNet: Deep
// Learning to Hash by Continuation", ICCV 2017.
//
// The network's output z passes through h = tanh(beta z). For the pairs
// (i, j) of the mini-batch with similarity s_ij (1 for the same class),
// the paper's weighted maximum likelihood (its equation 5) is
//
//	L = sum_ij w_ij ( log(1 + exp(alpha <h_i, h_j>)) - alpha s_ij <h_i, h_j> )
//
// with the weights of its equation 2 balancing the few similar pairs
// against the many dissimilar ones, w_ij = |S| / |S_1| for s_ij = 1 and
// |S| / |S_0| for s_ij = 0, counted in the mini-batch. alpha is 0.1, as in
// DeepHash-pytorch's HashNet (the authors' code uses 10/bits, which
// trained worse on fmnist-1k at 48 bits). The sum is divided by |S| so
// that the loss does not grow with the batch. A pair of an image with itself is left out:
// the authors' code draws the two sides of its pairs from two independent
// batches.
//
// Continuation (section 3.3 of the paper): beta starts at 1 and is raised
// in stages so that tanh(beta z) approaches sign(z). The authors' code
// sets beta = (1 + 0.005 t)^0.5 every 200 of its 10,000 iterations, beta
// ending at about 7.1; runs here are shorter (1,170 steps on fmnist-1k),
// so 50 stages are spread over the run: stage s of 50 uses
// beta = (1 + Gamma s)^0.5. Gamma = 0.005 * 200 = 1 would end at the
// authors' 7.1; Gamma is 2 here, ending at 9.9, the beta the authors'
// schedule reaches after 20,000 iterations, so that the last stages come
// closer to sign(z) in a run of a tenth of the authors' steps. Measured
// (fmnist-1k, 48 bits, seed 0, 30 epochs, mAP@all): Gamma 2 0.8303,
// Gamma 1 0.8297 (a small gain; alpha 0.05 and 0.2 with Gamma 1 gave
// 0.8175 and 0.8226).
// Codes are sign(z) = sign(h).
type HashNet struct {
	// Alpha scales the inner products inside the sigmoid.
	Alpha float64
	// Stages is the number of continuation stages over the run. 50.
	Stages int
	// Gamma raises beta per stage: beta = (1 + Gamma s)^0.5. 2.
	Gamma float64
}

func init() { Register(HashNet{Alpha: 0.1, Stages: 50, Gamma: 2}) }

// Info describes HashNet.
func (HashNet) Info() Info {
	return Info{
		Name:       "hashnet",
		Title:      "HashNet: deep learning to hash by continuation",
		Paper:      "Z. Cao, M. Long, J. Wang, P. S. Yu. HashNet: Deep Learning to Hash by Continuation. ICCV 2017",
		Supervised: true,
	}
}

// Beta returns the continuation's beta at step of a run of steps.
func (m HashNet) Beta(step, steps int) float64 {
	return math.Sqrt(1 + m.Gamma*float64(m.stage(float64(step), steps)))
}

func (m HashNet) stage(step float64, steps int) float64 {
	if steps < 1 {
		return 0
	}
	return math.Min(math.Floor(step*float64(m.Stages)/float64(steps)), float64(m.Stages-1))
}

// Loss is the paper's weighted pairwise cross-entropy over the pairs of
// distinct images of the mini-batch, on h = tanh(beta z).
func (m HashNet) Loss(b Batch) *Node {
	u := b.U
	h := ContinuationTanh(u, b.StepOrZero(), b.Steps, m.Stages, m.Gamma)
	theta := MulScalar(MatMul(h, Transpose(h, 0, 1)), m.Alpha)
	return WeightedPairCrossEntropy(theta, PairSimilarity(b.Labels, u.DType()))
}

// WeightedPairCrossEntropy returns HashNet's balanced negative
// log-likelihood of the similarities s given the pair logits theta (both
// [batch, batch]), over the off-diagonal pairs:
//
//	1/|S| sum_{i != j} w_ij (log(1 + exp(theta_ij)) - s_ij theta_ij)
//
// with w_ij = |S|/|S_1| on similar pairs and |S|/|S_0| on dissimilar ones.
// A batch without similar (or dissimilar) pairs weighs the other kind
// alone, by 1.
func WeightedPairCrossEntropy(theta, s *Node) *Node {
	g := theta.Graph()
	n := theta.Shape().Dimensions[0]
	offDiag := OneMinus(identity(g, n, theta.DType()))
	pos := Mul(s, offDiag)
	neg := Mul(OneMinus(s), offDiag)
	total := float64(n * (n - 1))
	nPos, nNeg := ReduceAllSum(pos), ReduceAllSum(neg)
	one := ScalarOne(g, theta.DType())
	// w = |S|/|S_1|; with no similar pair it multiplies zeros, kept finite.
	wPos := Div(Scalar(g, theta.DType(), total), Max(nPos, one))
	wNeg := Div(Scalar(g, theta.DType(), total), Max(nNeg, one))
	nll := Sub(Softplus(theta), Mul(s, theta))
	weights := Add(Mul(pos, wPos), Mul(neg, wNeg))
	return DivScalar(ReduceAllSum(Mul(weights, nll)), total)
}

// ContinuationTanh returns tanh(beta u) with beta = sqrt(1 + gamma s) at
// stage s = min(floor(step stages / steps), stages - 1): the smoothed sign
// activation that tends to sign(u) as training goes on (HashNet's
// continuation).
func ContinuationTanh(u, step *Node, steps, stages int, gamma float64) *Node {
	stage := Floor(MulScalar(step, float64(stages)/float64(max(steps, 1))))
	stage = Min(stage, Scalar(u.Graph(), u.DType(), float64(stages-1)))
	return Tanh(Mul(u, Sqrt(AddScalar(MulScalar(stage, gamma), 1))))
}

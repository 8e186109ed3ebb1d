package hashing

import (
	"math"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/train"
)

// HashNet is Z. Cao, M. Long, J. Wang, P. S. Yu, "HashNet: Deep Learning
// to Hash by Continuation", ICCV 2017.
//
// Codes are h = tanh(beta z) of the network output z; beta grows by
// continuation until tanh approaches sign. The loss is the weighted
// maximum likelihood of the paper's equation 5 over the pairs of the
// mini-batch,
//
//	L = sum_ij w_ij ( log(1 + exp(alpha <h_i, h_j>)) - alpha s_ij <h_i, h_j> ) / B^2
//
// with s_ij = 1 for images of one class, alpha the adaptive sigmoid's
// scale, and the weights balancing similar and dissimilar pairs:
// w_ij = |S| / |S_1| when s_ij = 1 and |S| / |S_0| when s_ij = 0
// (equation 4), counted in the mini-batch (the paper counts them over the
// training set; the batch is a uniform sample of it).
//
// Continuation follows the authors' code: beta = (1 + 0.005 t)^0.5 for the
// training step t, updated every 200 steps; alpha = 10 / bits, the code's
// sigmoid_param.
type HashNet struct {
	// Gamma, Power and StepSize set beta = (1 + Gamma t)^Power, with t
	// rounded down to a multiple of StepSize. Authors': 0.005, 0.5, 200.
	Gamma, Power float64
	StepSize     int
	// AlphaBits sets alpha = AlphaBits / bits. Authors': 10.
	AlphaBits float64
}

func init() { Register(HashNet{Gamma: 0.005, Power: 0.5, StepSize: 200, AlphaBits: 10}) }

// Info describes HashNet.
func (HashNet) Info() Info {
	return Info{
		Name:       "hashnet",
		Title:      "HashNet: deep learning to hash by continuation",
		Paper:      "Z. Cao, M. Long, J. Wang, P. S. Yu. HashNet: Deep Learning to Hash by Continuation. ICCV 2017",
		Supervised: true,
	}
}

// Beta returns the continuation scale at training step t.
func (m HashNet) Beta(t int64) float64 {
	t -= t % int64(m.StepSize)
	return math.Pow(1+m.Gamma*float64(t), m.Power)
}

// Loss reads the training step from the trainer's step counter and
// applies LossAt with its beta.
func (m HashNet) Loss(u, labels *Node) *Node {
	g := u.Graph()
	step := ConvertDType(train.GetTrainLastStepVar(g).NodeValue(g), u.DType())
	size := float64(m.StepSize)
	t := MulScalar(Floor(DivScalar(step, size)), size)
	beta := Pow(AddScalar(MulScalar(t, m.Gamma), 1), Scalar(g, u.DType(), m.Power))
	return m.LossAt(u, labels, beta)
}

// LossAt is the loss of a mini-batch for a given beta (a scalar node).
func (m HashNet) LossAt(u, labels, beta *Node) *Node {
	bits := float64(u.Shape().Dimensions[1])
	h := Tanh(Mul(u, beta))
	ip := MulScalar(MatMul(h, Transpose(h, 0, 1)), m.AlphaBits/bits)
	s := PairSimilarity(labels, u.DType())
	// log(1 + exp(x)) computed stably as max(x, 0) + log(1 + exp(-|x|)).
	softplus := Add(Max(ip, ZerosLike(ip)), Log1p(Exp(Neg(Abs(ip)))))
	perPair := Sub(softplus, Mul(s, ip))
	n := float64(u.Shape().Dimensions[0])
	s1 := ReduceAllSum(s)
	s0 := Sub(Scalar(u.Graph(), u.DType(), n*n), s1)
	total := Scalar(u.Graph(), u.DType(), n*n)
	// Guard the counts: a batch without dissimilar (or similar) pairs has
	// no such terms to weigh.
	one := ScalarOne(u.Graph(), u.DType())
	w := Add(Mul(s, Div(total, Max(s1, one))), Mul(OneMinus(s), Div(total, Max(s0, one))))
	return DivScalar(ReduceAllSum(Mul(w, perPair)), n*n)
}

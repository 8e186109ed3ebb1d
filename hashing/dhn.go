package hashing

import (
	. "github.com/gomlx/gomlx/core/graph"
)

// DHN is the Deep Hashing Network: H. Zhu, M. Long, J. Wang, Y. Cao,
// "Deep Hashing Network for Efficient Similarity Retrieval", AAAI 2016:
// the plain pairwise cross-entropy plus quantization loss that DVSQ's
// chapter contrasts with.
//
// For network outputs z and pair similarities s_ij (1 for one class),
//
//	L = sum_ij ( log(1 + exp(w_ij)) - s_ij w_ij ) / B^2
//	    + lambda * mean_ik log cosh(|z_ik| - 1),   w_ij = <z_i, z_j> / 2
//
// the negative log-likelihood of the pairwise labels under
// sigma(<z_i, z_j>/2), and the smooth quantization loss that pulls each
// output to +-1. Constants follow DeepHash-pytorch's DHN: the inner
// product halved, lambda = 0.1 on the mean over outputs. Pairs are formed
// inside each mini-batch.
type DHN struct {
	// Lambda weighs the quantization loss. Default 0.1.
	Lambda float64
}

func init() { Register(DHN{Lambda: 0.1}) }

// Info describes DHN.
func (DHN) Info() Info {
	return Info{
		Name:       "dhn",
		Title:      "Deep Hashing Network (pairwise cross-entropy + quantization)",
		Paper:      "H. Zhu, M. Long, J. Wang, Y. Cao. Deep Hashing Network for Efficient Similarity Retrieval. AAAI 2016",
		Supervised: true,
	}
}

// Loss is the pairwise negative log-likelihood plus the quantization loss.
func (m DHN) Loss(u, labels *Node) *Node {
	w := MulScalar(MatMul(u, Transpose(u, 0, 1)), 0.5)
	s := PairSimilarity(labels, u.DType())
	// log(1 + exp(w)) computed stably as max(w, 0) + log(1 + exp(-|w|)).
	softplus := Add(Max(w, ZerosLike(w)), Log1p(Exp(Neg(Abs(w)))))
	likelihood := ReduceAllMean(Sub(softplus, Mul(s, w)))
	quantization := ReduceAllMean(Log(Cosh(AddScalar(Abs(u), -1))))
	return Add(likelihood, MulScalar(quantization, m.Lambda))
}

// Cosh is (e^x + e^-x) / 2.
func Cosh(x *Node) *Node {
	return MulScalar(Add(Exp(x), Exp(Neg(x))), 0.5)
}

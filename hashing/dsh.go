package hashing

import (
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"

	"github.com/lookalike/lookalike/encoder"
)

// DSH is Deep Supervised Hashing: H. Liu, R. Wang, S. Shan, X. Chen, "Deep
// Supervised Hashing for Fast Image Retrieval", CVPR 2016.
//
// For a pair of network outputs (b1, b2) with y = 0 when the images are
// similar and 1 otherwise, the paper's loss (its equation 4) is
//
//	L = 1/2 (1-y) ||b1-b2||^2 + 1/2 y max(m - ||b1-b2||^2, 0)
//	    + alpha (|| |b1| - 1 ||_1 + || |b2| - 1 ||_1)
//
// with margin m = 2k for k bits and alpha = 0.01. Pairs are formed inside
// each mini-batch (as the paper's online pair generation); the pair term is
// averaged over all batch x batch ordered pairs and the regularizer over the
// images, as the PyTorch reference does. Codes are sign(b).
type DSH struct {
	// Alpha weighs the regularizer pulling outputs towards +-1. Paper: 0.01.
	Alpha float64
	// MarginPerBit gives the margin m = MarginPerBit * bits. Paper: 2.
	MarginPerBit float64
}

func init() { Register(DSH{Alpha: 0.01, MarginPerBit: 2}) }

// Info describes DSH.
func (DSH) Info() Info {
	return Info{
		Name:       "dsh",
		Title:      "Deep Supervised Hashing",
		Paper:      "H. Liu, R. Wang, S. Shan, X. Chen. Deep Supervised Hashing for Fast Image Retrieval. CVPR 2016",
		Supervised: true,
	}
}

// Loss is equation 4 of the paper over every pair of the mini-batch.
func (m DSH) Loss(b Batch) *Node {
	u, labels := b.U, b.Labels
	bits := float64(u.Shape().Dimensions[1])
	similar := PairSimilarity(labels, u.DType())
	d := SquaredDistances(u)
	pair := Add(
		Mul(similar, d),
		Mul(OneMinus(similar), encoder.Relu(AddScalar(Neg(d), m.MarginPerBit*bits))))
	reg := ReduceSum(Abs(AddScalar(Abs(u), -1)), 1)
	return Add(MulScalar(ReduceAllMean(pair), 0.5), MulScalar(ReduceAllMean(reg), m.Alpha))
}

// PairSimilarity returns the [batch, batch] matrix with 1 where two labels
// are equal and 0 elsewhere.
func PairSimilarity(labels *Node, dtype dtypes.DType) *Node {
	return ConvertDType(Equal(ExpandAxes(labels, 1), ExpandAxes(labels, 0)), dtype)
}

// SquaredDistances returns the [batch, batch] squared Euclidean distances
// between the rows of u ([batch, dim]), as |a|^2 + |b|^2 - 2 a.b, clamped
// at 0 against rounding.
func SquaredDistances(u *Node) *Node {
	sq := ReduceSum(Square(u), 1)
	d := Sub(Add(ExpandAxes(sq, 1), ExpandAxes(sq, 0)), MulScalar(MatMul(u, Transpose(u, 0, 1)), 2))
	return encoder.Relu(d)
}

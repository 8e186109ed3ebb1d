package hashing

import (
	"math"

	. "github.com/gomlx/gomlx/core/graph"

	"github.com/lookalike/lookalike/encoder"
)

// LSTMSiamese is hashing with the LSTM siamese descriptors of Chen et al.
// (2019): a siamese network whose twin branches put an LSTM block between
// their convolutional and fully connected blocks, trained on pairs with
// the contrastive loss. The paper's text could not be consulted here; the
// network and loss follow that description.
//
// The LSTM reads the last convolutional block's 7x7 map as a sequence of
// 49 positions in raster order, each a vector of the block's channels, and
// hands the states of all steps (Hidden units each) to the reference
// network's fully connected layers: every position's features then carry
// the context of the positions read before it. With Hidden = 64 the fully
// connected layer reads as many values as from the flattened map.
//
// The two branches of a siamese network share their weights, so the pairs
// are formed inside each mini-batch, as DSH does, rather than by running
// the network twice. The contrastive loss (R. Hadsell, S. Chopra, Y.
// LeCun, "Dimensionality Reduction by Learning an Invariant Mapping", CVPR
// 2006, equation 4), with y = 0 for a pair of one class and 1 otherwise
// and D = ||u1 - u2||_2, is
//
//	L = 1/2 (1-y) D^2 + 1/2 y max(m - D, 0)^2
//
// averaged over the batch's ordered pairs. The margin m = sqrt(2k) for k
// bits is the distance of two codes of +-1 that differ in half their bits,
// as DSH's margin on the squared distance. Since the codes are sign(u) and
// the paper's descriptors are real-valued, DSH's regularizer alpha
// || |u| - 1 ||_1 (averaged over the images) is added to pull the outputs
// towards the binary codes; it is the one term not in the paper.
type LSTMSiamese struct {
	// MarginPerBit gives the margin m = sqrt(MarginPerBit * bits).
	MarginPerBit float64
	// Alpha weighs the regularizer pulling outputs towards +-1.
	Alpha float64
	// Hidden is the width of the LSTM's state.
	Hidden int
}

func init() { Register(LSTMSiamese{MarginPerBit: 2, Alpha: 0.01, Hidden: 64}) }

// Info describes LSTMSiamese.
func (LSTMSiamese) Info() Info {
	return Info{
		Name:       "lstmsiamese",
		Title:      "LSTM siamese descriptors: an LSTM between the convolutional and fully connected blocks, contrastive loss",
		Paper:      "Chen et al., LSTM siamese network descriptors for image retrieval, 2019; contrastive loss of R. Hadsell, S. Chopra, Y. LeCun, CVPR 2006",
		Supervised: true,
	}
}

// Network puts the LSTM between the convolutional and fully connected
// blocks.
func (m LSTMSiamese) Network(base encoder.CNN) encoder.CNN {
	base.Recurrent = encoder.Recurrent{Cell: "lstm", Hidden: m.Hidden, Sequence: true}
	return base
}

// distanceFloor keeps the square root off zero, where its derivative is
// infinite: the diagonal pairs sit at distance 0, and a zero weight times
// an infinite derivative would give NaN.
const distanceFloor = 1e-6

// Loss is the contrastive loss over every ordered pair of the batch, plus
// the regularizer.
func (m LSTMSiamese) Loss(b Batch) *Node {
	u := b.U
	bits := float64(u.Shape().Dimensions[1])
	similar := PairSimilarity(b.Labels, u.DType())
	d2 := SquaredDistances(u)
	d := Sqrt(AddScalar(d2, distanceFloor))
	pair := Add(
		Mul(similar, d2),
		Mul(OneMinus(similar), Square(encoder.Relu(AddScalar(Neg(d), math.Sqrt(m.MarginPerBit*bits))))))
	reg := ReduceSum(Abs(AddScalar(Abs(u), -1)), 1)
	return Add(MulScalar(ReduceAllMean(pair), 0.5), MulScalar(ReduceAllMean(reg), m.Alpha))
}

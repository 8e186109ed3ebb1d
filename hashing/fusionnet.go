package hashing

import (
	. "github.com/gomlx/gomlx/core/graph"

	"github.com/lookalike/lookalike/encoder"
)

// FusionNet is supervised hashing with multi-depth feature fusion, the
// "FusionNet-style" method of the project's seed: the hash layer is fed by
// features fused from several convolutional depths instead of the last
// block alone, and trained with a pairwise loss.
//
// The seed names no single paper; the design here is the one it
// describes. The fusion follows the multi-scale network of Y. Sun, X.
// Wang, X. Tang, "Deep Learning Face Representation from Predicting
// 10,000 Classes" (CVPR 2014), whose first fully connected layer reads the
// last two convolutional blocks: here every block's map is pooled to the
// last block's size and stacked with it (encoder.CNN.Fuse). The pairwise
// loss is DSH's (equation 4 of Liu et al., CVPR 2016, with its margin and
// regularizer), so that the fusion is the only difference from the dsh
// method and the results table shows what it adds over the last layer
// alone.
type FusionNet struct {
	// Pair is the pairwise loss.
	Pair DSH
}

func init() { Register(FusionNet{Pair: DSH{Alpha: 0.01, MarginPerBit: 2}}) }

// Info describes FusionNet.
func (FusionNet) Info() Info {
	return Info{
		Name:       "fusionnet",
		Title:      "FusionNet-style hashing: multi-depth conv features fused into the hash layer, DSH pairwise loss",
		Paper:      "Fusion as in Y. Sun, X. Wang, X. Tang. Deep Learning Face Representation from Predicting 10,000 Classes. CVPR 2014; loss of H. Liu et al. DSH, CVPR 2016",
		Supervised: true,
	}
}

// Network turns on the fusion of every convolutional block's output.
func (FusionNet) Network(base encoder.CNN) encoder.CNN {
	base.Fuse = true
	return base
}

// Loss is DSH's pairwise loss.
func (m FusionNet) Loss(b Batch) *Node { return m.Pair.Loss(b) }

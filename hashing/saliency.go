package hashing

import (
	. "github.com/gomlx/gomlx/core/graph"

	"github.com/lookalike/lookalike/encoder"
)

// Saliency is supervised hashing with the saliency-weighted features of
// S. Wei, L. Liao, J. Li, Q. Zheng, F. Yang, Y. Zhao, "Saliency Inside:
// Learning Attentive CNNs for Content-based Image Retrieval", IEEE TIP
// 28(9), 2019.
//
// The paper's Main and Auxiliary CNN (MAC) has a main stream that extracts
// semantic features and an auxiliary stream that predicts a saliency map;
// the main stream's convolutional features are weighted by the map before
// they are pooled, so that the descriptor keeps the conspicuous content and
// suppresses the rest. Here the auxiliary stream is a small branch on the
// last convolutional block (encoder.Attend: 1x1 convolution to Units ReLU
// channels, 1x1 convolution to one channel, sigmoid), and the weighted map
// feeds the reference network's fully connected layers and hash layer.
//
// Differences from the paper, which this project cannot reproduce: the
// paper's auxiliary stream is a separate deep network trained on eye
// fixation density maps recorded for the purpose, and the model serves
// real-valued retrieval descriptors; no fixation data exist for
// Fashion-MNIST, so the branch here shares the main stream's features and
// learns its map from the hashing loss alone. The loss is DSH's pairwise
// loss (equation 4 of Liu et al., CVPR 2016, see DSH),
//
//	L = 1/2 (1-y) ||b1-b2||^2 + 1/2 y max(m - ||b1-b2||^2, 0)
//	    + alpha (|| |b1| - 1 ||_1 + || |b2| - 1 ||_1),
//
// as the paper trains no hash codes; with it the attention branch is the
// only difference from the dsh method.
type Saliency struct {
	// Pair is the pairwise loss.
	Pair DSH
	// Units is the width of the attention branch's hidden layer.
	Units int
}

func init() { Register(Saliency{Pair: DSH{Alpha: 0.01, MarginPerBit: 2}, Units: 32}) }

// Info describes Saliency.
func (Saliency) Info() Info {
	return Info{
		Name:       "saliency",
		Title:      "Saliency Inside: attention-weighted convolutional features, DSH pairwise loss",
		Paper:      "S. Wei, L. Liao, J. Li, Q. Zheng, F. Yang, Y. Zhao. Saliency Inside: Learning Attentive CNNs for Content-based Image Retrieval. IEEE TIP 2019; loss of H. Liu et al. DSH, CVPR 2016",
		Supervised: true,
	}
}

// Network adds the attention branch after the last convolutional block.
func (m Saliency) Network(base encoder.CNN) encoder.CNN {
	base.Attention = m.Units
	return base
}

// Loss is DSH's pairwise loss.
func (m Saliency) Loss(b Batch) *Node { return m.Pair.Loss(b) }

package learned

import (
	"fmt"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/lookalike/lookalike/descriptor"
)

// Gordo is Gordo et al.'s learned R-MAC: A. Gordo, J. Almazán, J.
// Revaud, D. Larlus, "Deep Image Retrieval: Learning global
// representations for image search", ECCV 2016, and "End-to-end Learning
// of Deep Visual Representations for Image Retrieval", IJCV 2017.
//
// The R-MAC pipeline, which the paper writes as differentiable layers:
// the MAC of every region of the last convolutional map, L2-normalized,
// shifted and projected by a fully connected layer, L2-normalized again,
// summed over the regions, and L2-normalized:
//
//	d = n( sum_r n( W (n(x_r) + s) ) ),  n(v) = v / (|v| + 1e-6)
//
// The shift s and the projection W start as the PCA whitening of the
// normalized region MACs of the training images (s = -mean, the rows of W
// the principal directions over their standard deviations), as the paper
// initializes them, and are then learned with the paper's three-stream
// siamese network and triplet ranking loss:
//
//	L(q, d+, d-) = 1/2 max(0, m + |q - d+|^2 - |q - d-|^2)
//
// with margin m = 0.1, on hard triplets mined with the current model (see
// HardNegatives).
//
// Differences from the paper, forced by this setting or chosen for it:
//   - The backbone is frozen (the paper fine-tunes the convolutions too)
//     and is the default MobileNetV2 (1792 channels), not VGG16 or
//     ResNet-101; only the shift and the projection learn.
//   - The regions are the rigid R-MAC grid of package descriptor (the
//     global MAC plus Tolias et al.'s three scales, 15 regions of a 7x7
//     map), the paper's ECCV baseline; its region proposal network is left
//     out.
//   - The projection reduces 1792 dimensions to Config.Dim (512 by
//     default) where the paper keeps the backbone's 2048: a full square
//     layer has 3.2 million weights for a few thousand training images.
//   - Training images are instance-level groups (an openclipart image and
//     its edited copies, package neardup's edits) instead of the cleaned
//     Landmarks set; a query's positive is one of its copies drawn at
//     random, its negatives the images of other groups.
//   - A step takes 16 tuples of a query, a positive and 4 hard negatives:
//     64 triplets, as the paper's steps, but sharing their query and
//     positive four by four where the paper's are independent.
//   - Adam (Config.LearningRate, 1e-4) instead of the paper's SGD, for 3
//     epochs of 1,000 queries (negatives mined among 2,000 images each
//     epoch): plain SGD barely moves the PCA start in so few steps.
//   - Images are squashed to 224x224 (the backbone's input) instead of
//     the paper's 800 pixels on the longer side.
const Gordo Method = "gordo"

// Gordo head variables: the shift s [C] and the projection W, stored as
// its transpose [C, Dim] so that the product is x W^T.
const (
	gordoShift      = "shift"
	gordoProjection = "projection"
)

// gordoRegions returns the MACs of the R-MAC regions of m, [1 + regions, C]
// row-major, not normalized: the global MAC first, then descriptor.Regions.
func gordoRegions(m descriptor.Map, dst []float32) []float32 {
	dst = append(dst, descriptor.RegionMAC(m, 0, 0, m.H, m.W)...)
	for _, r := range descriptor.Regions(m.H, m.W) {
		dst = append(dst, descriptor.RegionMAC(m, r[0], r[1], r[2], r[2])...)
	}
	return dst
}

// gordoRows is the number of regions of an h x w map.
func gordoRows(h, w int) int { return 1 + len(descriptor.Regions(h, w)) }

// gordoDescribe is the learned R-MAC: x [batch, regions, C] region MACs to
// descriptors [batch, Dim].
func gordoDescribe(scope *model.Scope, x *Node) *Node {
	g := x.Graph()
	d := x.Shape().Dimensions
	b, r, c := d[0], d[1], d[2]
	shift := variable(scope, gordoShift, g)
	proj := variable(scope, gordoProjection, g)
	if shift.Shape().Dimensions[0] != c {
		panic(fmt.Sprintf("learned: gordo head takes %d channels, the map has %d", shift.Shape().Dimensions[0], c))
	}
	v := normalize(Reshape(x, b*r, c))
	v = Add(v, BroadcastPrefix(shift, b*r))
	y := normalize(MatMul(v, proj)) // [b*r, Dim]
	dim := y.Shape().Dimensions[1]
	return normalize(ReduceSum(Reshape(y, b, r, dim), 1))
}

// GordoLoss is Gordo et al.'s triplet ranking loss,
//
//	L(q, d+, d-) = 1/2 max(0, m + |q - d+|^2 - |q - d-|^2),
//
// averaged over the triplets of a batch of tuples: desc is [tuples, 2+N,
// dim], each tuple the query q, its positive d+ and N negatives d-_1..N,
// which make N triplets.
func GordoLoss(desc *Node, margin float64) *Node {
	dPos, dNeg := tupleDistances(desc)
	// dPos [T, 1] broadcasts over the N negatives of dNeg [T, N].
	hinge := MaxScalar(AddScalar(Sub(BroadcastToDims(dPos, dNeg.Shape().Dimensions...), dNeg), margin), 0)
	return MulScalar(ReduceAllMean(hinge), 0.5)
}

// tupleDistances returns the squared distances of each tuple's query to
// its positive, [T, 1], and to its negatives, [T, N], of desc [T, 2+N, D].
func tupleDistances(desc *Node) (dPos, dNeg *Node) {
	d := desc.Shape().Dimensions
	if len(d) != 3 || d[1] < 3 {
		panic(fmt.Sprintf("learned: tuples of descriptors have shape %v, want [tuples, 2+negatives, dim] with at least one negative", d))
	}
	t, s, dim := d[0], d[1], d[2]
	q := Slice(desc, AxisRange(), AxisRange(0, 1), AxisRange()) // [T, 1, D]
	p := Slice(desc, AxisRange(), AxisRange(1, 2), AxisRange())
	n := Slice(desc, AxisRange(), AxisRange(2, s), AxisRange()) // [T, N, D]
	dPos = ReduceSum(Square(Sub(q, p)), 2)                      // [T, 1]
	dNeg = ReduceSum(Square(Sub(BroadcastToDims(q, t, s-2, dim), n)), 2)
	return dPos, dNeg
}

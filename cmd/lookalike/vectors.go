package main

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/lookalike/lookalike/codes"
	"github.com/lookalike/lookalike/dataset"
	"github.com/lookalike/lookalike/encoder"
	"github.com/lookalike/lookalike/eval"
	"github.com/lookalike/lookalike/hashing"
	"github.com/lookalike/lookalike/quantize"
	"github.com/lookalike/lookalike/training"
)

// errNotOnVectors marks a method that cannot learn from feature vectors.
var errNotOnVectors = errors.New("does not train on feature vectors")

// vectorHidden is the hidden layer of the network a deep method trains on
// feature vectors: the reference network's fully connected part.
const vectorHidden = 512

// vectorCoder codes feature vectors with what a hashing method learned on
// them, and ranks them: binary codes by Hamming distance, or, for a
// quantizing method (DVSQ), database codeword indices by the asymmetric
// quantizer distance to a query's real-valued output.
type vectorCoder struct {
	enc   encoder.Encoder
	dim   int // values per input vector
	bits  int
	quant *quantize.Quantizer // nil for binary codes
}

// Codes returns the binary codes of the vectors x; quantized codes have
// none.
func (c *vectorCoder) Codes(x []float32) (*codes.Set, error) {
	if c.quant != nil {
		return nil, fmt.Errorf("codeword indices are not binary codes")
	}
	out, err := c.enc.Encode(x, len(x)/c.dim)
	if err != nil {
		return nil, err
	}
	return codes.FromSigns(c.enc.Outputs(), out)
}

// Evaluate codes the database vectors db, ranks them for every query
// vector of q and scores the rankings as lookalike eval does.
func (c *vectorCoder) Evaluate(q []float32, qLabels []int32, db []float32, dbLabels []int32) (*eval.Report, error) {
	if c.quant == nil {
		qc, err := c.Codes(q)
		if err != nil {
			return nil, err
		}
		dc, err := c.Codes(db)
		if err != nil {
			return nil, err
		}
		return eval.Hamming(qc, qLabels, dc, dbLabels)
	}
	qz, err := c.enc.Encode(q, len(q)/c.dim)
	if err != nil {
		return nil, err
	}
	dz, err := c.enc.Encode(db, len(db)/c.dim)
	if err != nil {
		return nil, err
	}
	return rankQuantized(c.quant, c.bits, qz, qLabels, dz, dbLabels)
}

// fitVectors trains hashing method name on n feature vectors of dim
// values held back to back in x (CNN descriptors, say), with labels for
// the supervised methods, and returns the coder of vectors it learned.
// Shallow methods fit on the vectors as they fit on pixels; deep methods
// train the reference network's fully connected part (dim -> 512 -> bits)
// on them, for epochs epochs (0: as train's default). Methods that learn
// from transformed copies of images learn without them when they can
// (hashing.Unaugmenter: DeepBit, DBD-MQ). Methods whose network or loss
// needs images (convolutional maps, generated images) return an error
// wrapping errNotOnVectors.
func fitVectors(ctx context.Context, name string, bits int, x []float32, dim int, labels []int32, seed int64, epochs int) (*vectorCoder, error) {
	m, err := hashing.Lookup(name)
	if err != nil {
		return nil, err
	}
	if dim < 1 || len(x)%dim != 0 {
		return nil, fmt.Errorf("%d values are not vectors of %d", len(x), dim)
	}
	n := len(x) / dim
	if m.Info().Supervised && len(labels) != n {
		return nil, fmt.Errorf("%s is supervised: %d labels for %d vectors", name, len(labels), n)
	}
	var enc encoder.Encoder
	var quant *quantize.Quantizer
	switch m := m.(type) {
	case hashing.Shallow:
		var l []int32
		if m.Info().Supervised {
			l = labels
		}
		if enc, err = m.Fit(x, dim, l, bits, seed); err != nil {
			return nil, err
		}
	case hashing.Deep:
		if _, ok := m.(hashing.Augmenter); ok {
			u, ok := m.(hashing.Unaugmenter)
			if !ok {
				return nil, fmt.Errorf("%s %w: it trains on transformed copies of images", name, errNotOnVectors)
			}
			m = u.Unaugmented()
		}
		c := training.NewConfig(m, bits)
		c.Net = encoder.CNN{Height: 1, Width: dim, Channels: 1, Kernel: 1, Hidden: []int{vectorHidden}, Outputs: bits}
		if a, ok := m.(hashing.Architect); ok {
			c.Net = a.Network(c.Net)
		}
		if err := c.Net.Validate(); err != nil {
			return nil, fmt.Errorf("%s %w: %v", name, errNotOnVectors, err)
		}
		c.Seed, c.Epochs, c.BatchSize = seed, epochs, min(c.BatchSize, n)
		if c.Epochs == 0 {
			c.Epochs = methodEpochs(m, n)
		}
		l := labels
		if len(l) != n {
			l = make([]int32, n) // unsupervised methods read none
		} else {
			c.PerClass = perClass(l, c.BatchSize)
		}
		// Descriptors are L2-normalized: components of about 1/sqrt(dim),
		// where the network's initialization expects inputs of unit
		// scale. Scaled by the inverse of their root mean square, they are
		// (the same scale codes the vectors later). Measured on the learned
		// heads' photos (bench photos), unscaled inputs left DSH at mAP
		// 0.17.
		scale := inverseRMS(x)
		// A vector is a 1 x dim one-channel image: the network's rows are
		// then the vectors as they are.
		set := &dataset.Set{Height: 1, Width: dim, Channels: 1, Pixels: scaled(x, scale), Labels: l}
		model, err := training.Train(ctx, c, set)
		if err != nil {
			return nil, err
		}
		net, err := model.Encoder()
		if err != nil {
			return nil, err
		}
		enc = scaledEncoder{net, scale}
		if _, ok := m.(hashing.Quantizing); ok {
			if quant, err = model.Quantizer(); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("%s %w", name, errNotOnVectors)
	}
	return &vectorCoder{enc: enc, dim: dim, bits: bits, quant: quant}, nil
}

// perClass is the number of images of one label that go together in a
// training batch (training.Config.PerClass): 0, random batches, when a
// random batch of batch images already holds several images of each
// label; otherwise the mean number of images of a label, between 2 and 8,
// so that every image meets similar ones in its batch.
func perClass(labels []int32, batch int) int {
	count := map[int32]int{}
	for _, l := range labels {
		count[l]++
	}
	if len(count) == 0 || 2*len(count) <= batch {
		return 0
	}
	return min(max(len(labels)/len(count), 2), 8)
}

// inverseRMS returns 1 / sqrt(mean x^2), or 1 for vectors of zeros.
func inverseRMS(x []float32) float32 {
	var sum float64
	for _, v := range x {
		sum += float64(v) * float64(v)
	}
	if sum == 0 {
		return 1
	}
	return float32(1 / math.Sqrt(sum/float64(len(x))))
}

// scaled returns a copy of x times s.
func scaled(x []float32, s float32) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = v * s
	}
	return out
}

// scaledEncoder scales its inputs before encoding them.
type scaledEncoder struct {
	encoder.Encoder
	scale float32
}

func (e scaledEncoder) Encode(x []float32, n int) ([]float32, error) {
	return e.Encoder.Encode(scaled(x, e.scale), n)
}

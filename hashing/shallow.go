package hashing

import (
	"fmt"

	"gonum.org/v1/gonum/mat"

	"github.com/lookalike/lookalike/encoder"
	"github.com/lookalike/lookalike/pca"
)

// Shallow is a method that learns an encoder of feature vectors (pixels,
// or any real-valued descriptors) without a network: a linear projection
// (LSH, PCAH, ITQ), eigenfunctions of principal components (SH), or kernel
// features (SDH). Codes are the signs of the encoder's outputs.
type Shallow interface {
	Method
	// Fit learns from n = len(x)/dim training vectors (labels may be nil
	// for unsupervised methods).
	Fit(x []float32, dim int, labels []int32, bits int, seed int64) (encoder.Shallow, error)
}

// checkFit reports inputs no shallow method can fit.
func checkFit(x []float32, dim, bits int) (n int, err error) {
	if dim < 1 || len(x)%dim != 0 {
		return 0, fmt.Errorf("hashing: %d values are not rows of %d", len(x), dim)
	}
	n = len(x) / dim
	if n < 2 {
		return 0, fmt.Errorf("hashing: need at least 2 training vectors, got %d", n)
	}
	if bits < 1 {
		return 0, fmt.Errorf("hashing: %d bits", bits)
	}
	return n, nil
}

// linear packs a mean and a dim x bits projection into an encoder.
func linear(mean []float32, w *mat.Dense) *encoder.Linear {
	dim, bits := w.Dims()
	l := &encoder.Linear{Mean: mean, Dim: dim, Out: bits, Projection: make([]float32, dim*bits)}
	for i := 0; i < dim; i++ {
		for j := 0; j < bits; j++ {
			l.Projection[i*bits+j] = float32(w.At(i, j))
		}
	}
	return l
}

// principalFit returns the mean of the training vectors, the centred n x dim data
// and its bits leading principal directions (dim x bits): the first step
// of PCAH and ITQ.
func principalFit(x []float32, dim, bits int) (mean []float32, c, w *mat.Dense, err error) {
	n, err := checkFit(x, dim, bits)
	if err != nil {
		return nil, nil, nil, err
	}
	mean, c = pca.Centre(x, n, dim)
	w, _, err = pca.Principal(c, bits)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("hashing: %w", err)
	}
	return mean, c, w, nil
}

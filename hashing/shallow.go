package hashing

import (
	"fmt"
	"sort"

	"gonum.org/v1/gonum/mat"

	"github.com/lookalike/lookalike/encoder"
)

// Shallow is a method that learns a linear projection of feature vectors
// (pixels, or any real-valued descriptors), codes being the signs of the
// projection. It needs no network.
type Shallow interface {
	Method
	// Fit learns from n = len(x)/dim training vectors (labels may be nil
	// for unsupervised methods).
	Fit(x []float32, dim int, labels []int32, bits int, seed int64) (*encoder.Linear, error)
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

// centred returns the mean of the rows of x and the n x dim matrix of the
// rows minus the mean.
func centred(x []float32, n, dim int) ([]float32, *mat.Dense) {
	mean := make([]float64, dim)
	for i := 0; i < n; i++ {
		for j, v := range x[i*dim : (i+1)*dim] {
			mean[j] += float64(v)
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	c := mat.NewDense(n, dim, nil)
	for i := 0; i < n; i++ {
		row := c.RawRowView(i)
		for j, v := range x[i*dim : (i+1)*dim] {
			row[j] = float64(v) - mean[j]
		}
	}
	m32 := make([]float32, dim)
	for j, v := range mean {
		m32[j] = float32(v)
	}
	return m32, c
}

// principal returns the k leading principal directions of the centred
// rows c as the columns of a dim x k matrix, by decreasing variance.
func principal(c *mat.Dense, k int) (*mat.Dense, error) {
	n, dim := c.Dims()
	if k > dim {
		return nil, fmt.Errorf("hashing: %d bits exceed the %d input dimensions of a PCA-based method", k, dim)
	}
	var cov mat.SymDense
	cov.SymOuterK(1/float64(n-1), c.T())
	var eig mat.EigenSym
	if !eig.Factorize(&cov, true) {
		return nil, fmt.Errorf("hashing: eigendecomposition of the covariance failed")
	}
	values := eig.Values(nil)
	var vectors mat.Dense
	eig.VectorsTo(&vectors)
	order := make([]int, dim)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return values[order[a]] > values[order[b]] })
	out := mat.NewDense(dim, k, nil)
	for j := 0; j < k; j++ {
		for i := 0; i < dim; i++ {
			out.Set(i, j, vectors.At(i, order[j]))
		}
	}
	return out, nil
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

// pca returns the mean of the training vectors, the centred n x dim data
// and its bits leading principal directions (dim x bits): the first step
// of PCAH and ITQ.
func pca(x []float32, dim, bits int) (mean []float32, c, w *mat.Dense, err error) {
	n, err := checkFit(x, dim, bits)
	if err != nil {
		return nil, nil, nil, err
	}
	mean, c = centred(x, n, dim)
	w, err = principal(c, bits)
	return mean, c, w, err
}

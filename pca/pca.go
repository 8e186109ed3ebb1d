// Package pca holds principal component analysis: centring and the leading
// eigenvectors of the covariance, shared by the PCA-based hashing methods
// and descriptor whitening.
package pca

import (
	"fmt"
	"sort"

	"gonum.org/v1/gonum/mat"
)

// Centre returns the mean of the rows of x and the n x dim matrix of the
// rows minus the mean.
func Centre(x []float32, n, dim int) ([]float32, *mat.Dense) {
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

// Principal returns the k leading principal directions of the centred
// rows c as the columns of a dim x k matrix, by decreasing variance, and
// those variances.
func Principal(c *mat.Dense, k int) (*mat.Dense, []float64, error) {
	n, dim := c.Dims()
	if k > dim {
		return nil, nil, fmt.Errorf("%d components exceed the %d input dimensions", k, dim)
	}
	var cov mat.SymDense
	cov.SymOuterK(1/float64(n-1), c.T())
	var eig mat.EigenSym
	if !eig.Factorize(&cov, true) {
		return nil, nil, fmt.Errorf("eigendecomposition of the covariance failed")
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
	variances := make([]float64, k)
	for j := 0; j < k; j++ {
		variances[j] = values[order[j]]
		for i := 0; i < dim; i++ {
			out.Set(i, j, vectors.At(i, order[j]))
		}
	}
	return out, variances, nil
}

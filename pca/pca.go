// Package pca holds principal component analysis: centring and the leading
// eigenvectors of the covariance, shared by the PCA-based hashing methods
// and descriptor whitening.
package pca

import (
	"fmt"
	"math"
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
	if n < 2 {
		return nil, nil, fmt.Errorf("%d rows: principal components need at least 2", n)
	}
	if n < dim {
		return principalDual(c, k)
	}
	var cov mat.SymDense
	cov.SymOuterK(1/float64(n-1), c.T())
	values, vectors, err := eigenDescending(&cov)
	if err != nil {
		return nil, nil, err
	}
	out := mat.NewDense(dim, k, nil)
	out.Copy(vectors.Slice(0, dim, 0, k))
	return out, values[:k], nil
}

// principalDual computes the same from the n x n Gram matrix when there
// are fewer rows than dimensions (a few hundred 1792-d descriptors): its
// eigenvectors u give the directions c^T u / sqrt((n-1) lambda), in n^3
// time instead of dim^3. Beyond the rank (n-1 at most) the variances are
// zero and the directions are left zero.
func principalDual(c *mat.Dense, k int) (*mat.Dense, []float64, error) {
	n, dim := c.Dims()
	var gram mat.SymDense
	gram.SymOuterK(1/float64(n-1), c)
	values, vectors, err := eigenDescending(&gram)
	if err != nil {
		return nil, nil, err
	}
	out := mat.NewDense(dim, k, nil)
	variances := make([]float64, k)
	for j := 0; j < k && j < n; j++ {
		if values[j] <= 1e-12*values[0] {
			break
		}
		variances[j] = values[j]
		var v mat.VecDense
		v.MulVec(c.T(), vectors.ColView(j))
		v.ScaleVec(1/math.Sqrt(float64(n-1)*values[j]), &v)
		out.SetCol(j, v.RawVector().Data)
	}
	return out, variances, nil
}

// eigenDescending returns the eigenvalues of a, largest first, and the
// eigenvectors as the columns of a matrix in the same order.
func eigenDescending(a *mat.SymDense) ([]float64, *mat.Dense, error) {
	var eig mat.EigenSym
	if !eig.Factorize(a, true) {
		return nil, nil, fmt.Errorf("eigendecomposition of the covariance failed")
	}
	values := eig.Values(nil)
	var vectors mat.Dense
	eig.VectorsTo(&vectors)
	order := make([]int, len(values))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return values[order[a]] > values[order[b]] })
	n := len(values)
	sorted := mat.NewDense(n, n, nil)
	out := make([]float64, n)
	for j, o := range order {
		out[j] = values[o]
		for i := 0; i < n; i++ {
			sorted.Set(i, j, vectors.At(i, o))
		}
	}
	return out, sorted, nil
}

package encoder

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// Kernel is the encoder of kernel hashing methods such as SDH: RBF
// features on M anchor points,
//
//	phi_a(x) = exp(-||x - anchor_a||^2 / (2 Sigma^2)),
//
// then output j = sum_a phi_a(x) Projection[a, j] + Bias[j].
type Kernel struct {
	// Anchors is M x Dim, row-major.
	Anchors []float32
	// Sigma is the RBF width, in the inputs' units.
	Sigma float64
	// Projection is M x Out, row-major; Bias has Out values.
	Projection, Bias []float32
	Dim, M, Out      int
}

// Outputs returns Out.
func (k *Kernel) Outputs() int { return k.Out }

// Inputs returns Dim.
func (k *Kernel) Inputs() int { return k.Dim }

// Validate checks the sizes and that Sigma is positive and finite.
func (k *Kernel) Validate() error {
	if k.Dim < 1 || k.M < 1 || k.Out < 1 || len(k.Anchors) != k.M*k.Dim || len(k.Projection) != k.M*k.Out || len(k.Bias) != k.Out {
		return fmt.Errorf("encoder: kernel encoder has %d anchor values, %d weights and %d biases for %d anchors of %d, %d outputs",
			len(k.Anchors), len(k.Projection), len(k.Bias), k.M, k.Dim, k.Out)
	}
	if s := 2 * k.Sigma * k.Sigma; !(s > 0) || math.IsInf(s, 0) {
		return fmt.Errorf("encoder: kernel width %g", k.Sigma)
	}
	return nil
}

// kernelBatch is the number of inputs whose features are held at once per
// worker: 256 x 1,000 anchors is 1 MB.
const kernelBatch = 256

// Encode maps n inputs of Dim values, on all cores.
func (k *Kernel) Encode(x []float32, n int) ([]float32, error) {
	if err := checkInputs(x, n, k.Dim); err != nil {
		return nil, err
	}
	if err := k.Validate(); err != nil {
		return nil, err
	}
	out := make([]float32, n*k.Out)
	batches := (n + kernelBatch - 1) / kernelBatch
	workers := min(runtime.GOMAXPROCS(0), max(batches, 1))
	next := make(chan int, batches)
	for b := 0; b < batches; b++ {
		next <- b * kernelBatch
	}
	close(next)
	norms := rowNorms(k.Anchors, k.Dim)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			phi := make([]float32, kernelBatch*k.M)
			for lo := range next {
				hi := min(lo+kernelBatch, n)
				rows := hi - lo
				k.features(x[lo*k.Dim:hi*k.Dim], rows, norms, phi[:rows*k.M])
				o := out[lo*k.Out : hi*k.Out]
				for r := 0; r < rows; r++ {
					copy(o[r*k.Out:(r+1)*k.Out], k.Bias)
				}
				gemm(false, 1, rows, k.Out, k.M, phi, k.Projection, o)
			}
		}()
	}
	wg.Wait()
	return out, nil
}

// Features returns the n x M RBF features of n inputs.
func (k *Kernel) Features(x []float32, n int) ([]float32, error) {
	if err := checkInputs(x, n, k.Dim); err != nil {
		return nil, err
	}
	if err := k.Validate(); err != nil {
		return nil, err
	}
	phi := make([]float32, n*k.M)
	k.features(x, n, rowNorms(k.Anchors, k.Dim), phi)
	return phi, nil
}

// features writes the RBF features of n inputs to phi, from the squared
// distances ||x||^2 + ||a||^2 - 2 x.a: the products x.a are one matrix
// product. Rounding can make a distance slightly negative; it is clamped.
func (k *Kernel) features(x []float32, n int, anchorNorms []float32, phi []float32) {
	gemm(true, 0, n, k.M, k.Dim, x, k.Anchors, phi)
	scale := -1 / (2 * k.Sigma * k.Sigma)
	for r := 0; r < n; r++ {
		var xx float32
		for _, v := range x[r*k.Dim : (r+1)*k.Dim] {
			xx += v * v
		}
		row := phi[r*k.M : (r+1)*k.M]
		for a, dot := range row {
			d := float64(xx + anchorNorms[a] - 2*dot)
			row[a] = float32(math.Exp(max(d, 0) * scale))
		}
	}
}

// gemm sets c (m x n) to a b + beta c, a being m x k and b k x n, or n x k
// when bT (then a b^T).
func gemm(bT bool, beta float32, m, n, k int, a, b, c []float32) {
	tb, bm := blas.NoTrans, blas32.General{Rows: k, Cols: n, Stride: n, Data: b}
	if bT {
		tb, bm = blas.Trans, blas32.General{Rows: n, Cols: k, Stride: k, Data: b}
	}
	blas32.Gemm(blas.NoTrans, tb, 1, blas32.General{Rows: m, Cols: k, Stride: k, Data: a[:m*k]},
		bm, beta, blas32.General{Rows: m, Cols: n, Stride: n, Data: c[:m*n]})
}

// rowNorms returns the squared norm of each row of a (rows of dim values).
func rowNorms(a []float32, dim int) []float32 {
	out := make([]float32, len(a)/dim)
	for i := range out {
		for _, v := range a[i*dim : (i+1)*dim] {
			out[i] += v * v
		}
	}
	return out
}

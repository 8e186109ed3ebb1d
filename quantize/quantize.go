// Package quantize holds composite quantizers: a vector is approximated by
// the sum of one codeword from each of M codebooks, and its code is the M
// codeword indices (T. Zhang, C. Du, J. Wang, "Composite Quantization for
// Approximate Nearest Neighbor Search", ICML 2014). Search ranks database
// codes by their inner product with a real-valued query, the asymmetric
// quantizer distance of DVSQ.
//
// A quantizer may measure its approximation error in a projected metric:
// DVSQ (Cao et al., CVPR 2017) counts only the error along its label
// embeddings, ||(x - x^) V^T||^2, since retrieval by inner product with
// label-aligned queries sees nothing else.
package quantize

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/mat"
)

// Quantizer is a composite quantizer of Dim-dimensional vectors with M
// codebooks of K codewords each (K <= 256, so an index fits a byte).
type Quantizer struct {
	M, K, Dim int
	// Codebooks holds M*K codewords of Dim values, row-major: codebook m's
	// codewords are rows m*K to (m+1)*K-1.
	Codebooks []float32
	// Metric, when not nil, holds L rows of Dim values: errors are
	// measured as ||(x - x^) Metric^T||^2. Nil measures ||x - x^||^2.
	Metric []float32
	L      int
}

// New returns a quantizer with zero codebooks.
func New(m, k, dim int, metric []float32, l int) (*Quantizer, error) {
	q := &Quantizer{M: m, K: k, Dim: dim, Codebooks: make([]float32, m*k*dim), Metric: metric, L: l}
	return q, q.Validate()
}

// Validate reports a quantizer whose sizes do not fit together.
func (q *Quantizer) Validate() error {
	switch {
	case q.M < 1 || q.K < 2 || q.K > 256 || q.Dim < 1:
		return fmt.Errorf("quantize: %d codebooks of %d codewords of %d values (need M >= 1, 2 <= K <= 256, Dim >= 1)", q.M, q.K, q.Dim)
	case len(q.Codebooks) != q.M*q.K*q.Dim:
		return fmt.Errorf("quantize: %d codebook values for %d x %d codewords of %d", len(q.Codebooks), q.M, q.K, q.Dim)
	case q.Metric != nil && (q.L < 1 || len(q.Metric) != q.L*q.Dim):
		return fmt.Errorf("quantize: metric has %d values for %d rows of %d", len(q.Metric), q.L, q.Dim)
	}
	for _, v := range q.Codebooks {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("quantize: codebooks hold %v", v)
		}
	}
	return nil
}

// Bits returns the code length, M log2(K) rounded up per codebook.
func (q *Quantizer) Bits() int {
	b := 0
	for 1<<b < q.K {
		b++
	}
	return q.M * b
}

// project returns x (n rows of Dim) in the error metric's space: x Metric^T
// (n rows of L), or x itself.
func (q *Quantizer) project(x []float32, n int) ([]float32, int) {
	if q.Metric == nil {
		return x, q.Dim
	}
	out := make([]float32, n*q.L)
	parallel(n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			xi := x[i*q.Dim : (i+1)*q.Dim]
			for l := 0; l < q.L; l++ {
				out[i*q.L+l] = dot(xi, q.Metric[l*q.Dim:(l+1)*q.Dim])
			}
		}
	})
	return out, q.L
}

// Encode returns the M codeword indices of each of the n vectors of x,
// chosen by iterated conditional modes (ICM, as DVSQ and composite
// quantization do): starting from no codeword, each sweep picks, codebook
// by codebook, the codeword that minimizes the error given the others.
// Each choice can only lower the error, so sweeps converge; iters bounds
// them.
func (q *Quantizer) Encode(x []float32, n, iters int) ([]uint8, error) {
	if len(x) != n*q.Dim {
		return nil, fmt.Errorf("quantize: %d values for %d vectors of %d", len(x), n, q.Dim)
	}
	p, l := q.project(x, n)
	words, _ := q.project(q.Codebooks, q.M*q.K)
	norms := make([]float32, q.M*q.K)
	for i := range norms {
		norms[i] = dot(words[i*l:(i+1)*l], words[i*l:(i+1)*l])
	}
	codes := make([]uint8, n*q.M)
	parallel(n, func(lo, hi int) {
		sum := make([]float32, l)
		resid := make([]float32, l)
		chosen := make([]bool, q.M)
		for i := lo; i < hi; i++ {
			pi := p[i*l : (i+1)*l]
			ci := codes[i*q.M : (i+1)*q.M]
			clear(sum)
			clear(chosen)
			for it := 0; it < max(iters, 1); it++ {
				changed := false
				for m := 0; m < q.M; m++ {
					// resid = p - (sum less codebook m's current word).
					for j := range resid {
						resid[j] = pi[j] - sum[j]
					}
					if chosen[m] {
						w := words[(m*q.K+int(ci[m]))*l:]
						for j := range resid {
							resid[j] += w[j]
						}
					}
					// ||resid - w||^2 = ||resid||^2 - 2 resid.w + ||w||^2.
					best, bestErr := 0, float32(math.Inf(1))
					for k := 0; k < q.K; k++ {
						idx := m*q.K + k
						if e := norms[idx] - 2*dot(resid, words[idx*l:(idx+1)*l]); e < bestErr {
							best, bestErr = k, e
						}
					}
					if chosen[m] && int(ci[m]) == best {
						continue
					}
					if chosen[m] {
						w := words[(m*q.K+int(ci[m]))*l:]
						for j := range sum {
							sum[j] -= w[j]
						}
					}
					w := words[(m*q.K+best)*l:]
					for j := range sum {
						sum[j] += w[j]
					}
					ci[m], chosen[m], changed = uint8(best), true, true
				}
				if !changed {
					break
				}
			}
		}
	})
	return codes, nil
}

// Decode returns the approximations of n codes: the sums of their
// codewords.
func (q *Quantizer) Decode(codes []uint8, n int) ([]float32, error) {
	if len(codes) != n*q.M {
		return nil, fmt.Errorf("quantize: %d code bytes for %d codes of %d", len(codes), n, q.M)
	}
	out := make([]float32, n*q.Dim)
	parallel(n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			o := out[i*q.Dim : (i+1)*q.Dim]
			for m, c := range codes[i*q.M : (i+1)*q.M] {
				if int(c) >= q.K {
					c = 0 // refused by callers reading codes from files; kept in range here
				}
				w := q.Codebooks[(m*q.K+int(c))*q.Dim:]
				for j := range o {
					o[j] += w[j]
				}
			}
		}
	})
	return out, nil
}

// Error returns the mean squared error of the codes of x in the
// quantizer's metric.
func (q *Quantizer) Error(x []float32, codes []uint8, n int) (float64, error) {
	rec, err := q.Decode(codes, n)
	if err != nil {
		return 0, err
	}
	diff := make([]float32, len(x))
	for i := range diff {
		diff[i] = x[i] - rec[i]
	}
	p, l := q.project(diff, n)
	sum := 0.0
	for _, v := range p[:n*l] {
		sum += float64(v) * float64(v)
	}
	return sum / float64(n), nil
}

// InitKMeans sets the codebooks block-diagonally, as the DVSQ authors'
// code does: codebook m is k-means (iters Lloyd iterations, seeded) of the
// m-th slice of the dimensions, zero outside it, so that the M codebooks
// start out spanning the space between them.
func (q *Quantizer) InitKMeans(x []float32, n, iters int, seed uint64) error {
	if len(x) != n*q.Dim || n < 1 {
		return fmt.Errorf("quantize: %d values for %d vectors of %d", len(x), n, q.Dim)
	}
	rng := rand.New(rand.NewPCG(seed, 0x6b6d))
	clear(q.Codebooks)
	for m := 0; m < q.M; m++ {
		lo, hi := m*q.Dim/q.M, (m+1)*q.Dim/q.M
		if hi == lo {
			continue
		}
		w := hi - lo
		sub := make([]float32, n*w)
		for i := 0; i < n; i++ {
			copy(sub[i*w:(i+1)*w], x[i*q.Dim+lo:i*q.Dim+hi])
		}
		centres := KMeans(sub, n, w, q.K, iters, rng)
		for k := 0; k < q.K; k++ {
			copy(q.Codebooks[(m*q.K+k)*q.Dim+lo:], centres[k*w:(k+1)*w])
		}
	}
	return nil
}

// KMeans returns k centres (k rows of dim) of the n rows of x by Lloyd's
// algorithm from k distinct random rows; an empty cluster keeps its centre.
func KMeans(x []float32, n, dim, k, iters int, rng *rand.Rand) []float32 {
	centres := make([]float32, k*dim)
	perm := rng.Perm(n)
	for c := 0; c < k; c++ {
		copy(centres[c*dim:(c+1)*dim], x[perm[c%n]*dim:(perm[c%n]+1)*dim])
	}
	assign := make([]int, n)
	for it := 0; it < iters; it++ {
		parallel(n, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				xi := x[i*dim : (i+1)*dim]
				best, bestD := 0, float32(math.Inf(1))
				for c := 0; c < k; c++ {
					if d := sqDist(xi, centres[c*dim:(c+1)*dim]); d < bestD {
						best, bestD = c, d
					}
				}
				assign[i] = best
			}
		})
		sums := make([]float64, k*dim)
		counts := make([]int, k)
		for i, c := range assign {
			counts[c]++
			for j, v := range x[i*dim : (i+1)*dim] {
				sums[c*dim+j] += float64(v)
			}
		}
		for c := 0; c < k; c++ {
			if counts[c] == 0 {
				continue
			}
			for j := 0; j < dim; j++ {
				centres[c*dim+j] = float32(sums[c*dim+j] / float64(counts[c]))
			}
		}
	}
	return centres
}

// FitCodebooks sets the codebooks to the least-squares solution for the
// codes of x, C = (H^T H + ridge I)^-1 H^T X with H the n x MK one-hot
// code matrix: the DVSQ authors' closed-form update (their ridge is
// 0.001). A codeword no vector uses keeps its value, as theirs does.
func (q *Quantizer) FitCodebooks(x []float32, codes []uint8, n int, ridge float64) error {
	if len(x) != n*q.Dim || len(codes) != n*q.M {
		return fmt.Errorf("quantize: %d values and %d code bytes for %d vectors", len(x), len(codes), n)
	}
	mk := q.M * q.K
	hth := mat.NewSymDense(mk, nil)
	htx := mat.NewDense(mk, q.Dim, nil)
	used := make([]bool, mk)
	for i := 0; i < n; i++ {
		ci := codes[i*q.M : (i+1)*q.M]
		for a, ca := range ci {
			ia := a*q.K + int(ca)
			used[ia] = true
			row := htx.RawRowView(ia)
			for j, v := range x[i*q.Dim : (i+1)*q.Dim] {
				row[j] += float64(v)
			}
			for b := a; b < q.M; b++ {
				ib := b*q.K + int(ci[b])
				r, c := min(ia, ib), max(ia, ib)
				hth.SetSym(r, c, hth.At(r, c)+1)
			}
		}
	}
	for i := 0; i < mk; i++ {
		hth.SetSym(i, i, hth.At(i, i)+ridge)
	}
	var chol mat.Cholesky
	if !chol.Factorize(hth) {
		return fmt.Errorf("quantize: code Gram matrix is not positive definite (ridge %g)", ridge)
	}
	var sol mat.Dense
	if err := chol.SolveTo(&sol, htx); err != nil {
		return fmt.Errorf("quantize: least squares: %w", err)
	}
	for i := 0; i < mk; i++ {
		if !used[i] {
			continue
		}
		for j := 0; j < q.Dim; j++ {
			q.Codebooks[i*q.Dim+j] = float32(sol.At(i, j))
		}
	}
	return nil
}

// UnitRows returns the rows of v (rows of dim values) scaled to unit
// length: DVSQ's metric when its label embeddings are learned, since they
// then have no scale of their own.
func UnitRows(v []float32, dim int) []float32 {
	out := make([]float32, len(v))
	for r := 0; r+dim <= len(v); r += dim {
		var n float64
		for _, x := range v[r : r+dim] {
			n += float64(x) * float64(x)
		}
		n = math.Sqrt(max(n, 1e-14))
		for j, x := range v[r : r+dim] {
			out[r+j] = float32(float64(x) / n)
		}
	}
	return out
}

func dot(a, b []float32) float32 {
	var s float32
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

func sqDist(a, b []float32) float32 {
	var s float32
	for i, v := range a {
		d := v - b[i]
		s += d * d
	}
	return s
}

// parallel splits [0, n) over the cores.
func parallel(n int, fn func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), max(n, 1))
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo, hi := w*n/workers, (w+1)*n/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}

package hashing

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/lookalike/lookalike/encoder"
)

// SDH is supervised discrete hashing: F. Shen, C. Shen, W. Liu, H. T.
// Shen, "Supervised Discrete Hashing", CVPR 2015. The codes B (L x n, one
// column per training vector, in {-1, 1}) are learned to be good for
// linear classification of the labels Y (C x n, one-hot) and to be
// predicted by the hash function F(x) = P^T phi(x) of RBF kernel features
//
//	phi(x) = [exp(-||x - a_1||^2 / 2 sigma^2), ..., exp(-||x - a_m||^2 / 2 sigma^2)]^T
//
// on m anchors a_j sampled from the training vectors:
//
//	min_{B, W, F} ||Y - W^T B||^2 + lambda ||W||^2 + nu ||B - F(X)||^2
//
// by alternating, for a few iterations,
//
//	G-step: W = (B B^T + lambda I)^-1 B Y^T
//	F-step: P = (phi(X) phi(X)^T)^-1 phi(X) B^T
//	B-step: min_B ||W^T B||^2 - 2 Tr(B^T Q),  Q = W Y + nu F(X),
//
// the B-step by discrete cyclic coordinate descent (DCC): each row z^T of
// B (one bit of every code) in turn, the other rows B' fixed, takes the
// closed form
//
//	z = sgn(q - B'^T W' v)
//
// with q^T the same row of Q, v^T that row of W and W' the other rows of
// W. Codes of new inputs are sgn(P^T phi(x)). The code stores one row per
// training vector, so its matrices are these transposed.
//
// Fit follows the authors' SDH.m and demo: the paper's m = 1000, lambda
// = 1, nu = 1e-5 and 5 iterations; phi with a constant 1 appended, so
// that F has a bias; the F-step regularized as (phi phi^T + 0.01 I)^-1;
// B initialized to sgn of a Gaussian matrix; each B-step starting from B
// = 0 and repeating DCC sweeps until B no longer changes, at most 10; and
// early stops when ||B - F(X)|| < 1e-5 ||B|| or P changes by less than
// 1e-5 relative. Deviations: sigma is the mean distance from the training
// vectors to the anchors, which suits any input scale (the demo fixes 0.4
// for its normalized GIST features); sgn(0) = 1 (MATLAB's sign(0) = 0),
// so codes stay in {-1, 1}; and P's relative change is measured in the
// Frobenius norm on both sides (SDH.m divides by the spectral norm).
type SDH struct {
	// Anchors is m, the number of anchors (at most the training
	// vectors). Paper: 1000.
	Anchors int
	// Lambda weighs the classifier's regularization. Paper: 1.
	Lambda float64
	// Nu weighs the fit of the hash function in the B-step. Paper: 1e-5.
	Nu float64
	// Ridge regularizes the F-step. Authors' code: 0.01.
	Ridge float64
	// Iterations of the G, F and B steps. Paper: 5.
	Iterations int
	// Sweeps is the most DCC sweeps over all bits per B-step. Authors'
	// code: 10.
	Sweeps int
}

func init() {
	Register(SDH{Anchors: 1000, Lambda: 1, Nu: 1e-5, Ridge: 1e-2, Iterations: 5, Sweeps: 10})
}

// Info describes SDH.
func (SDH) Info() Info {
	return Info{
		Name:       "sdh",
		Title:      "Supervised discrete hashing",
		Paper:      "F. Shen, C. Shen, W. Liu, H. T. Shen. Supervised Discrete Hashing. CVPR 2015",
		Supervised: true,
	}
}

// sdhTol is the relative tolerance of SDH.m's early stops.
const sdhTol = 1e-5

// Fit samples the anchors from the seed and runs the alternation.
func (m SDH) Fit(x []float32, dim int, labels []int32, bits int, seed int64) (encoder.Shallow, error) {
	n, err := checkFit(x, dim, bits)
	if err != nil {
		return nil, err
	}
	if len(labels) != n {
		return nil, fmt.Errorf("hashing: sdh is supervised: %d labels for %d training vectors", len(labels), n)
	}
	if m.Anchors < 1 || m.Lambda <= 0 || m.Nu < 0 || m.Ridge <= 0 || m.Iterations < 1 || m.Sweeps < 1 {
		return nil, fmt.Errorf("hashing: sdh: invalid parameters %+v", m)
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5d4))
	na := min(m.Anchors, n)
	anchors := make([]float32, 0, na*dim)
	for _, i := range rng.Perm(n)[:na] {
		anchors = append(anchors, x[i*dim:(i+1)*dim]...)
	}
	phi, sigma := rbf(x, anchors, dim)
	if !(sigma > 0) || math.IsInf(sigma, 0) {
		return nil, fmt.Errorf("hashing: sdh: mean distance %g from the training vectors to the anchors", sigma)
	}
	y := oneHot(labels)
	b := mat.NewDense(n, bits, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < bits; j++ {
			b.Set(i, j, sgn(rng.NormFloat64()))
		}
	}

	// The F-step's matrix is the same at every iteration: factorize once.
	var gram mat.SymDense
	gram.SymOuterK(1, phi.T())
	for i := 0; i <= na; i++ {
		gram.SetSym(i, i, gram.At(i, i)+m.Ridge)
	}
	var features mat.Cholesky
	if !features.Factorize(&gram) {
		return nil, fmt.Errorf("hashing: sdh: kernel Gram matrix is not positive definite")
	}
	w, err := m.gStep(b, y)
	if err != nil {
		return nil, err
	}
	p, err := fStep(&features, phi, b)
	if err != nil {
		return nil, err
	}
	var f, q mat.Dense
	for it := 0; it < m.Iterations; it++ {
		f.Mul(phi, p)
		q.Mul(y, w.T())
		q.Apply(func(i, j int, v float64) float64 { return v + m.Nu*f.At(i, j) }, &q)
		b.Zero()
		dcc(b, &q, w, m.Sweeps)
		if w, err = m.gStep(b, y); err != nil {
			return nil, err
		}
		p0 := p
		if p, err = fStep(&features, phi, b); err != nil {
			return nil, err
		}
		f.Mul(phi, p)
		f.Sub(b, &f)
		if mat.Norm(&f, 2) < sdhTol*mat.Norm(b, 2) {
			break
		}
		var dp mat.Dense
		dp.Sub(p, p0)
		if mat.Norm(&dp, 2) < sdhTol*mat.Norm(p0, 2) {
			break
		}
	}
	k := &encoder.Kernel{Anchors: anchors, Sigma: sigma, Dim: dim, M: na, Out: bits,
		Projection: make([]float32, na*bits), Bias: make([]float32, bits)}
	for a := 0; a < na; a++ {
		for j := 0; j < bits; j++ {
			k.Projection[a*bits+j] = float32(p.At(a, j))
		}
	}
	for j := 0; j < bits; j++ {
		k.Bias[j] = float32(p.At(na, j))
	}
	return k, nil
}

// rbf returns phi(X), the n x (m+1) RBF features of the rows of x on the
// m anchors with a constant 1 appended, and sigma, the mean distance from
// the rows to the anchors. Squared distances are ||x||^2 + ||a||^2 - 2
// x.a, the products being one matrix product; rounding can make them
// slightly negative, and they are clamped.
func rbf(x, anchors []float32, dim int) (*mat.Dense, float64) {
	xs, as := toDense(x, dim), toDense(anchors, dim)
	n, _ := xs.Dims()
	m, _ := as.Dims()
	xn, an := squaredNorms(xs), squaredNorms(as)
	d2 := mat.NewDense(n, m, nil)
	d2.Mul(xs, as.T())
	sum := 0.0
	for i := 0; i < n; i++ {
		row := d2.RawRowView(i)
		for j, dot := range row {
			row[j] = max(xn[i]+an[j]-2*dot, 0)
			sum += math.Sqrt(row[j])
		}
	}
	sigma := sum / float64(n*m)
	phi := mat.NewDense(n, m+1, nil)
	for i := 0; i < n; i++ {
		row := phi.RawRowView(i)
		for j, d := range d2.RawRowView(i) {
			row[j] = math.Exp(-d / (2 * sigma * sigma))
		}
		row[m] = 1
	}
	return phi, sigma
}

// gStep returns W = (B^T B + lambda I)^-1 B^T Y (bits x classes), the
// least-squares classifier of the labels from the codes.
func (m SDH) gStep(b, y *mat.Dense) (*mat.Dense, error) {
	_, bits := b.Dims()
	var btb mat.SymDense
	btb.SymOuterK(1, b.T())
	for i := 0; i < bits; i++ {
		btb.SetSym(i, i, btb.At(i, i)+m.Lambda)
	}
	var chol mat.Cholesky
	if !chol.Factorize(&btb) {
		return nil, fmt.Errorf("hashing: sdh: G-step: B^T B + lambda I is not positive definite")
	}
	var bty, w mat.Dense
	bty.Mul(b.T(), y)
	if err := chol.SolveTo(&w, &bty); err != nil {
		return nil, fmt.Errorf("hashing: sdh: G-step: %w", err)
	}
	return &w, nil
}

// fStep returns P = (phi^T phi + ridge I)^-1 phi^T B, given the Cholesky
// factors of the bracket.
func fStep(features *mat.Cholesky, phi, b *mat.Dense) (*mat.Dense, error) {
	var phiB, p mat.Dense
	phiB.Mul(phi.T(), b)
	if err := features.SolveTo(&p, &phiB); err != nil {
		return nil, fmt.Errorf("hashing: sdh: F-step: %w", err)
	}
	return &p, nil
}

// dcc runs the B-step's discrete cyclic coordinate descent on b (n x bits)
// for Q (n x bits) and W (bits x classes): bit k of every code becomes
// sgn(q_k - sum_{j != k} b_j (W W^T)_jk), bits in order, for up to sweeps
// sweeps, stopping when a sweep leaves B as it was (SDH.m's test
// ||B - B0|| < 1e-6 ||B0||).
func dcc(b, q, w *mat.Dense, sweeps int) {
	n, bits := b.Dims()
	var ww mat.Dense
	ww.Mul(w, w.T())
	var prev, diff mat.Dense
	for range sweeps {
		prev.CloneFrom(b)
		for k := 0; k < bits; k++ {
			wk := mat.Col(nil, k, &ww)
			for i := 0; i < n; i++ {
				row := b.RawRowView(i)
				s := 0.0
				for j, bj := range row {
					if j != k {
						s += bj * wk[j]
					}
				}
				row[k] = sgn(q.At(i, k) - s)
			}
		}
		diff.Sub(b, &prev)
		if mat.Norm(&diff, 2) < 1e-6*mat.Norm(&prev, 2) {
			return
		}
	}
}

// oneHot returns the n x C label matrix, one column per distinct label in
// increasing order.
func oneHot(labels []int32) *mat.Dense {
	classes := slices.Compact(slices.Sorted(slices.Values(labels)))
	y := mat.NewDense(len(labels), len(classes), nil)
	for i, l := range labels {
		c, _ := slices.BinarySearch(classes, l)
		y.Set(i, c, 1)
	}
	return y
}

// sgn is the sign with sgn(0) = 1.
func sgn(v float64) float64 {
	if v >= 0 {
		return 1
	}
	return -1
}

// toDense copies rows of dim float32 values into a float64 matrix.
func toDense(x []float32, dim int) *mat.Dense {
	d := mat.NewDense(len(x)/dim, dim, nil)
	raw := d.RawMatrix().Data
	for i, v := range x {
		raw[i] = float64(v)
	}
	return d
}

// squaredNorms returns the squared norm of each row.
func squaredNorms(a *mat.Dense) []float64 {
	r, _ := a.Dims()
	out := make([]float64, r)
	for i := range out {
		for _, v := range a.RawRowView(i) {
			out[i] += v * v
		}
	}
	return out
}

package hashing

import (
	"fmt"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/lookalike/lookalike/encoder"
)

// ITQ is iterative quantization: Y. Gong, S. Lazebnik, "Iterative
// Quantization: A Procrustean Approach to Learning Binary Codes", CVPR
// 2011. The centred data are projected on their top c = bits principal
// directions (V = XW), then an orthogonal rotation R minimizes the
// quantization loss
//
//	Q(B, R) = || B - V R ||_F^2,  B in {-1, 1}^(n x c)
//
// by alternating B = sgn(V R) and, for fixed B, the orthogonal Procrustes
// solution: with the SVD B^T V = S Omega S'^T, R = S' S^T (the paper's
// section 2.3). The rotation starts random and runs 50 iterations, as in
// the paper.
type ITQ struct {
	// Iterations of the alternation. Paper: 50.
	Iterations int
}

func init() { Register(ITQ{Iterations: 50}) }

// Info describes ITQ.
func (ITQ) Info() Info {
	return Info{
		Name:  "itq",
		Title: "Iterative quantization",
		Paper: "Y. Gong, S. Lazebnik. Iterative Quantization: A Procrustean Approach to Learning Binary Codes. CVPR 2011",
	}
}

// Fit learns the PCA projection and the rotation.
func (m ITQ) Fit(x []float32, dim int, _ []int32, bits int, seed int64) (encoder.Shallow, error) {
	mean, c, w, err := principalFit(x, dim, bits)
	if err != nil {
		return nil, err
	}
	var v mat.Dense
	v.Mul(c, w)
	r, err := m.rotation(&v, seed)
	if err != nil {
		return nil, err
	}
	var wr mat.Dense
	wr.Mul(w, r)
	return linear(mean, &wr), nil
}

// rotation runs the alternation on the projected data v (n x c) and
// returns R (c x c).
func (m ITQ) rotation(v *mat.Dense, seed int64) (*mat.Dense, error) {
	_, c := v.Dims()
	r := RandomRotation(c, seed)
	var vr, ct, u, vt, next mat.Dense
	b := mat.NewDense(v.RawMatrix().Rows, c, nil)
	for it := 0; it < m.Iterations; it++ {
		vr.Mul(v, r)
		signs(b, &vr)
		ct.Mul(b.T(), v) // B^T V = S Omega S'^T
		var svd mat.SVD
		if !svd.Factorize(&ct, mat.SVDThin) {
			return nil, fmt.Errorf("hashing: ITQ: SVD failed at iteration %d", it)
		}
		svd.UTo(&u)
		svd.VTo(&vt)
		next.Mul(&vt, u.T()) // R = S' S^T
		r.Copy(&next)
	}
	return r, nil
}

// QuantizationLoss is || sgn(V R) - V R ||_F^2, the objective ITQ lowers.
func QuantizationLoss(v, r *mat.Dense) float64 {
	var vr mat.Dense
	vr.Mul(v, r)
	n, c := vr.Dims()
	b := mat.NewDense(n, c, nil)
	signs(b, &vr)
	b.Sub(b, &vr)
	f := mat.Norm(b, 2)
	return f * f
}

// signs sets b to sgn(a), with sgn(0) = 1 as in the paper's B in {-1,1}.
func signs(b, a *mat.Dense) {
	n, c := a.Dims()
	for i := 0; i < n; i++ {
		for j := 0; j < c; j++ {
			if a.At(i, j) >= 0 {
				b.Set(i, j, 1)
			} else {
				b.Set(i, j, -1)
			}
		}
	}
}

// RandomRotation returns a random c x c orthogonal matrix: the Q of the QR
// decomposition of a Gaussian matrix.
func RandomRotation(c int, seed int64) *mat.Dense {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x17c))
	g := mat.NewDense(c, c, nil)
	for i := 0; i < c; i++ {
		for j := 0; j < c; j++ {
			g.Set(i, j, rng.NormFloat64())
		}
	}
	var qr mat.QR
	qr.Factorize(g)
	var q mat.Dense
	qr.QTo(&q)
	return &q
}

package hashing

import (
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/gonum/mat"

	"github.com/lookalike/lookalike/encoder"
)

// SH is spectral hashing: Y. Weiss, A. Torralba, R. Fergus, "Spectral
// Hashing", NIPS 2008. Codes that keep similar neighbours close,
//
//	minimize sum_ij W_ij ||y_i - y_j||^2  subject to  y_i in {-1, 1}^k,
//	sum_i y_i = 0,  (1/n) sum_i y_i y_i^T = I,
//
// are, once relaxed and for data uniform on a box along its principal
// components, thresholded eigenfunctions of the Laplace-Beltrami operator.
// Along a component uniform on [a, b] they are
//
//	Phi_k(x) = sin(pi/2 + k pi/(b - a) x),
//	lambda_k = 1 - exp(-(eps^2/2) |k pi/(b - a)|^2),
//
// so the k smallest eigenvalues over all components are those of the
// smallest k/(b - a). The paper's algorithm: PCA to the code length, the
// range of each component, the bits smallest single-component modes, and
// code bit = [Phi_k(p_i - a_i) > 0].
//
// Fit follows the authors' trainSH exactly: min(bits, dim) components; a
// and b the smallest and largest projection of the training vectors
// (trainSH computes the 5th and 95th percentiles, then overwrites them with
// these), widened by MATLAB's eps; up to ceil((bits+1) (b_i - a_i) /
// max_j (b_j - a_j)) - 1 modes along component i, enumerated component by
// component, and sorted stably by eigenvalue. Deviation: a component on
// which the training vectors do not vary gets no mode, where trainSH's
// count would turn negative.
type SH struct{}

func init() { Register(SH{}) }

// Info describes SH.
func (SH) Info() Info {
	return Info{
		Name:  "sh",
		Title: "Spectral hashing",
		Paper: "Y. Weiss, A. Torralba, R. Fergus. Spectral Hashing. NIPS 2008",
	}
}

// matlabEps is MATLAB's eps, by which trainSH widens each range so that
// no range is empty.
const matlabEps = 0x1p-52

// Fit learns the principal directions, their ranges and the modes.
func (SH) Fit(x []float32, dim int, _ []int32, bits int, _ int64) (encoder.Shallow, error) {
	mean, c, w, err := principalFit(x, dim, min(bits, dim))
	if err != nil {
		return nil, err
	}
	var v mat.Dense
	v.Mul(c, w)
	n, npca := v.Dims()
	lo, hi := make([]float64, npca), make([]float64, npca)
	spread := 0.0
	for i := 0; i < npca; i++ {
		lo[i], hi[i] = math.Inf(1), math.Inf(-1)
		for r := 0; r < n; r++ {
			lo[i] = min(lo[i], v.At(r, i))
			hi[i] = max(hi[i], v.At(r, i))
		}
		spread = max(spread, hi[i]-lo[i])
		lo[i] -= matlabEps
		hi[i] += matlabEps
	}
	// Checked before the widening, which leaves data that do not vary
	// a range of 2 eps around 0 and none elsewhere.
	if !(spread > 0) {
		return nil, fmt.Errorf("hashing: sh: the training vectors do not vary along their principal directions")
	}
	modes, err := spectralModes(lo, hi, bits)
	if err != nil {
		return nil, err
	}
	s := &encoder.Spectral{PCA: *linear(mean, w), Min: make([]float32, npca), Max: make([]float32, npca),
		Modes: make([]int32, bits*npca), Out: bits}
	for i := range lo {
		s.Min[i], s.Max[i] = float32(lo[i]), float32(hi[i])
	}
	for j, m := range modes {
		s.Modes[j*npca+m.component] = int32(m.k)
	}
	return s, nil
}

// spectralMode is the eigenfunction of mode k along one component.
type spectralMode struct{ component, k int }

// spectralModes returns the bits modes of smallest eigenvalue for
// components uniform on [lo_i, hi_i], as trainSH picks them.
func spectralModes(lo, hi []float64, bits int) ([]spectralMode, error) {
	r := make([]float64, len(lo))
	maxR := 0.0
	for i := range lo {
		r[i] = hi[i] - lo[i]
		maxR = max(maxR, r[i])
	}
	if !(maxR > 0) || math.IsInf(maxR, 0) {
		return nil, fmt.Errorf("hashing: sh: the training vectors span a range of %g along their principal directions", maxR)
	}
	var modes []spectralMode
	var eig []float64
	for i, ri := range r {
		if !(ri > 0) {
			continue
		}
		maxMode := int(math.Ceil(float64(bits+1) * ri / maxR))
		omega0 := math.Pi / ri
		for k := 1; k < maxMode; k++ {
			omega := float64(k) * omega0
			modes = append(modes, spectralMode{i, k})
			eig = append(eig, omega*omega)
		}
	}
	order := make([]int, len(modes))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return eig[order[a]] < eig[order[b]] })
	if len(order) < bits {
		// The widest component alone has bits modes: only reached
		// through rounding.
		return nil, fmt.Errorf("hashing: sh: %d modes for %d bits", len(order), bits)
	}
	out := make([]spectralMode, bits)
	for j := range out {
		out[j] = modes[order[j]]
	}
	return out, nil
}

package encoder

import (
	"fmt"
	"math"
)

// Spectral is the encoder of spectral hashing (Weiss, Torralba, Fergus,
// NIPS 2008), as the authors' compressSH computes it. The input's
// principal components p = (x - Mean) . Projection are taken each as
// uniform on [Min_i, Max_i], and output j is the eigenfunction with modes
// k_ji = Modes[j, i]:
//
//	y_j = prod_i sin(pi/2 + k_ji * pi/(Max_i - Min_i) * (p_i - Min_i))
//
// Training picks one nonzero mode per output, so y_j is a single cosine
// along one component; components with a zero mode contribute sin(pi/2) =
// 1 and are skipped.
type Spectral struct {
	// PCA projects the input on the Components principal directions.
	PCA Linear
	// Min and Max bound each component's range, Components values each.
	Min, Max []float32
	// Modes is Out x Components, row-major.
	Modes []int32
	Out   int
}

// Components returns the number of principal components.
func (s *Spectral) Components() int { return s.PCA.Out }

// Outputs returns Out.
func (s *Spectral) Outputs() int { return s.Out }

// Inputs returns the PCA's input dimension.
func (s *Spectral) Inputs() int { return s.PCA.Dim }

// Validate checks the sizes, that modes are not negative, and that every
// component a mode uses has a finite range of positive width: pi/(Max -
// Min) must be finite.
func (s *Spectral) Validate() error {
	if err := s.PCA.Validate(); err != nil {
		return fmt.Errorf("encoder: spectral PCA: %w", err)
	}
	c := s.Components()
	if s.Out < 1 || len(s.Min) != c || len(s.Max) != c || len(s.Modes) != s.Out*c {
		return fmt.Errorf("encoder: spectral encoder has %d minima, %d maxima and %d modes for %d components and %d outputs",
			len(s.Min), len(s.Max), len(s.Modes), c, s.Out)
	}
	for j := 0; j < s.Out; j++ {
		for i, k := range s.Modes[j*c : (j+1)*c] {
			if k < 0 {
				return fmt.Errorf("encoder: spectral output %d has mode %d on component %d", j, k, i)
			}
			if k == 0 {
				continue
			}
			lo, hi := float64(s.Min[i]), float64(s.Max[i])
			if w := hi - lo; !(w > 0) || math.IsInf(w, 0) || math.IsInf(math.Pi/w, 0) {
				return fmt.Errorf("encoder: spectral component %d has range [%g, %g]", i, lo, hi)
			}
		}
	}
	return nil
}

// Encode computes the eigenfunctions of n inputs.
func (s *Spectral) Encode(x []float32, n int) ([]float32, error) {
	if err := checkInputs(x, n, s.Inputs()); err != nil {
		return nil, err
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	p, err := s.PCA.Encode(x, n)
	if err != nil {
		return nil, err
	}
	c := s.Components()
	omega0 := make([]float64, c)
	for i := range omega0 {
		omega0[i] = math.Pi / (float64(s.Max[i]) - float64(s.Min[i]))
	}
	out := make([]float32, n*s.Out)
	for r := 0; r < n; r++ {
		pr := p[r*c : (r+1)*c]
		for j := 0; j < s.Out; j++ {
			y := 1.0
			for i, k := range s.Modes[j*c : (j+1)*c] {
				if k == 0 {
					continue
				}
				y *= math.Sin((float64(pr[i])-float64(s.Min[i]))*(float64(k)*omega0[i]) + math.Pi/2)
			}
			out[r*s.Out+j] = float32(y)
		}
	}
	return out, nil
}

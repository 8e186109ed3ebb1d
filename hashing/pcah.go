package hashing

import "github.com/lookalike/lookalike/encoder"

// PCAH is PCA hashing: each bit is the sign of one of the top principal
// components of the mean-centred input. J. Wang, S. Kumar, S.-F. Chang,
// "Semi-Supervised Hashing for Large-Scale Search", TPAMI 2012, which
// defines it as the unsupervised baseline.
type PCAH struct{}

func init() { Register(PCAH{}) }

// Info describes PCAH.
func (PCAH) Info() Info {
	return Info{
		Name:  "pcah",
		Title: "PCA hashing",
		Paper: "J. Wang, S. Kumar, S.-F. Chang. Semi-Supervised Hashing for Large-Scale Search. TPAMI 2012",
	}
}

// Fit projects on the bits leading principal directions.
func (PCAH) Fit(x []float32, dim int, _ []int32, bits int, _ int64) (encoder.Shallow, error) {
	mean, _, w, err := principalFit(x, dim, bits)
	if err != nil {
		return nil, err
	}
	return linear(mean, w), nil
}

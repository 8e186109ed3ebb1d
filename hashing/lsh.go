package hashing

import (
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/lookalike/lookalike/encoder"
	"github.com/lookalike/lookalike/pca"
)

// LSH is locality-sensitive hashing by random hyperplanes: M. Charikar,
// "Similarity Estimation Techniques from Rounding Algorithms", STOC 2002
// (the LSH of the hashing literature's baseline tables). Each bit is the
// sign of the projection of the mean-centred input on a random Gaussian
// direction, so two inputs differ in a bit with probability angle/pi.
type LSH struct{}

func init() { Register(LSH{}) }

// Info describes LSH.
func (LSH) Info() Info {
	return Info{
		Name:  "lsh",
		Title: "Locality-sensitive hashing (random hyperplanes)",
		Paper: "M. Charikar. Similarity Estimation Techniques from Rounding Algorithms. STOC 2002",
	}
}

// Fit draws bits Gaussian directions from the seed; it uses the data only
// for its mean.
func (LSH) Fit(x []float32, dim int, _ []int32, bits int, seed int64) (encoder.Shallow, error) {
	n, err := checkFit(x, dim, bits)
	if err != nil {
		return nil, err
	}
	mean, _ := pca.Centre(x, n, dim)
	rng := rand.New(rand.NewPCG(uint64(seed), 0x15b))
	w := mat.NewDense(dim, bits, nil)
	for i := 0; i < dim; i++ {
		for j := 0; j < bits; j++ {
			w.Set(i, j, rng.NormFloat64())
		}
	}
	return linear(mean, w), nil
}

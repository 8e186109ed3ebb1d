package descriptor

import (
	"fmt"
	"math"

	"github.com/lookalike/lookalike/pca"
)

// Whitening is PCA whitening with dimension reduction, learned on a sample
// of descriptors (Babenko et al., "Neural codes for image retrieval",
// ECCV 2014; Jégou and Chum, "Negative evidences and co-occurrences in
// image retrieval", ECCV 2012): centre, project on the Out leading
// principal directions, divide each by its standard deviation, L2
// normalize.
type Whitening struct {
	Dim, Out int
	Mean     []float32
	// Proj is Out x Dim, row-major: row k is direction k over its standard
	// deviation.
	Proj []float32
}

// FitWhitening learns a whitening to out dimensions from the n = len(x)/dim
// descriptors in x. It needs more descriptors than out.
func FitWhitening(x []float32, dim, out int) (*Whitening, error) {
	if dim < 1 || len(x)%dim != 0 {
		return nil, fmt.Errorf("descriptor: %d values do not make %d-dimensional descriptors", len(x), dim)
	}
	n := len(x) / dim
	if out < 1 || out > dim || n <= out {
		return nil, fmt.Errorf("descriptor: whitening to %d dimensions needs at most %d dimensions and more than %d descriptors, got %d", out, dim, out, n)
	}
	mean, c := pca.Centre(x, n, dim)
	dirs, variances, err := pca.Principal(c, out)
	if err != nil {
		return nil, fmt.Errorf("descriptor: whitening: %w", err)
	}
	w := &Whitening{Dim: dim, Out: out, Mean: mean, Proj: make([]float32, out*dim)}
	for k := 0; k < out; k++ {
		// A tiny floor keeps directions of (numerically) zero variance from
		// blowing up.
		s := 1 / math.Sqrt(math.Max(variances[k], 1e-12))
		for i := 0; i < dim; i++ {
			w.Proj[k*dim+i] = float32(dirs.At(i, k) * s)
		}
	}
	return w, nil
}

// Apply whitens v and L2-normalizes the result.
func (w *Whitening) Apply(v []float32) []float32 {
	out := make([]float32, w.Out)
	for k := range out {
		row := w.Proj[k*w.Dim : (k+1)*w.Dim]
		var s float32
		for i, x := range v {
			s += (x - w.Mean[i]) * row[i]
		}
		out[k] = s
	}
	Normalize(out)
	return out
}

package encoder

import (
	"fmt"
	"runtime"
	"sync"
)

// Encoder maps images to real-valued outputs, one row of Outputs() values
// per image; hashing methods take codes as their signs. Runner (a trained
// CNN) and Linear (a projection of the pixels) implement it.
type Encoder interface {
	// Encode maps n images held back to back in pixels.
	Encode(pixels []float32, n int) ([]float32, error)
	// Outputs returns the number of values per image.
	Outputs() int
}

// Linear is the encoder of the shallow hashing methods: each output is
// (x - Mean) . column j of Projection, the input x being the image's
// pixels (or any feature vector) flattened.
type Linear struct {
	// Mean holds Dim values subtracted from every input.
	Mean []float32
	// Projection is Dim x Out, row-major.
	Projection []float32
	Dim, Out   int
}

// Outputs returns Out.
func (l *Linear) Outputs() int { return l.Out }

// Encode projects n inputs of Dim values, on all cores.
func (l *Linear) Encode(x []float32, n int) ([]float32, error) {
	if len(x) != n*l.Dim {
		return nil, fmt.Errorf("encoder: %d values for %d inputs of %d", len(x), n, l.Dim)
	}
	if len(l.Mean) != l.Dim || len(l.Projection) != l.Dim*l.Out {
		return nil, fmt.Errorf("encoder: linear encoder has %d means and %d weights for %d x %d", len(l.Mean), len(l.Projection), l.Dim, l.Out)
	}
	out := make([]float32, n*l.Out)
	workers := min(runtime.GOMAXPROCS(0), max(n, 1))
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo, hi := w*n/workers, (w+1)*n/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			centred := make([]float32, l.Dim)
			for i := lo; i < hi; i++ {
				row := x[i*l.Dim : (i+1)*l.Dim]
				for j, v := range row {
					centred[j] = v - l.Mean[j]
				}
				o := out[i*l.Out : (i+1)*l.Out]
				for j, c := range centred {
					if c == 0 {
						continue
					}
					p := l.Projection[j*l.Out : (j+1)*l.Out]
					for k, w := range p {
						o[k] += c * w
					}
				}
			}
		}()
	}
	wg.Wait()
	return out, nil
}

package encoder

import (
	"fmt"
	"runtime"
	"sync"
)

// Encoder maps images to real-valued outputs, one row of Outputs() values
// per image; hashing methods take codes as their signs. Runner (a trained
// CNN) and the Shallow encoders implement it.
type Encoder interface {
	// Encode maps n images held back to back in pixels.
	Encode(pixels []float32, n int) ([]float32, error)
	// Outputs returns the number of values per image.
	Outputs() int
}

// Shallow is an encoder of feature vectors (an image's pixels flattened, or
// any descriptor) that runs no network: what the shallow hashing methods
// learn. Linear, Spectral and Kernel implement it.
type Shallow interface {
	Encoder
	// Inputs returns the number of values per input vector.
	Inputs() int
	// Validate reports sizes that do not fit together, and parameters
	// that would make the outputs meaningless, such as a zero width.
	Validate() error
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

// Inputs returns Dim.
func (l *Linear) Inputs() int { return l.Dim }

// Validate checks the sizes of Mean and Projection.
func (l *Linear) Validate() error {
	if l.Dim < 1 || l.Out < 1 || len(l.Mean) != l.Dim || len(l.Projection) != l.Dim*l.Out {
		return fmt.Errorf("encoder: linear encoder has %d means and %d weights for %d x %d", len(l.Mean), len(l.Projection), l.Dim, l.Out)
	}
	return nil
}

// Encode projects n inputs of Dim values, on all cores.
func (l *Linear) Encode(x []float32, n int) ([]float32, error) {
	if err := checkInputs(x, n, l.Dim); err != nil {
		return nil, err
	}
	if err := l.Validate(); err != nil {
		return nil, err
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

// checkInputs reports x when it is not n vectors of dim values.
func checkInputs(x []float32, n, dim int) error {
	if n < 0 || len(x) != n*dim {
		return fmt.Errorf("encoder: %d values for %d inputs of %d", len(x), n, dim)
	}
	return nil
}

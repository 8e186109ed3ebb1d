package encoder

import (
	"fmt"
	"os"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// Scope is the root scope of the network's variables in a store.
const Scope = "net"

var (
	backendOnce sync.Once
	backend     compute.Backend
	backendErr  error
)

// Backend returns the process's pure-Go GoMLX backend. The XLA backend is
// never loaded: it would download its plugin at first use.
//
// Its worker pool is unlimited. With the default limit (twice the cores),
// every graph node runs holding a worker and a matrix product waits, still
// holding it, for free workers to split its work over; as many products
// ready at once as the limit wait on each other forever (a backward pass
// with several independent products did, at its first step). Unlimited,
// nodes run as plain goroutines and a product splits over at most as many
// workers as there are cores.
func Backend() (compute.Backend, error) {
	backendOnce.Do(func() { backend, backendErr = newBackend("parallelism=-1") })
	if backendErr != nil {
		return nil, fmt.Errorf("encoder: start GoMLX pure-Go backend: %w", backendErr)
	}
	return backend, nil
}

// InferenceBatch is the number of images run through the network at once
// when encoding.
const InferenceBatch = 500

// Runner runs a trained network in inference mode (batch normalization
// with its running averages).
type Runner struct {
	Net   CNN
	store *model.Store
	exec  *model.Exec
	mu    sync.Mutex
}

// NewRunner returns a runner for net with the variables of store.
func NewRunner(net CNN, store *model.Store) (*Runner, error) {
	b, err := Backend()
	if err != nil {
		return nil, err
	}
	exec, err := model.NewExec(b, store, func(scope *model.Scope, x *Node) *Node {
		return net.Build(scope.In(Scope), x)
	})
	if err != nil {
		return nil, fmt.Errorf("encoder: build inference graph: %w", err)
	}
	return &Runner{Net: net, store: store, exec: exec}, nil
}

// Encode runs the network on n images held back to back in pixels and
// returns n rows of Net.Outputs values.
func (e *Runner) Encode(pixels []float32, n int) ([]float32, error) {
	size := e.Net.Height * e.Net.Width * e.Net.Channels
	if len(pixels) != n*size {
		return nil, fmt.Errorf("encoder: %d values for %d images of %d", len(pixels), n, size)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]float32, 0, n*e.Net.Outputs)
	for lo := 0; lo < n; lo += InferenceBatch {
		hi := min(lo+InferenceBatch, n)
		x := tensors.FromFlatDataAndDimensions(pixels[lo*size:hi*size], hi-lo, e.Net.Height, e.Net.Width, e.Net.Channels)
		res, err := e.exec.Exec(x)
		if err != nil {
			return nil, fmt.Errorf("encoder: run network: %w", err)
		}
		vals, err := tensors.CopyFlatData[float32](res[0])
		if err != nil {
			return nil, fmt.Errorf("encoder: read outputs: %w", err)
		}
		out = append(out, vals...)
		for _, t := range res {
			t.FinalizeAll()
		}
		x.FinalizeAll()
	}
	return out, nil
}

// Outputs returns the number of values per image.
func (e *Runner) Outputs() int { return e.Net.Outputs }

// newBackend starts the pure-Go backend with config. The backend prints a
// line to standard output when a parallelism is configured, which would
// corrupt the JSON that commands write there, so standard output points to
// the null device while it starts.
func newBackend(config string) (compute.Backend, error) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return gobackend.New(config)
	}
	defer null.Close()
	stdout := os.Stdout
	os.Stdout = null
	defer func() { os.Stdout = stdout }()
	return gobackend.New(config)
}

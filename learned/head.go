package learned

import (
	"fmt"
	"sync"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/lookalike/lookalike/descriptor"
	"github.com/lookalike/lookalike/encoder"
)

// Method names a learned descriptor.
type Method string

// Methods lists the methods: Gordo (gordo.go) and SOLAR (solar.go).
var Methods = []Method{Gordo, SOLAR}

// ParseMethod returns the method named s.
func ParseMethod(s string) (Method, error) {
	for _, m := range Methods {
		if string(m) == s {
			return m, nil
		}
	}
	return "", fmt.Errorf("learned: unknown method %q (want gordo or solar)", s)
}

// Var is one named weight tensor of a head, row-major.
type Var struct {
	Name string
	Dims []int
	Data []float32
}

// Head is a trained descriptor head: it turns feature maps of the
// backbone it was trained on into L2-normalized descriptors. It is safe
// for concurrent use.
type Head struct {
	Method Method
	// Backbone names the network whose maps the head takes.
	Backbone string
	// Channels is the maps' channel count; Dim the descriptors' dimension.
	Channels, Dim int
	// Training records how the head was trained.
	Training Info
	// Vars are the weights, in a fixed order per method.
	Vars []Var

	mu   sync.Mutex
	exec *model.Exec
}

// Info records a training run.
type Info struct {
	// Images and Groups count the training images and instances.
	Images int `json:"images"`
	Groups int `json:"groups"`
	// Source says where the images came from.
	Source string  `json:"source,omitempty"`
	Config Config  `json:"config"`
	Before float64 `json:"loss_before"`
	After  float64 `json:"loss_after"`
	// Seconds of training, extraction of the maps excluded.
	Seconds float64 `json:"seconds"`
}

// spec is what differs between the methods: the rows a map gives the
// network, and the network.
type spec struct {
	rows     func(m descriptor.Map, dst []float32) []float32
	rowCount func(h, w int) int
	describe func(scope *model.Scope, x *Node) *Node
}

func specOf(m Method) spec {
	switch m {
	case Gordo:
		return spec{gordoRegions, gordoRows, gordoDescribe}
	case SOLAR:
		return spec{solarPositions, func(h, w int) int { return h * w }, solarDescribe}
	}
	panic(fmt.Sprintf("learned: unknown method %q", m))
}

// variable returns the value in graph g of the head variable name, which
// must exist.
func variable(scope *model.Scope, name string, g *Graph) *Node {
	v := scope.GetVariable(name)
	if v == nil {
		panic(fmt.Sprintf("learned: head variable %q missing", name))
	}
	return v.NodeValue(g)
}

// normalize L2-normalizes the last axis of x as the retrieval code of the
// papers does, x / (|x| + 1e-6).
func normalize(x *Node) *Node {
	return L2NormalizeWithEpsilon(x, 1e-6, -1)
}

// newStore returns a store holding vars.
func newStore(vars []Var) (*model.Store, error) {
	store := model.NewStore()
	for _, v := range vars {
		if _, err := store.RootScope().CreateVariable(v.Name, tensors.FromFlatDataAndDimensions(v.Data, v.Dims...)); err != nil {
			return nil, fmt.Errorf("learned: variable %s: %w", v.Name, err)
		}
	}
	return store, nil
}

// varsFromStore reads back the variables named like names from store.
func varsFromStore(store *model.Store, names []Var) ([]Var, error) {
	out := make([]Var, len(names))
	for i, n := range names {
		v := store.RootScope().GetVariable(n.Name)
		if v == nil {
			return nil, fmt.Errorf("learned: variable %s missing from the store", n.Name)
		}
		t, err := v.Value()
		if err != nil {
			return nil, err
		}
		data, err := tensors.CopyFlatData[float32](t)
		if err != nil {
			return nil, fmt.Errorf("learned: variable %s: %w", n.Name, err)
		}
		out[i] = Var{Name: n.Name, Dims: t.Shape().Dimensions, Data: data}
	}
	return out, nil
}

func backend() (compute.Backend, error) { return encoder.Backend() }

// Describe returns the L2-normalized descriptors of maps, which must have
// the head's channel count (sizes may differ).
func (h *Head) Describe(maps []descriptor.Map) ([][]float32, error) {
	sp := specOf(h.Method)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.exec == nil {
		b, err := backend()
		if err != nil {
			return nil, err
		}
		store, err := newStore(h.Vars)
		if err != nil {
			return nil, err
		}
		exec, err := model.NewExec(b, store, sp.describe)
		if err != nil {
			return nil, fmt.Errorf("learned: %w", err)
		}
		// One graph per batch size and map size.
		h.exec = exec.SetMaxCache(-1)
	}
	out := make([][]float32, len(maps))
	// Maps of one size go through the network together.
	for start := 0; start < len(maps); {
		m0 := maps[start]
		end := start + 1
		for end < len(maps) && maps[end].H == m0.H && maps[end].W == m0.W {
			end++
		}
		vecs, err := h.run(sp, maps[start:end])
		if err != nil {
			return nil, err
		}
		copy(out[start:end], vecs)
		start = end
	}
	return out, nil
}

// run describes maps of one size.
func (h *Head) run(sp spec, maps []descriptor.Map) ([][]float32, error) {
	rows := sp.rowCount(maps[0].H, maps[0].W)
	x := make([]float32, 0, len(maps)*rows*h.Channels)
	for _, m := range maps {
		if m.C != h.Channels {
			return nil, fmt.Errorf("learned: %s head takes maps of %d channels, got %d", h.Method, h.Channels, m.C)
		}
		x = sp.rows(m, x)
	}
	return runExec(h.exec, x, len(maps), rows, h.Channels, h.Dim)
}

// runExec runs a describing exec on x [n, rows, c] and splits its [n, dim]
// output.
func runExec(exec *model.Exec, x []float32, n, rows, c, dim int) (vecs [][]float32, err error) {
	defer func() {
		// Graph building panics on programmer errors (shapes); report them.
		if r := recover(); r != nil {
			err = fmt.Errorf("learned: %v", r)
		}
	}()
	res, err := exec.Exec(tensors.FromFlatDataAndDimensions(x, n, rows, c))
	if err != nil {
		return nil, fmt.Errorf("learned: %w", err)
	}
	flat, err := tensors.CopyFlatData[float32](res[0])
	res[0].FinalizeAll()
	if err != nil {
		return nil, err
	}
	if len(flat) != n*dim {
		return nil, fmt.Errorf("learned: %d outputs for %d maps of dimension %d", len(flat), n, dim)
	}
	vecs = make([][]float32, n)
	for i := range vecs {
		vecs[i] = flat[i*dim : (i+1)*dim : (i+1)*dim]
	}
	return vecs, nil
}

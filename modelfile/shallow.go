package modelfile

import (
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/lookalike/lookalike/encoder"
)

// Variables of the shallow kinds, over inputs of dim values (the
// flattened pixels, or a descriptor) and bits outputs. All are float32
// but for "modes" (int32) and "sigma" (float64).
//
//	KindLinear    "mean" [dim], "projection" [dim, bits]
//	KindSpectral  "mean" [dim], "projection" [dim, c], "min" [c], "max" [c],
//	              "modes" [bits, c]
//	KindKernel    "anchors" [m, dim], "sigma" [], "projection" [m, bits],
//	              "bias" [bits]

// ShallowVariables returns the kind and the variables that store e.
func ShallowVariables(e encoder.Shallow) (string, []Variable, error) {
	if err := e.Validate(); err != nil {
		return "", nil, fmt.Errorf("modelfile: %w", err)
	}
	switch e := e.(type) {
	case *encoder.Linear:
		return KindLinear, linearVariables(e), nil
	case *encoder.Spectral:
		c := e.Components()
		return KindSpectral, append(linearVariables(&e.PCA),
			float32Variable("min", []int{c}, e.Min),
			float32Variable("max", []int{c}, e.Max),
			int32Variable("modes", []int{e.Out, c}, e.Modes)), nil
	case *encoder.Kernel:
		return KindKernel, []Variable{
			float32Variable("anchors", []int{e.M, e.Dim}, e.Anchors),
			{Name: "sigma", DType: Float64, Dims: []int{}, Values: []uint64{math.Float64bits(e.Sigma)}},
			float32Variable("projection", []int{e.M, e.Out}, e.Projection),
			float32Variable("bias", []int{e.Out}, e.Bias),
		}, nil
	}
	return "", nil, fmt.Errorf("modelfile: no model kind stores a %T", e)
}

// ShallowEncoder builds the encoder of a shallow kind from its variables,
// checking that they are exactly the kind's, with the shapes that dim
// inputs and bits outputs call for, and that the encoder they make is
// valid.
func ShallowEncoder(kind string, vars []Variable, dim, bits int) (encoder.Shallow, error) {
	vs, err := newVarSet(kind, vars)
	if err != nil {
		return nil, err
	}
	var e encoder.Shallow
	switch kind {
	case KindLinear:
		l, err := vs.linear(dim, bits)
		if err != nil {
			return nil, err
		}
		e = l
	case KindSpectral:
		lo, err := vs.vector("min")
		if err != nil {
			return nil, err
		}
		c := len(lo)
		pca, err := vs.linear(dim, c)
		if err != nil {
			return nil, err
		}
		s := &encoder.Spectral{PCA: *pca, Min: lo, Out: bits}
		if s.Max, err = vs.float32s("max", c); err != nil {
			return nil, err
		}
		if s.Modes, err = vs.int32s("modes", bits, c); err != nil {
			return nil, err
		}
		e = s
	case KindKernel:
		a, err := vs.get("anchors", Float32)
		if err != nil {
			return nil, err
		}
		if len(a.Dims) != 2 || a.Dims[1] != dim {
			return nil, vs.shapeError(a, "[m, %d]", dim)
		}
		k := &encoder.Kernel{Dim: dim, M: a.Dims[0], Out: bits, Anchors: a.Float32s()}
		if k.Projection, err = vs.float32s("projection", k.M, bits); err != nil {
			return nil, err
		}
		if k.Bias, err = vs.float32s("bias", bits); err != nil {
			return nil, err
		}
		sigma, err := vs.get("sigma", Float64)
		if err != nil {
			return nil, err
		}
		if len(sigma.Dims) != 0 || len(sigma.Values) != 1 {
			return nil, vs.shapeError(sigma, "[]")
		}
		k.Sigma = math.Float64frombits(sigma.Values[0])
		e = k
	default:
		return nil, fmt.Errorf("modelfile: %q is not a shallow encoder kind", kind)
	}
	if len(vs.unused) > 0 {
		return nil, fmt.Errorf("modelfile: %s model has unexpected variables %v", kind, slices.Sorted(maps.Keys(vs.unused)))
	}
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("modelfile: %s model: %w", kind, err)
	}
	return e, nil
}

// IsShallow reports whether kind is one of the shallow encoder kinds.
func IsShallow(kind string) bool {
	return kind == KindLinear || kind == KindSpectral || kind == KindKernel
}

func linearVariables(l *encoder.Linear) []Variable {
	return []Variable{float32Variable("mean", []int{l.Dim}, l.Mean), float32Variable("projection", []int{l.Dim, l.Out}, l.Projection)}
}

func float32Variable(name string, dims []int, vals []float32) Variable {
	v := Variable{Name: name, DType: Float32, Dims: dims, Values: make([]uint64, len(vals))}
	for i, x := range vals {
		v.Values[i] = uint64(math.Float32bits(x))
	}
	return v
}

func int32Variable(name string, dims []int, vals []int32) Variable {
	v := Variable{Name: name, DType: Int32, Dims: dims, Values: make([]uint64, len(vals))}
	for i, x := range vals {
		v.Values[i] = uint64(uint32(x))
	}
	return v
}

// varSet looks up a model's variables by name and remembers which were
// never asked for.
type varSet struct {
	kind   string
	byName map[string]*Variable
	unused map[string]bool
}

func newVarSet(kind string, vars []Variable) (*varSet, error) {
	vs := &varSet{kind: kind, byName: map[string]*Variable{}, unused: map[string]bool{}}
	for i := range vars {
		v := &vars[i]
		if _, ok := vs.byName[v.Name]; ok {
			return nil, fmt.Errorf("modelfile: %s model has variable %q twice", kind, v.Name)
		}
		n := 1
		for _, d := range v.Dims {
			if d < 0 || d > maxElements {
				return nil, vs.shapeError(v, "a valid shape")
			}
			n *= d
			if n > maxElements {
				return nil, vs.shapeError(v, "a valid shape")
			}
		}
		if n != len(v.Values) {
			return nil, fmt.Errorf("modelfile: %s model: variable %q has %d values for shape %v", kind, v.Name, len(v.Values), v.Dims)
		}
		vs.byName[v.Name], vs.unused[v.Name] = v, true
	}
	return vs, nil
}

// get returns the variable called name, of type dt.
func (vs *varSet) get(name string, dt DType) (*Variable, error) {
	v, ok := vs.byName[name]
	if !ok {
		return nil, fmt.Errorf("modelfile: %s model lacks variable %q", vs.kind, name)
	}
	delete(vs.unused, name)
	if v.DType != dt {
		return nil, fmt.Errorf("modelfile: %s model: variable %q has dtype %d, want %d", vs.kind, name, v.DType, dt)
	}
	return v, nil
}

// float32s returns the values of the float32 variable name of shape dims.
func (vs *varSet) float32s(name string, dims ...int) ([]float32, error) {
	v, err := vs.get(name, Float32)
	if err != nil {
		return nil, err
	}
	if !slices.Equal(v.Dims, dims) {
		return nil, vs.shapeError(v, "%v", dims)
	}
	return v.Float32s(), nil
}

// vector returns the values of the float32 variable name of rank 1, of
// any nonzero length.
func (vs *varSet) vector(name string) ([]float32, error) {
	v, err := vs.get(name, Float32)
	if err != nil {
		return nil, err
	}
	if len(v.Dims) != 1 || v.Dims[0] < 1 {
		return nil, vs.shapeError(v, "[c], c > 0")
	}
	return v.Float32s(), nil
}

// int32s returns the values of the int32 variable name of shape dims.
func (vs *varSet) int32s(name string, dims ...int) ([]int32, error) {
	v, err := vs.get(name, Int32)
	if err != nil {
		return nil, err
	}
	if !slices.Equal(v.Dims, dims) {
		return nil, vs.shapeError(v, "%v", dims)
	}
	out := make([]int32, len(v.Values))
	for i, x := range v.Values {
		out[i] = int32(uint32(x))
	}
	return out, nil
}

// linear reads "mean" [dim] and "projection" [dim, out].
func (vs *varSet) linear(dim, out int) (*encoder.Linear, error) {
	l := &encoder.Linear{Dim: dim, Out: out}
	var err error
	if l.Mean, err = vs.float32s("mean", dim); err != nil {
		return nil, err
	}
	if l.Projection, err = vs.float32s("projection", dim, out); err != nil {
		return nil, err
	}
	return l, nil
}

func (vs *varSet) shapeError(v *Variable, format string, args ...any) error {
	return fmt.Errorf("modelfile: %s model: variable %q has shape %v, want %s", vs.kind, v.Name, v.Dims, fmt.Sprintf(format, args...))
}

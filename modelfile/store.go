package modelfile

import (
	"fmt"
	"math"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// FromStore copies the variables of store whose path starts with prefix
// ("" for all) into model-file form.
func FromStore(store *model.Store, prefix string) ([]Variable, error) {
	var out []Variable
	for v := range store.IterVariables() {
		if !strings.HasPrefix(v.Path(), prefix) {
			continue
		}
		t, err := v.Value()
		if err != nil {
			return nil, fmt.Errorf("modelfile: variable %s: %w", v.Path(), err)
		}
		mv := Variable{Name: v.Path(), Dims: t.Shape().Dimensions}
		switch t.DType() {
		case dtypes.Float32:
			mv.DType = Float32
			vals, err := tensors.CopyFlatData[float32](t)
			if err != nil {
				return nil, err
			}
			for _, x := range vals {
				mv.Values = append(mv.Values, uint64(math.Float32bits(x)))
			}
		case dtypes.Float64:
			mv.DType = Float64
			vals, err := tensors.CopyFlatData[float64](t)
			if err != nil {
				return nil, err
			}
			for _, x := range vals {
				mv.Values = append(mv.Values, math.Float64bits(x))
			}
		case dtypes.Int32:
			mv.DType = Int32
			vals, err := tensors.CopyFlatData[int32](t)
			if err != nil {
				return nil, err
			}
			for _, x := range vals {
				mv.Values = append(mv.Values, uint64(uint32(x)))
			}
		case dtypes.Int64:
			mv.DType = Int64
			vals, err := tensors.CopyFlatData[int64](t)
			if err != nil {
				return nil, err
			}
			for _, x := range vals {
				mv.Values = append(mv.Values, uint64(x))
			}
		case dtypes.Uint64:
			mv.DType = Uint64
			if mv.Values, err = tensors.CopyFlatData[uint64](t); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("modelfile: variable %s has unsupported dtype %s", v.Path(), t.DType())
		}
		out = append(out, mv)
	}
	return out, nil
}

// Tensor returns the variable's value as a GoMLX tensor.
func (v *Variable) Tensor() (*tensors.Tensor, error) {
	n := 1
	for _, d := range v.Dims {
		n *= d
	}
	if n != len(v.Values) {
		return nil, fmt.Errorf("modelfile: variable %s has %d values for shape %v", v.Name, len(v.Values), v.Dims)
	}
	switch v.DType {
	case Float32:
		return tensors.FromFlatDataAndDimensions(v.Float32s(), v.Dims...), nil
	case Float64:
		vals := make([]float64, n)
		for i, x := range v.Values {
			vals[i] = math.Float64frombits(x)
		}
		return tensors.FromFlatDataAndDimensions(vals, v.Dims...), nil
	case Int32:
		vals := make([]int32, n)
		for i, x := range v.Values {
			vals[i] = int32(uint32(x))
		}
		return tensors.FromFlatDataAndDimensions(vals, v.Dims...), nil
	case Int64:
		vals := make([]int64, n)
		for i, x := range v.Values {
			vals[i] = int64(x)
		}
		return tensors.FromFlatDataAndDimensions(vals, v.Dims...), nil
	case Uint64:
		return tensors.FromFlatDataAndDimensions(append([]uint64(nil), v.Values...), v.Dims...), nil
	}
	return nil, fmt.Errorf("modelfile: variable %s has unknown dtype %d", v.Name, v.DType)
}

// ToStore loads variables into store (a new one when nil).
func ToStore(store *model.Store, vars []Variable) (*model.Store, error) {
	if store == nil {
		store = model.NewStore()
	}
	for i := range vars {
		t, err := vars[i].Tensor()
		if err != nil {
			return nil, err
		}
		if _, err := store.CreateVariable(vars[i].Name, t); err != nil {
			return nil, fmt.Errorf("modelfile: load variable %s: %w", vars[i].Name, err)
		}
	}
	return store, nil
}

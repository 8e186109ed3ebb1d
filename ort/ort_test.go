package ort

import (
	"math"
	"testing"

	"github.com/lookalike/lookalike/onnx"
)

// TestSession runs a two-node model written by package onnx,
// y = Relu(x @ W + b), on values worked out by hand.
func TestSession(t *testing.T) {
	m := onnx.Model{Opset: 13, Graph: onnx.Graph{
		Name: "t",
		Initializers: []onnx.Tensor{
			{Name: "W", Dims: []int64{2, 3}, Float: []float32{1, 0, -1, 2, 1, 0}},
			{Name: "b", Dims: []int64{3}, Float: []float32{0, -5, 1}},
		},
		Nodes: []onnx.Node{
			{Op: "MatMul", Name: "mm", Inputs: []string{"x", "W"}, Outputs: []string{"xw"}},
			{Op: "Add", Name: "add", Inputs: []string{"xw", "b"}, Outputs: []string{"z"}},
			{Op: "Relu", Name: "relu", Inputs: []string{"z"}, Outputs: []string{"y"}},
		},
		Inputs:  []onnx.ValueInfo{{Name: "x", Dims: []int64{-1, 2}}},
		Outputs: []onnx.ValueInfo{{Name: "y", Dims: []int64{-1, 3}}},
	}}
	s, err := NewSession(m.Marshal(), "x", "y", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// x = [1 2; -1 0]: x@W = [5 2 -1; -1 0 1]; + b = [5 -3 0; -1 -5 2].
	got, shape, err := s.Run([]float32{1, 2, -1, 0}, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{5, 0, 0, 0, 0, 2}
	if len(shape) != 2 || shape[0] != 2 || shape[1] != 3 {
		t.Fatalf("shape %v, want [2 3]", shape)
	}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-6 {
			t.Fatalf("y = %v, want %v", got, want)
		}
	}
	// A wrong input shape is an error, not a crash.
	if _, _, err := s.Run([]float32{1, 2, 3}, 1, 3); err == nil {
		t.Error("a [1 3] input was accepted")
	}
}

package main

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/lookalike/lookalike/eval"
	"github.com/lookalike/lookalike/hashing"
)

// TestFitVectors trains methods on two well-separated clusters of 16-d
// vectors and checks that their codes retrieve a vector's own cluster,
// and that methods which need images say so.
func TestFitVectors(t *testing.T) {
	const n, dim = 256, 16
	rng := rand.New(rand.NewPCG(3, 3))
	x := make([]float32, n*dim)
	labels := make([]int32, n)
	for i := range n {
		labels[i] = int32(i % 2)
		for j := range dim {
			x[i*dim+j] = float32(rng.NormFloat64()) * 0.3
		}
		// Each class sits on its own half of the axes.
		for j := int(labels[i]) * dim / 2; j < (int(labels[i])+1)*dim/2; j++ {
			x[i*dim+j] += 2
		}
	}
	tests := []struct {
		method string
		minMAP float64
	}{
		{"dsh", 0.95},
		{"hashnet", 0.95},
		{"itq", 0.95},
		{"sdh", 0.95},
	}
	for _, tc := range tests {
		t.Run(tc.method, func(t *testing.T) {
			code, err := fitVectors(context.Background(), tc.method, 8, x, dim, labels, 1, 5)
			if err != nil {
				t.Fatal(err)
			}
			c, err := code(x)
			if err != nil {
				t.Fatal(err)
			}
			if c.Len() != n || c.Bits != 8 {
				t.Fatalf("%d codes of %d bits, want %d of 8", c.Len(), c.Bits, n)
			}
			r, err := eval.Hamming(c, labels, c, labels)
			if err != nil {
				t.Fatal(err)
			}
			if r.MAPAll < tc.minMAP {
				t.Errorf("mAP@all %.4f on two separated clusters, want >= %.2f", r.MAPAll, tc.minMAP)
			}
		})
	}
	for _, name := range []string{"fusionnet", "dvsq"} {
		if _, err := fitVectors(context.Background(), name, 8, x, dim, labels, 1, 1); !errors.Is(err, errNotOnVectors) {
			t.Errorf("%s on vectors: %v, want errNotOnVectors", name, err)
		}
	}
	if _, err := fitVectors(context.Background(), "dsh", 8, x, dim, labels[:10], 1, 1); err == nil {
		t.Error("dsh with 10 labels for 256 vectors: no error")
	}
	if _, err := fitVectors(context.Background(), "dsh", 8, x[:dim+1], dim, nil, 1, 1); err == nil {
		t.Error("a partial vector: no error")
	}
}

// TestFitVectors_Registry: every registered method either trains on
// vectors and codes them, or says it does not train on vectors.
func TestFitVectors_Registry(t *testing.T) {
	const n, dim = 64, 16
	rng := rand.New(rand.NewPCG(4, 4))
	x := make([]float32, n*dim)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	labels := make([]int32, n)
	for i := range labels {
		labels[i] = int32(i % 4)
	}
	for _, m := range hashing.All() {
		name := m.Info().Name
		t.Run(name, func(t *testing.T) {
			code, err := fitVectors(context.Background(), name, 8, x, dim, labels, 1, 1)
			if errors.Is(err, errNotOnVectors) {
				t.Log(err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c, err := code(x)
			if err != nil {
				t.Fatal(err)
			}
			if c.Len() != n {
				t.Fatalf("%d codes for %d vectors", c.Len(), n)
			}
		})
	}
}

package training

import (
	"context"
	"errors"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"

	"github.com/lookalike/lookalike/hashing"
)

// reportProbe is DSH that reports fixed discriminator scalars, and
// generates the negative of each image.
type reportProbe struct {
	hashing.DSH
	Reports map[string]float64
}

func (p reportProbe) Loss(b hashing.Batch) *Node {
	for name, v := range p.Reports {
		b.Report(name, Scalar(b.U.Graph(), b.U.DType(), v))
	}
	return p.DSH.Loss(b)
}

func (p reportProbe) Generate(b hashing.Batch) *Node { return OneMinus(b.Images) }

// TestTrain_Collapse: a discriminator loss at 0, or outputs saturated at
// 0 or 1, for all steps of the first epoch fail the run there; outputs
// short of saturation, or a loss just above the threshold, train.
func TestTrain_Collapse(t *testing.T) {
	tests := []struct {
		name     string
		reports  map[string]float64
		collapse bool
	}{
		{"loss 0", map[string]float64{hashing.ReportDiscriminatorLoss: 0}, true},
		{"discriminator wins", map[string]float64{hashing.ReportDiscriminatorReal: 1, hashing.ReportDiscriminatorFake: 0}, true},
		{"all fake", map[string]float64{hashing.ReportDiscriminatorReal: 0, hashing.ReportDiscriminatorFake: 0.0001}, true},
		{"playing", map[string]float64{hashing.ReportDiscriminatorLoss: 1.2, hashing.ReportDiscriminatorReal: 0.6, hashing.ReportDiscriminatorFake: 0.4}, false},
		{"one output alive", map[string]float64{hashing.ReportDiscriminatorReal: 1, hashing.ReportDiscriminatorFake: 0.02}, false},
		{"loss small, not 0", map[string]float64{hashing.ReportDiscriminatorLoss: 0.002}, false},
		{"no discriminator", map[string]float64{"other": 0}, false},
	}
	for _, tc := range tests {
		c, s := tiny()
		c.Method = reportProbe{DSH: hashing.DSH{Alpha: 0.01, MarginPerBit: 2}, Reports: tc.reports}
		_, err := Train(context.Background(), c, s)
		switch {
		case tc.collapse && (!errors.Is(err, ErrCollapsed) || !strings.Contains(err.Error(), "epoch 1:")):
			t.Errorf("%s: %v, want collapse at epoch 1", tc.name, err)
		case !tc.collapse && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// TestTrain_Trace: the trace holds the loss and the reported scalars of
// each of the 2 x 4 steps, and the generator's images for TraceSamples
// training images.
func TestTrain_Trace(t *testing.T) {
	c, s := tiny()
	c.Method = reportProbe{DSH: hashing.DSH{Alpha: 0.01, MarginPerBit: 2}, Reports: map[string]float64{"b": 0.25, "a": 0.5}}
	c.Trace = &Trace{}
	if _, err := Train(context.Background(), c, s); err != nil {
		t.Fatal(err)
	}
	tr := c.Trace
	if strings.Join(tr.Names, ",") != "loss,a,b" || len(tr.Steps) != 8 {
		t.Fatalf("trace names %v, %d steps", tr.Names, len(tr.Steps))
	}
	for i, st := range tr.Steps {
		if len(st) != 3 || st[1] != 0.5 || st[2] != 0.25 || !(st[0] > 0) {
			t.Errorf("step %d: %v", i+1, st)
		}
	}
	size := s.ImageSize()
	if tr.Samples != TraceSamples || len(tr.Real) != TraceSamples*size || len(tr.Generated) != len(tr.Real) || tr.Height != 8 {
		t.Fatalf("samples: %d, %d real and %d generated values", tr.Samples, len(tr.Real), len(tr.Generated))
	}
	// Sample i is training image i * 64 / 32 = 2i.
	for i := range TraceSamples {
		for k := range size {
			r, g := tr.Real[i*size+k], tr.Generated[i*size+k]
			if r != s.Image(2 * i)[k] || g < 1-r-1e-6 || g > 1-r+1e-6 {
				t.Fatalf("sample %d value %d: real %v generated %v", i, k, r, g)
			}
		}
	}
}

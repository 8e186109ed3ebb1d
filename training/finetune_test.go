package training

import (
	"context"
	"math"
	"reflect"
	"testing"

	"github.com/lookalike/lookalike/hashing"
)

// tuneEven keeps the even output bits, as keepEven, and asks for epochs
// of fine-tuning at rate.
type tuneEven struct {
	keepEven
	epochs int
	rate   float64
}

func (k *tuneEven) FineTune() (int, float64) { return k.epochs, k.rate }

// TestTrain_FineTune: a FineTuner's cut network trains on from the cut
// weights. With no epochs the model is the pruned one; at a learning rate
// of 1e-9 for one epoch (8 Adam steps, each moving a weight by at most
// about 1e-9) every weight stays within 1e-6 of the cut one, which only
// starting from the cut weights explains; at 1e-2 the output layer
// moves by more than 1e-4. The header, seconds aside, stays the pruned
// run's: 4 bits, 2 epochs.
func TestTrain_FineTune(t *testing.T) {
	c, s := tiny()
	dsh := hashing.DSH{Alpha: 0.01, MarginPerBit: 2}
	c.Method = &keepEven{DSH: dsh}
	pruned, err := Train(context.Background(), c, s)
	if err != nil {
		t.Fatal(err)
	}
	cut := weights(t, pruned)
	tests := []struct {
		name   string
		epochs int
		rate   float64
		moved  bool // whether the output weights leave the cut ones
	}{
		{"no epochs", 0, 1e-2, false},
		{"rate 1e-9", 1, 1e-9, false},
		{"rate 1e-2", 1, 1e-2, true},
	}
	for _, tc := range tests {
		c.Method = &tuneEven{keepEven: keepEven{DSH: dsh}, epochs: tc.epochs, rate: tc.rate}
		tuned, err := Train(context.Background(), c, s)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		h, want := tuned.Header, pruned.Header
		h.Training.Seconds, want.Training.Seconds = 0, 0
		if !reflect.DeepEqual(h, want) {
			t.Errorf("%s: header %+v, want the pruned run's %+v", tc.name, h, want)
		}
		if h.Bits != 4 || h.Network.Outputs != 4 || h.Training.Epochs != 2 || h.Method != "dsh" {
			t.Errorf("%s: header: %d bits, %d outputs, %d epochs, method %s; want 4, 4, 2, dsh",
				tc.name, h.Bits, h.Network.Outputs, h.Training.Epochs, h.Method)
		}
		after := weights(t, tuned)
		for _, name := range []string{"/net/000_conv/weights", "/net/001_fc/weights", "/net/002_out/weights"} {
			a, b := cut[name], after[name]
			if len(a) != len(b) || len(a) == 0 {
				t.Fatalf("%s: %s has %d values, the cut model %d", tc.name, name, len(b), len(a))
			}
			worst := 0.0
			for i := range a {
				worst = max(worst, math.Abs(float64(f32(a[i])-f32(b[i]))))
			}
			switch {
			case tc.moved && name == "/net/002_out/weights" && worst < 1e-4:
				t.Errorf("%s: %s moved at most %g from the cut weights, want a fine-tuned layer", tc.name, name, worst)
			case !tc.moved && worst > 1e-6:
				t.Errorf("%s: %s moved up to %g from the cut weights, want at most 1e-6", tc.name, name, worst)
			}
		}
	}
}

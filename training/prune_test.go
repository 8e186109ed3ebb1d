package training

import (
	"context"
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/lookalike/lookalike/hashing"
	"github.com/lookalike/lookalike/modelfile"
)

// keepEven trains as DSH and keeps the even output bits.
type keepEven struct {
	hashing.DSH
	outputs []float32
}

func (k *keepEven) Prune(outputs []float32, n, bits int, labels []int32, seed int64) ([]int, error) {
	if len(outputs) != n*bits || len(labels) != n {
		return nil, errors.New("outputs or labels of the wrong length")
	}
	k.outputs = outputs
	var keep []int
	for b := 0; b < bits; b += 2 {
		keep = append(keep, b)
	}
	return keep, nil
}

func f32(v uint64) float32 { return math.Float32frombits(uint32(v)) }

// TestTrain_Prune: a Pruner's model has the kept outputs only, the same
// values the unpruned layer gave them, and OnEpoch sees every epoch.
func TestTrain_Prune(t *testing.T) {
	c, s := tiny()
	plain, err := Train(context.Background(), c, s)
	if err != nil {
		t.Fatal(err)
	}
	k := &keepEven{DSH: hashing.DSH{Alpha: 0.01, MarginPerBit: 2}}
	c.Method = k
	var epochs []int
	c.OnEpoch = func(epoch int, m *modelfile.Model) error {
		epochs = append(epochs, epoch)
		if m.Header.Training.Epoch != epoch {
			t.Errorf("OnEpoch(%d) got a model of epoch %d", epoch, m.Header.Training.Epoch)
		}
		return nil
	}
	pruned, err := Train(context.Background(), c, s)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(epochs, []int{1, 2}) {
		t.Errorf("OnEpoch saw epochs %v, want [1 2]", epochs)
	}
	if len(k.outputs) != s.Len()*8 {
		t.Fatalf("Prune saw %d outputs, want %d", len(k.outputs), s.Len()*8)
	}
	if pruned.Header.Bits != 4 || pruned.Header.Network.Outputs != 4 {
		t.Fatalf("pruned header: %d bits, %d outputs; want 4, 4", pruned.Header.Bits, pruned.Header.Network.Outputs)
	}
	// The same seed trains the same network: the pruned layer holds the
	// even columns of the plain one.
	before, after := weights(t, plain), weights(t, pruned)
	w, b := before["/net/002_out/weights"], before["/net/002_out/biases"]
	pw, pb := after["/net/002_out/weights"], after["/net/002_out/biases"]
	if len(pw) != 16*4 || len(pb) != 4 {
		t.Fatalf("pruned layer has %d weights and %d biases, want 64 and 4", len(pw), len(pb))
	}
	for r := range 16 {
		for j := range 4 {
			if pw[r*4+j] != w[r*8+2*j] {
				t.Fatalf("weight [%d,%d] = %v, want column %d's %v", r, j, f32(pw[r*4+j]), 2*j, f32(w[r*8+2*j]))
			}
		}
	}
	for j := range 4 {
		if pb[j] != b[2*j] {
			t.Fatalf("bias %d = %v, want %v", j, f32(pb[j]), f32(b[2*j]))
		}
	}
	if after["/net/000_conv/weights"] == nil || !reflect.DeepEqual(after["/net/001_fc/weights"], before["/net/001_fc/weights"]) {
		t.Error("layers below the output changed")
	}
}

func TestKeepOutputs_Bad(t *testing.T) {
	c, s := tiny()
	m, err := Train(context.Background(), c, s)
	if err != nil {
		t.Fatal(err)
	}
	for _, keep := range [][]int{nil, {3, 1}, {0, 8}, {-1}, {2, 2}} {
		if err := KeepOutputs(m, keep); err == nil {
			t.Errorf("KeepOutputs(%v) accepted", keep)
		}
	}
}

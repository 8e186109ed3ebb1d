package training

import (
	"context"
	"math"
	"reflect"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/lookalike/lookalike/encoder"
	"github.com/lookalike/lookalike/hashing"
)

// TestMomentumSGD: minimizing w^2 from w = 1 with learning rate 0.1 and
// momentum 0.9, v = 0.9 v + 2w, w = w - 0.1 v:
//
//	step 1: v = 2,                  w = 1 - 0.2      = 0.8
//	step 2: v = 1.8 + 1.6 = 3.4,    w = 0.8 - 0.34   = 0.46
//	step 3: v = 3.06 + 0.92 = 3.98, w = 0.46 - 0.398 = 0.062
func TestMomentumSGD(t *testing.T) {
	backend, err := encoder.Backend()
	if err != nil {
		t.Fatal(err)
	}
	store := model.NewStore()
	opt := momentumSGD{rate: 0.1, momentum: 0.9}
	exec, err := model.NewExec(backend, store, func(scope *model.Scope, x *Node) *Node {
		w := scope.VariableWithValue("w", float32(1)).NodeValue(x.Graph())
		opt.UpdateGraph(scope, x.Graph(), ReduceAllSum(Mul(Square(w), x)))
		return w
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []float64{0.8, 0.46, 0.062} {
		if _, err := exec.Exec(tensors.FromScalar(float32(1))); err != nil {
			t.Fatal(err)
		}
		v, err := store.GetVariable("/w").Value()
		if err != nil {
			t.Fatal(err)
		}
		got := tensors.ToScalar[float32](v)
		if math.Abs(float64(got)-want) > 1e-6 {
			t.Fatalf("step %d: w = %v, want %v", i+1, got, want)
		}
	}
	if err := opt.Clear(store.RootScope()); err != nil {
		t.Fatal(err)
	}
	if store.GetVariable("/sgd/w_velocity") != nil {
		t.Error("Clear left the velocity")
	}
}

// TestTrain_SGD: the trainer runs with SGD, records it in the model, and
// a run resumed from its checkpoint (velocities included) ends as the
// uninterrupted one; an unknown optimizer is refused.
func TestTrain_SGD(t *testing.T) {
	c, s := tiny()
	c.Optimizer, c.LearningRate = SGD, DefaultLearningRate(SGD)
	whole, err := Train(context.Background(), c, s)
	if err != nil {
		t.Fatal(err)
	}
	if whole.Header.Training.Optimizer != SGD || whole.Header.Training.LearningRate != 0.01 {
		t.Errorf("training header %+v", whole.Header.Training)
	}
	adam, _ := tiny()
	first, err := Train(context.Background(), adam, s)
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(weights(t, whole), weights(t, first)) {
		t.Error("SGD and Adam gave the same weights")
	}
	if resumed := trainResumed(t, c, s); !reflect.DeepEqual(weights(t, whole), weights(t, resumed)) {
		t.Error("resumed SGD run differs from the uninterrupted one")
	}
	c.Optimizer = "lbfgs"
	if _, err := Train(context.Background(), c, s); err == nil {
		t.Error("unknown optimizer accepted")
	}
}

// TestNewConfig_Optimized: a method that names its optimizer gets it,
// DVSQ SGD at SGD's default rate; the others Adam at 1e-3.
func TestNewConfig_Optimized(t *testing.T) {
	tests := []struct {
		method, want string
		rate         float64
	}{
		{"dvsq", SGD, DefaultLearningRate(SGD)},
		{"dhn", SGD, DefaultLearningRate(SGD)},
		{"dsh", "", 1e-3},
		{"hashnet", "", 1e-3},
	}
	for _, tc := range tests {
		m, err := hashing.Lookup(tc.method)
		if err != nil {
			t.Fatal(err)
		}
		c := NewConfig(m.(hashing.Deep), 48)
		if c.Optimizer != tc.want || c.LearningRate != tc.rate {
			t.Errorf("%s: optimizer %q at %g, want %q at %g", tc.method, c.Optimizer, c.LearningRate, tc.want, tc.rate)
		}
	}
}

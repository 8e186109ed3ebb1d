package learned

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/lookalike/lookalike/descriptor"
)

// syntheticSet is groups instances of 8-channel 3x3 maps, each an
// original and two noisy copies of it.
func syntheticSet(groups int, noise float64) *Set {
	rng := rand.New(rand.NewPCG(5, 6))
	set := &Set{Backbone: "synthetic", Source: "test"}
	for g := 0; g < groups; g++ {
		base := randomMap(rng, 8, 3, 3)
		for k := 0; k < 3; k++ {
			m := descriptor.Map{C: 8, H: 3, W: 3, Data: make([]float32, len(base.Data))}
			for i, v := range base.Data {
				m.Data[i] = float32(max(float64(v)+noise*rng.NormFloat64(), 0))
			}
			if k == 0 {
				set.Queries = append(set.Queries, len(set.Maps))
			}
			set.Maps = append(set.Maps, m)
			set.Groups = append(set.Groups, g)
		}
	}
	return set
}

func smallConfig(m Method) Config {
	c := NewConfig(m)
	c.Dim, c.Mid, c.Negatives, c.Batch, c.Epochs = 4, 2, 2, 4, 6
	c.Queries, c.Pool, c.LearningRate, c.Seed = 0, 0, 0.02, 1
	return c
}

// TestTrain_LowersLoss trains both heads on a tiny synthetic set: the
// loss on the first epoch's tuples falls, and the head describes maps
// with unit vectors that rank an original's copies first more often than
// not.
func TestTrain_LowersLoss(t *testing.T) {
	set := syntheticSet(16, 0.6)
	for _, m := range Methods {
		var progress strings.Builder
		c := smallConfig(m)
		c.Progress = &progress
		h, err := Train(context.Background(), c, set)
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		if !(h.Training.Before > 0) || !(h.Training.After < h.Training.Before) {
			t.Errorf("%s: loss %v before, %v after training", m, h.Training.Before, h.Training.After)
		}
		if !strings.Contains(progress.String(), "epoch 6/6") {
			t.Errorf("%s: progress %q", m, progress.String())
		}
		if h.Training.Images != 48 || h.Training.Groups != 16 || h.Training.Config.Dim != 4 {
			t.Errorf("%s: training record %+v", m, h.Training)
		}
		vecs, err := h.Describe(set.Maps[:2])
		if err != nil {
			t.Fatal(err)
		}
		var norm float64
		for _, v := range vecs[0] {
			norm += float64(v * v)
		}
		if len(vecs[0]) != 4 || norm < 0.999 || norm > 1.001 {
			t.Errorf("%s: descriptor %v", m, vecs[0])
		}
	}
}

func TestTrain_Deterministic(t *testing.T) {
	set := syntheticSet(8, 0.6)
	c := smallConfig(Gordo)
	c.Epochs = 2
	a, err := Train(context.Background(), c, set)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Train(context.Background(), c, set)
	for i := range a.Vars {
		for j := range a.Vars[i].Data {
			if a.Vars[i].Data[j] != b.Vars[i].Data[j] {
				t.Fatalf("two runs with seed 1 differ at %s[%d]", a.Vars[i].Name, j)
			}
		}
	}
}

func TestTrain_BadInput(t *testing.T) {
	set := syntheticSet(4, 0.6)
	tests := []struct {
		name   string
		change func(c *Config, s *Set)
		want   string
	}{
		{"method", func(c *Config, s *Set) { c.Method = "netvlad" }, "unknown method"},
		{"dimension", func(c *Config, s *Set) { c.Dim = 9 }, "dimension 9"},
		{"negatives", func(c *Config, s *Set) { c.Negatives = 4 }, "4 groups"},
		{"learning rate", func(c *Config, s *Set) { c.LearningRate = 0 }, "learning rate"},
		{"map size", func(c *Config, s *Set) { s.Maps[1] = randomMap(rand.New(rand.NewPCG(1, 1)), 8, 2, 2) }, "map 1"},
		{"no queries", func(c *Config, s *Set) { s.Queries = nil }, "no queries"},
		{"too few for PCA", func(c *Config, s *Set) {
			c.Method, c.Dim, c.Negatives = SOLAR, 8, 1
			s.Maps, s.Groups, s.Queries = s.Maps[:6], s.Groups[:6], s.Queries[:2]
		}, "needs more than 8"},
	}
	for _, tc := range tests {
		c := smallConfig(Gordo)
		s := &Set{Maps: append([]descriptor.Map(nil), set.Maps...), Groups: set.Groups, Queries: set.Queries}
		tc.change(&c, s)
		if _, err := Train(context.Background(), c, s); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Train(ctx, smallConfig(Gordo), set); err != context.Canceled {
		t.Errorf("cancelled: %v", err)
	}
}

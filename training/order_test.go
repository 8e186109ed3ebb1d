package training

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/lookalike/lookalike/hashing"
)

func TestEpochOrder(t *testing.T) {
	labels := []int32{0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 3, 3, 3, 3}
	tests := []struct {
		name     string
		perClass int
		// groups is the size of the runs of one label the order must be
		// cut into from its start (0: no constraint).
		groups int
	}{
		{"random", 0, 0},
		{"one per class is random", 1, 0},
		{"pairs", 2, 2},
	}
	for _, tc := range tests {
		for epoch := range 3 {
			got := epochOrder(labels, tc.perClass, 7, epoch)
			if sorted := slices.Sorted(slices.Values(got)); !slices.Equal(sorted, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}) {
				t.Fatalf("%s epoch %d: %v is not a permutation", tc.name, epoch, got)
			}
			if !slices.Equal(got, epochOrder(labels, tc.perClass, 7, epoch)) {
				t.Errorf("%s epoch %d: order differs between calls", tc.name, epoch)
			}
			if tc.groups == 0 {
				if want := rand.New(rand.NewPCG(7, uint64(epoch))).Perm(len(labels)); !slices.Equal(got, want) {
					t.Errorf("%s epoch %d: %v, want the plain permutation %v", tc.name, epoch, got, want)
				}
				continue
			}
			for i := 0; i < len(got); i += tc.groups {
				if labels[got[i]] != labels[got[i+1]] {
					t.Errorf("%s epoch %d: positions %d, %d hold labels %d, %d: %v", tc.name, epoch, i, i+1, labels[got[i]], labels[got[i+1]], got)
				}
			}
		}
	}
	// Groups of four: label 2 has only two images, a short group.
	got := epochOrder(labels, 4, 1, 0)
	runs := 0
	for i := range got {
		if i == 0 || labels[got[i]] != labels[got[i-1]] {
			runs++
		}
	}
	// 4 + 4 + 2 + 4 + 2 images: five groups, so at most five runs, at least
	// four (label 3's two groups may be adjacent).
	if runs < 4 || runs > 5 {
		t.Errorf("groups of 4: %d runs of one label in %v, want 4 or 5", runs, got)
	}
}

// redrawProbe is DSH with a second view made by Redraw, recording the key
// of every call.
type redrawProbe struct {
	hashing.DSH
	keys *[]uint64
}

func (redrawProbe) Views() int { return 2 }

func (redrawProbe) Augment([]float32, []float32, int, int, int, int) {
	panic("the trainer must call Redraw")
}

func (p redrawProbe) Redraw(dst, src []float32, _, _, _, _ int, key uint64) {
	copy(dst, src)
	*p.keys = append(*p.keys, key)
}

// TestTrain_Redraw: a Redrawer gets one key per step, the same for every
// image of the batch, stepKey(seed, step), different from step to step.
func TestTrain_Redraw(t *testing.T) {
	c, s := tiny()
	var keys []uint64
	c.Method = redrawProbe{keys: &keys}
	if _, err := Train(context.Background(), c, s); err != nil {
		t.Fatal(err)
	}
	steps := c.Epochs * (s.Len() / c.BatchSize)
	if len(keys) != steps*c.BatchSize {
		t.Fatalf("%d calls, want %d", len(keys), steps*c.BatchSize)
	}
	seen := map[uint64]bool{}
	for step := range steps {
		want := stepKey(c.Seed, step)
		for i, k := range keys[step*c.BatchSize : (step+1)*c.BatchSize] {
			if k != want {
				t.Fatalf("step %d image %d: key %x, want %x", step, i, k, want)
			}
		}
		if seen[want] {
			t.Errorf("step %d repeats a key", step)
		}
		seen[want] = true
	}
}

package training

import (
	"math/rand/v2"
	"slices"
	"testing"
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

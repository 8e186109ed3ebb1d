package learned

import (
	"math/rand/v2"
	"reflect"
	"testing"
)

func TestHardNegatives(t *testing.T) {
	// Unit vectors on a circle; the dot product with the query (1,0) is
	// the first coordinate.
	pool := []float32{
		1, 0, // 0: group 0 (the query's): never a negative
		0.8, 0.6, // 1: group 1, dot 0.8
		0.6, 0.8, // 2: group 2, dot 0.6
		0.8, -0.6, // 3: group 3, dot 0.8 (ties with 1: by position)
		0.9, 0.436, // 4: group 1, dot 0.9: group 1's nearest
		-1, 0, // 5: group 4, dot -1
	}
	groups := []int{0, 1, 2, 3, 1, 4}
	tests := []struct {
		name    string
		queries []float32
		qGroups []int
		n       int
		want    [][]int
	}{
		// Nearest first, one per group: 4 (group 1, 0.9) hides 1; 3 (0.8)
		// before 2 (0.6).
		{"three", []float32{1, 0}, []int{0}, 3, [][]int{{4, 3, 2}}},
		// All four other groups, the farthest last.
		{"all groups", []float32{1, 0}, []int{0}, 9, [][]int{{4, 3, 2, 5}}},
		// A query of group 1 skips 1 and 4: 0 (dot 1), then 3 (0.8).
		{"other group", []float32{1, 0}, []int{1}, 2, [][]int{{0, 3}}},
		// Two queries. (1,0) of group 2: 0 (1), 4 (0.9, hiding 1), 3 (0.8).
		// (0,1) of group 3: dots 0, 0.6, 0.8, -, 0.436, 0: 2, then 1 (group
		// 1's nearest), then 0 and 5 tie at 0 and 0 comes first.
		{"two queries", []float32{1, 0, 0, 1}, []int{2, 3}, 3, [][]int{{0, 4, 3}, {2, 1, 0}}},
	}
	for _, tc := range tests {
		got := HardNegatives(tc.queries, tc.qGroups, pool, groups, 2, tc.n)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestTuples: each query gets a positive of its own group (never itself)
// and negatives of other groups; a query whose group has no other image
// is left out.
func TestTuples(t *testing.T) {
	set := &Set{Groups: []int{0, 0, 1, 1, 2, 3}}
	desc := []float32{1, 0, 0.9, 0.436, 0.6, 0.8, 0, 1, -1, 0, 0.8, -0.6}
	queries := []int{0, 2, 5}
	pool := []int{0, 1, 2, 3, 4, 5}
	var qDesc []float32
	for _, q := range queries {
		qDesc = append(qDesc, desc[2*q:2*q+2]...)
	}
	got := tuples(set, queries, pool, qDesc, desc, 2, 2, rand.New(rand.NewPCG(1, 1)))
	want := []Tuple{
		// Query (1,0): 5 (0.8) then 2 (0.6; 3 is group 1's farther one).
		{Query: 0, Positive: 1, Negatives: []int{5, 2}},
		// Query (0.6,0.8): 1 (0.889 > 0 of image 0), then 5 (0.0).
		{Query: 2, Positive: 3, Negatives: []int{1, 5}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("tuples %+v, want %+v", got, want)
	}
}

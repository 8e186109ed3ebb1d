package vector

import (
	"fmt"
	"math"
	"testing"
)

// TestFlat_BruteForce checks the exact search against a float64 brute
// force: the same scores, in order, and a k-th score no worse than the
// true k-th (so near-ties may swap, nothing else).
func TestFlat_BruteForce(t *testing.T) {
	tests := []struct {
		metric     Metric
		n, dim, nq int
		k          int
		workers    int
	}{
		{InnerProduct, 1, 1, 3, 1, 2},
		{InnerProduct, 100, 15, 5, 10, 2},
		{InnerProduct, 1000, 256, 9, 10, 2},
		{InnerProduct, 1000, 256, 9, 10, 1},
		{Cosine, 500, 33, 6, 7, 2},
		{Cosine, 300, 64, 4, 300, 3},
		{L2, 777, 16, 5, 20, 2},
		{L2, 64, 100, 2, 80, 2},
		{InnerProduct, 5000, 48, 13, 100, 2},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%v/n%d/d%d/k%d/w%d", tc.metric, tc.n, tc.dim, tc.k, tc.workers), func(t *testing.T) {
			db, qs := split(clustered(1, tc.n+tc.nq, tc.dim, 7, false), tc.n, tc.dim)
			f := NewFlat(tc.dim, tc.metric)
			f.Workers = tc.workers
			// Two Adds: the second fills the first's last block.
			half := tc.n / 2 * tc.dim
			f.Add(db[:half])
			f.Add(db[half:])
			if f.Len() != tc.n {
				t.Fatalf("Len = %d, want %d", f.Len(), tc.n)
			}
			got := f.SearchBatch(qs, tc.k)
			for i := range tc.nq {
				q := qs[i*tc.dim : (i+1)*tc.dim]
				want := bruteForce(db, tc.dim, tc.metric, q)
				checkRanking(t, got[i], want, min(tc.k, tc.n), tc.metric)
				one := f.Search(q, tc.k)
				if fmt.Sprint(one) != fmt.Sprint(got[i]) {
					t.Fatalf("query %d: Search %v differs from SearchBatch %v", i, one, got[i])
				}
			}
		})
	}
}

func checkRanking(t *testing.T, got, want []Result, k int, m Metric) {
	t.Helper()
	if len(got) != k {
		t.Fatalf("%d results, want %d", len(got), k)
	}
	byID := map[int]float32{}
	for _, r := range want {
		byID[r.ID] = r.Score
	}
	const tol = 1e-4
	for j, r := range got {
		s, ok := byID[r.ID]
		if !ok || math.Abs(float64(s-r.Score)) > tol*(1+math.Abs(float64(s))) {
			t.Fatalf("result %d: id %d score %g, brute force %g", j, r.ID, r.Score, s)
		}
		if j > 0 {
			better := got[j-1].Score >= r.Score
			if m == L2 {
				better = got[j-1].Score <= r.Score
			}
			if !better {
				t.Fatalf("results out of order at %d: %v", j, got)
			}
		}
	}
	last, kth := got[k-1].Score, want[k-1].Score
	if d := float64(last - kth); (m == L2 && d > tol) || (m != L2 && d < -tol) {
		t.Fatalf("k-th score %g, brute force %g", last, kth)
	}
}

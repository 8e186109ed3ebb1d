package vector

import (
	"bytes"
	"fmt"
	"testing"
)

// TestHNSW_Recall checks recall@10 against brute force on clustered sets
// at the default EfSearch, for each metric, the graph built in one Add or
// several.
func TestHNSW_Recall(t *testing.T) {
	tests := []struct {
		metric      Metric
		n, dim, nc  int
		unit        bool
		adds        int
		want        float64
		ef, workers int
	}{
		{InnerProduct, 6000, 64, 3, true, 1, 0.95, 0, 2},
		{Cosine, 6000, 48, 3, false, 3, 0.95, 0, 2},
		{L2, 6000, 40, 3, false, 1, 0.95, 0, 1},
		{InnerProduct, 3000, 256, 3, true, 2, 0.95, 0, 2},
		{InnerProduct, 6000, 64, 3, true, 1, 0.99, 256, 2},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%v/n%d/d%d/adds%d/ef%d", tc.metric, tc.n, tc.dim, tc.adds, tc.ef), func(t *testing.T) {
			db, qs := split(clustered(3, tc.n+100, tc.dim, tc.nc, tc.unit), tc.n, tc.dim)
			h := NewHNSW(tc.dim, HNSWConfig{Metric: tc.metric, Seed: 7, Workers: tc.workers})
			per := (tc.n + tc.adds - 1) / tc.adds * tc.dim
			for i := 0; i < len(db); i += per {
				h.Add(db[i:min(len(db), i+per)])
			}
			if tc.ef > 0 {
				h.EfSearch = tc.ef
			}
			got := h.SearchBatch(qs, 10)
			truth := make([][]Result, len(got))
			for i := range truth {
				truth[i] = bruteForce(db, tc.dim, tc.metric, qs[i*tc.dim:(i+1)*tc.dim])
				for j, r := range got[i] {
					want := truth[i][0].Score
					for _, x := range truth[i] {
						if x.ID == r.ID {
							want = x.Score
							break
						}
					}
					if d := r.Score - want; d > 1e-4 || d < -1e-4 {
						t.Fatalf("query %d result %d: id %d score %g, brute force %g", i, j, r.ID, r.Score, want)
					}
				}
			}
			if r := recallAt(got, truth, 10); r < tc.want {
				t.Errorf("recall@10 = %.3f, want >= %.2f", r, tc.want)
			} else {
				t.Logf("recall@10 = %.3f", r)
			}
		})
	}
}

// TestHNSW_EfSearch checks the knob: a larger candidate list finds more
// of the true neighbours.
func TestHNSW_EfSearch(t *testing.T) {
	db, qs := split(clustered(3, 6100, 64, 3, true), 6000, 64)
	truth := make([][]Result, 100)
	for i := range truth {
		truth[i] = bruteForce(db, 64, InnerProduct, qs[i*64:(i+1)*64])
	}
	h := BuildHNSW(db, 64, HNSWConfig{Seed: 7})
	last := 0.0
	for _, ef := range []int{10, 24, 64, 200} {
		h.EfSearch = ef
		r := recallAt(h.SearchBatch(qs, 10), truth, 10)
		t.Logf("efSearch %d: recall@10 %.3f", ef, r)
		if r <= last && r < 1 {
			t.Errorf("efSearch %d: recall@10 %.3f, not above %.3f", ef, r, last)
		}
		last = r
	}
}

// TestHNSW_Deterministic checks that the graph depends on the seed only:
// not on the number of workers nor on their timing.
func TestHNSW_Deterministic(t *testing.T) {
	db := clustered(5, 4000, 32, 40, true)
	encode := func(seed uint64, workers int) []byte {
		h := BuildHNSW(db, 32, HNSWConfig{Seed: seed, Workers: workers, M: 8})
		var b bytes.Buffer
		if err := h.Encode(&b); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	ref := encode(1, 1)
	tests := []struct {
		seed    uint64
		workers int
		same    bool
	}{
		{1, 1, true},
		{1, 2, true},
		{1, 5, true},
		{2, 2, false},
	}
	for _, tc := range tests {
		if got := bytes.Equal(encode(tc.seed, tc.workers), ref); got != tc.same {
			t.Errorf("seed %d, %d workers: same graph = %v, want %v", tc.seed, tc.workers, got, tc.same)
		}
	}
}

func TestHNSW_Small(t *testing.T) {
	h := NewHNSW(3, HNSWConfig{Metric: L2})
	if got := h.Search([]float32{1, 2, 3}, 5); got != nil {
		t.Fatalf("empty graph: %v", got)
	}
	h.Add([]float32{0, 0, 0})
	h.Add([]float32{1, 0, 0, 0, 2, 0})
	got := h.Search([]float32{0.9, 0, 0}, 5)
	want := []Result{{1, 0.01}, {0, 0.81}, {2, 4.81}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i].ID != want[i].ID || got[i].Score-want[i].Score > 1e-5 || want[i].Score-got[i].Score > 1e-5 {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	defer func() {
		if recover() == nil {
			t.Fatal("a query of the wrong dimension did not panic")
		}
	}()
	h.Search([]float32{1}, 1)
}

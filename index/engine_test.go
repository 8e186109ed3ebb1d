package index

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/lookalike/lookalike/codes"
)

// nearDuplicates returns nq copies of random codes of db with flips bits
// flipped each.
func nearDuplicates(rng *rand.Rand, db *codes.Set, nq, flips int) *codes.Set {
	q := &codes.Set{Bits: db.Bits}
	for range nq {
		c := slices.Clone(db.At(rng.IntN(db.Len())))
		for range flips {
			b := rng.IntN(db.Bits)
			c[b/64] ^= 1 << (b % 64)
		}
		q.Data = append(q.Data, c...)
	}
	return q
}

// TestEngine_Choose checks the choice where one method is far cheaper:
// near-duplicates of uniform codes (MIH probes a few keys, the scan cannot
// skip much), and k = 100 on clustered codes (the buckets near a query
// hold much of its cluster, the scan skips the other clusters). Results
// must match the scan's either way.
func TestEngine_Choose(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	uniform := randomSet(rng, 64, 40_000)
	clusteredDB, clusteredQ := clusteredPair(rng, 128, 40_000, 40, 0.15)
	tests := []struct {
		name string
		db   *codes.Set
		q    *codes.Set
		k    int
		want Method
	}{
		{"near-duplicates, k=1", uniform, nearDuplicates(rng, uniform, 40, 2), 1, MultiIndex},
		{"clustered, k=100", clusteredDB, clusteredQ, 100, Scan},
		{"uniform, k=100", uniform, randomSet(rng, 64, 40), 100, Scan},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHamming(tc.db)
			e, err := NewEngine(h)
			if err != nil {
				t.Fatal(err)
			}
			got, est, err := e.Choose(tc.q, tc.k)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Choose = %v, want %v (%+v)", got, tc.want, est)
			}
			res, m, err := e.SearchBatch(tc.q, tc.k)
			if err != nil || m != got {
				t.Fatalf("SearchBatch: method %v, error %v", m, err)
			}
			want, _ := h.SearchBatch(tc.q, tc.k)
			for i := range want {
				if !same(res[i], want[i]) {
					t.Fatalf("query %d: %v results differ from the scan's", i, m)
				}
			}
		})
	}
}

func TestEngine_BadArguments(t *testing.T) {
	e, err := NewEngine(NewHamming(set(64, 1, 2, 3)))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.SearchBatch(set(64, 1), 0); err == nil {
		t.Error("k = 0 accepted")
	}
	if _, _, err := e.SearchBatch(set(32, 1), 1); err == nil {
		t.Error("queries of another length accepted")
	}
	if res, m, err := e.SearchBatch(set(64), 5); err != nil || len(res) != 0 || m != Scan {
		t.Errorf("no queries: %v, %v, %v", res, m, err)
	}
}

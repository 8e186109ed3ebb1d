package index

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/lookalike/lookalike/codes"
)

// bruteForce returns every code of db by (distance to q, position).
func bruteForce(db *codes.Set, q []uint64) []Result {
	all := make([]Result, db.Len())
	for j := range all {
		all[j] = Result{j, codes.Hamming(q, db.At(j))}
	}
	slices.SortStableFunc(all, func(a, b Result) int { return a.Distance - b.Distance })
	return all
}

// within returns the prefix of sorted results within distance r.
func within(all []Result, r int) []Result {
	n := 0
	for n < len(all) && all[n].Distance <= r {
		n++
	}
	return all[:n]
}

func randomSet(rng *rand.Rand, nbits, n int) *codes.Set {
	s := &codes.Set{Bits: nbits}
	for i := 0; i < n*s.Words(); i++ {
		s.Data = append(s.Data, rng.Uint64()&mask(nbits, i%s.Words()))
	}
	return s
}

// TestMIH_BruteForce checks MIH k-NN and radius search against a sort of
// all distances, on random and clustered codes, for code lengths that
// are and are not multiples of 64 and of m, with m from SubstringCount
// and forced.
func TestMIH_BruteForce(t *testing.T) {
	tests := []struct {
		name      string
		bits, n   int
		m         int // 0: SubstringCount
		clustered bool
	}{
		{"32 random", 32, 3000, 0, false},
		{"48 clustered", 48, 3000, 0, true},
		{"64 random", 64, 2000, 0, false},
		{"64 clustered", 64, 2000, 0, true},
		{"64 m=2 ends with a sweep", 64, 300, 2, false},
		{"70 m=3", 70, 1000, 3, true},
		{"100 random", 100, 1500, 0, false},
		{"128 clustered", 128, 1500, 0, true},
		{"200 clustered m=7", 200, 1000, 7, true},
		{"256 random", 256, 1000, 0, false},
		{"300 clustered", 300, 800, 0, true},
		{"512 clustered", 512, 600, 0, true},
		{"one code", 64, 1, 0, false},
		{"duplicates", 64, 500, 0, true}, // flip 0.01: many ties
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tc.bits), uint64(tc.n)))
			var db, q *codes.Set
			flip := 0.15
			if tc.name == "duplicates" {
				flip = 0.01
			}
			if tc.clustered {
				db, q = clusteredPair(rng, tc.bits, tc.n, 20, flip)
			} else {
				db, q = randomSet(rng, tc.bits, tc.n), randomSet(rng, tc.bits, 20)
			}
			// Queries also include database codes, to have distance 0.
			q.Data = append(slices.Clone(q.Data), db.At(0)...)
			x, err := NewMIH(NewHamming(db), tc.m)
			if err != nil {
				t.Fatal(err)
			}
			if tc.m != 0 && x.Substrings() != tc.m {
				t.Fatalf("Substrings() = %d, want %d", x.Substrings(), tc.m)
			}
			ks := []int{1, 10, 37, tc.n, tc.n + 5}
			for _, k := range ks {
				batch, err := x.SearchBatch(q, k)
				if err != nil {
					t.Fatal(err)
				}
				for i := 0; i < q.Len(); i++ {
					all := bruteForce(db, q.At(i))
					want := all[:min(k, len(all))]
					got, err := x.Search(q.At(i), k)
					if err != nil {
						t.Fatal(err)
					}
					if !same(got, want) || !same(batch[i], want) {
						t.Fatalf("k=%d, query %d: got %v, want %v", k, i, head(got), head(want))
					}
				}
			}
			for i := 0; i < q.Len(); i++ {
				all := bruteForce(db, q.At(i))
				for _, r := range []int{0, 1, all[min(9, len(all)-1)].Distance, tc.bits / 4, tc.bits} {
					got, err := x.Radius(q.At(i), r)
					if err != nil {
						t.Fatal(err)
					}
					if want := within(all, r); !same(got, want) {
						t.Fatalf("radius %d, query %d: %d results, want %d", r, i, len(got), len(want))
					}
				}
			}
		})
	}
}

func head(r []Result) []Result { return r[:min(len(r), 5)] }

func TestMIH_Empty(t *testing.T) {
	empty, _ := codes.New(64)
	x, err := NewMIH(NewHamming(empty), 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := x.Search([]uint64{1}, 5); err != nil || len(got) != 0 {
		t.Errorf("Search on an empty index: %v, %v", got, err)
	}
	if got, err := x.Radius([]uint64{1}, 64); err != nil || len(got) != 0 {
		t.Errorf("Radius on an empty index: %v, %v", got, err)
	}
}

func TestMIH_BadArguments(t *testing.T) {
	h := NewHamming(set(64, 1, 2, 3))
	tests := []struct {
		name string
		err  func() error
	}{
		{"m above bits", func() error { _, err := NewMIH(h, 65); return err }},
		{"substrings over 32 bits", func() error { _, err := NewMIH(NewHamming(set(65, 1, 0)), 2); return err }},
		{"k = 0", func() error {
			x, _ := NewMIH(h, 0)
			_, err := x.Search([]uint64{0}, 0)
			return err
		}},
		{"short query", func() error {
			x, _ := NewMIH(h, 0)
			_, err := x.Search(nil, 1)
			return err
		}},
		{"negative radius", func() error {
			x, _ := NewMIH(h, 0)
			_, err := x.Radius([]uint64{0}, -1)
			return err
		}},
		{"batch of other bits", func() error {
			x, _ := NewMIH(h, 0)
			_, err := x.SearchBatch(set(32, 1), 1)
			return err
		}},
	}
	for _, tc := range tests {
		if tc.err() == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}

func TestSubstringCount(t *testing.T) {
	tests := []struct{ bits, n, want int }{
		{64, 1_000_000, 3},   // 64 / 19.9
		{128, 1_000_000, 6},  // 128 / 19.9 = 6.4
		{256, 1_000_000, 13}, // 256 / 19.9 = 12.8
		{64, 1 << 16, 4},
		{32, 1 << 32, 1},
		{64, 1 << 32, 2},
		{64, 4, 32},    // 64 / 2
		{64, 2, 64},    // one bit per substring
		{64, 1, 2},     // no statistics: shortest that fits 32-bit keys
		{100, 0, 4},    // ceil(100/32)
		{512, 10, 154}, // 512 / 3.32 = 154.1
		{48, 1000, 5},  // 48 / 9.97 = 4.8
	}
	for _, tc := range tests {
		if got := SubstringCount(tc.bits, tc.n); got != tc.want {
			t.Errorf("SubstringCount(%d, %d) = %d, want %d", tc.bits, tc.n, got, tc.want)
		}
	}
}

// TestMIH_Substrings checks that the substrings tile the code, the first
// bits%m one bit longer.
func TestMIH_Substrings(t *testing.T) {
	for _, tc := range []struct{ bits, m int }{{64, 3}, {100, 7}, {128, 4}, {33, 2}} {
		x, err := NewMIH(NewHamming(randomSet(rand.New(rand.NewPCG(1, 1)), tc.bits, 10)), tc.m)
		if err != nil {
			t.Fatal(err)
		}
		lo := 0
		for z, tb := range x.tables {
			want := tc.bits / tc.m
			if z < tc.bits%tc.m {
				want++
			}
			if tb.lo != lo || tb.width != want {
				t.Errorf("%d bits, m=%d: table %d has bits [%d, %d), want [%d, %d)", tc.bits, tc.m, z, tb.lo, tb.lo+tb.width, lo, lo+want)
			}
			lo += tb.width
		}
		if lo != tc.bits {
			t.Errorf("%d bits, m=%d: substrings cover %d bits", tc.bits, tc.m, lo)
		}
	}
}

func BenchmarkMIH_SearchBatchClustered(b *testing.B) {
	for _, nbits := range []int{64, 128} {
		b.Run(fmt.Sprint(nbits), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			db, q := clusteredPair(rng, nbits, 1_000_000, 256, 0.15)
			x, err := NewMIH(NewHamming(db), 0)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				x.SearchBatch(q, 100)
			}
			b.ReportMetric(float64(b.N*q.Len())/b.Elapsed().Seconds(), "queries/s")
		})
	}
}

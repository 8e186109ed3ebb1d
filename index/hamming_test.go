package index

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/lookalike/lookalike/codes"
)

func set(nbits int, words ...uint64) *codes.Set { return &codes.Set{Bits: nbits, Data: words} }

func TestHamming_Search(t *testing.T) {
	// Distances from 0b0000: 2, 1, 0, 1, 4, 0.
	h := NewHamming(set(4, 0b0011, 0b0100, 0, 0b1000, 0b1111, 0))
	tests := []struct {
		k    int
		want []Result
	}{
		{1, []Result{{2, 0}}},
		{3, []Result{{2, 0}, {5, 0}, {1, 1}}},
		{4, []Result{{2, 0}, {5, 0}, {1, 1}, {3, 1}}},
		{10, []Result{{2, 0}, {5, 0}, {1, 1}, {3, 1}, {0, 2}, {4, 4}}},
	}
	for _, tc := range tests {
		got, err := h.Search([]uint64{0}, tc.k)
		if err != nil {
			t.Fatal(err)
		}
		if !same(got, tc.want) {
			t.Errorf("k=%d: got %v, want %v", tc.k, got, tc.want)
		}
	}
	got, err := h.Radius([]uint64{0}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Result{{2, 0}, {5, 0}, {1, 1}, {3, 1}}; !same(got, want) {
		t.Errorf("radius 1: got %v, want %v", got, want)
	}
}

func TestHamming_BadArguments(t *testing.T) {
	h := NewHamming(set(4, 1, 2))
	if _, err := h.Search([]uint64{0}, 0); err == nil {
		t.Error("k = 0 accepted")
	}
	if _, err := h.Search([]uint64{0, 0}, 1); err == nil {
		t.Error("query of the wrong length accepted")
	}
	if _, err := h.Radius([]uint64{0}, -1); err == nil {
		t.Error("negative radius accepted")
	}
}

// layouts are the index layouts the brute-force tests run on: codes in
// position order, and ordered by cluster with many small clusters.
var layouts = []struct {
	name                   string
	clusterMin, perCluster int
}{
	{"plain", 1 << 30, 4096},
	{"clustered", 64, 40},
}

// withLayout runs fn with NewHamming building the given layout.
func withLayout(clusterMinFor, perCluster int, fn func()) {
	defer func(m, p int) { clusterMin, codesPerCluster = m, p }(clusterMin, codesPerCluster)
	clusterMin, codesPerCluster = clusterMinFor, perCluster
	fn()
}

// TestHamming_BruteForce checks k-NN, radius and batch search against a
// sort of all distances: both kernels, both layouts, random and clustered
// codes (flip 0.01 makes many ties), several code lengths.
func TestHamming_BruteForce(t *testing.T) {
	type kernel struct {
		scan   func(*Hamming, [][]uint64, []*collector, int, int)
		assign func(*Hamming, [][]uint64, []uint8, []uint16)
	}
	kernels := map[string]kernel{"default": {groupScanner, assigner}, "generic": {scanGroupGeneric, assignGeneric}}
	data := []struct {
		name string
		flip float64 // 0: uniform random codes
	}{{"random", 0}, {"clustered", 0.15}, {"ties", 0.01}}
	for kname, kern := range kernels {
		for _, l := range layouts {
			for _, d := range data {
				t.Run(kname+"/"+l.name+"/"+d.name, func(t *testing.T) {
					defer func(k kernel) { groupScanner, assigner = k.scan, k.assign }(kernel{groupScanner, assigner})
					groupScanner, assigner = kern.scan, kern.assign
					withLayout(l.clusterMin, l.perCluster, func() { testBruteForce(t, d.flip) })
				})
			}
		}
	}
}

func testBruteForce(t *testing.T, flip float64) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, nbits := range []int{8, 64, 100, 128, 192, 256, 512, 513} {
		var s, q *codes.Set
		if flip == 0 {
			s, q = randomSet(rng, nbits, 700), randomSet(rng, nbits, 23)
		} else {
			s, q = clusteredPair(rng, nbits, 700, 23, flip)
		}
		h := NewHamming(s)
		for i := 0; i < s.Len(); i += 97 {
			if got := h.Code(i); !equalWords(got, s.At(i)) {
				t.Fatalf("Code(%d) = %x, want %x", i, got, s.At(i))
			}
		}
		dist := make([]uint16, h.Len())
		for _, k := range []int{1, 37, 700, 701} {
			batch, err := h.SearchBatch(q, k)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < q.Len(); i++ {
				all := bruteForce(s, q.At(i))
				want := all[:min(k, len(all))]
				got, _ := h.Search(q.At(i), k)
				if !same(got, want) || !same(batch[i], want) {
					t.Fatalf("%d bits, k=%d, query %d: k-NN differs from brute force:\n got %v\nwant %v",
						nbits, k, i, head(got), head(want))
				}
				if k != 37 {
					continue
				}
				r := all[36].Distance
				if got, _ = h.Radius(q.At(i), r); !same(got, within(all, r)) {
					t.Fatalf("%d bits, query %d: radius %d differs from brute force", nbits, i, r)
				}
				h.Distances(q.At(i), dist)
				for _, a := range all {
					if int(dist[a.ID]) != a.Distance {
						t.Fatalf("%d bits, query %d: Distances()[%d] = %d, want %d", nbits, i, a.ID, dist[a.ID], a.Distance)
					}
				}
			}
		}
	}
}

// TestHamming_Add checks searches after adds: into the tail, then past the
// point where Add re-clusters.
func TestHamming_Add(t *testing.T) {
	withLayout(64, 40, func() {
		rng := rand.New(rand.NewPCG(3, 4))
		all, q := clusteredPair(rng, 100, 1200, 10, 0.15)
		part := func(lo, hi int) *codes.Set {
			return &codes.Set{Bits: 100, Data: all.Data[lo*all.Words() : hi*all.Words()]}
		}
		h := NewHamming(part(0, 600))
		for _, step := range []struct{ lo, hi int }{{600, 601}, {601, 700}, {700, 1200}} {
			h.Add(part(step.lo, step.hi))
			db := part(0, step.hi)
			if h.Len() != db.Len() {
				t.Fatalf("Len() = %d after adding up to %d", h.Len(), step.hi)
			}
			if tail := h.n - h.ordered; step.hi == 1200 && tail != 0 {
				t.Errorf("tail of %d codes after growing by half: no re-clustering", tail)
			}
			for i := 0; i < db.Len(); i += 101 {
				if got := h.Code(i); !equalWords(got, db.At(i)) {
					t.Fatalf("Code(%d) = %x, want %x", i, got, db.At(i))
				}
			}
			batch, _ := h.SearchBatch(q, 20)
			for i := 0; i < q.Len(); i++ {
				want := bruteForce(db, q.At(i))[:20]
				if got, _ := h.Search(q.At(i), 20); !same(got, want) || !same(batch[i], want) {
					t.Fatalf("%d codes, query %d: k-NN differs from brute force", db.Len(), i)
				}
			}
		}
	})
}

// TestHamming_Empty checks that an empty index answers with no results.
func TestHamming_Empty(t *testing.T) {
	h := NewHamming(set(64))
	if got, err := h.Search([]uint64{1}, 3); err != nil || len(got) != 0 {
		t.Errorf("Search: %v, %v", got, err)
	}
	if got, err := h.SearchBatch(set(64, 1, 2), 3); err != nil || len(got) != 2 || len(got[0]) != 0 {
		t.Errorf("SearchBatch: %v, %v", got, err)
	}
}

// TestHamming_Memory checks the memory bound: at most 1.5 times the code
// bytes plus 8 bytes per code.
func TestHamming_Memory(t *testing.T) {
	withLayout(64, 40, func() {
		for _, nbits := range []int{64, 128, 256} {
			s := clustered(rand.New(rand.NewPCG(5, 6)), nbits, 5000, 0.15)
			h := NewHamming(s)
			if limit := 1.5*float64(8*len(s.Data)) + 8*float64(s.Len()); float64(h.Bytes()) > limit {
				t.Errorf("%d bits: %d bytes for %d codes, limit %.0f", nbits, h.Bytes(), s.Len(), limit)
			}
		}
	})
}

func mask(nbits, word int) uint64 {
	rest := nbits - 64*word
	if rest >= 64 {
		return ^uint64(0)
	}
	return 1<<rest - 1
}

func same(a, b []Result) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// randomCodes returns n uniformly random 64-bit codes.
func randomCodes(rng *rand.Rand, n int) *codes.Set {
	s, _ := codes.New(64)
	for i := 0; i < n; i++ {
		s.Data = append(s.Data, rng.Uint64())
	}
	return s
}

func BenchmarkHamming_Search(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	h := NewHamming(randomCodes(rng, 1_000_000))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.Search([]uint64{rng.Uint64()}, 100)
	}
}

func BenchmarkHamming_SearchBatch(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	h := NewHamming(randomCodes(rng, 1_000_000))
	q := randomCodes(rng, 256)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.SearchBatch(q, 100)
	}
	b.ReportMetric(float64(b.N*q.Len())/b.Elapsed().Seconds(), "queries/s")
}

func equalWords(a, b []uint64) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

// clustered returns n codes drawn like shared/anchors/faiss_hamming.py's:
// one of 10 random centres with each bit flipped with probability flip.
func clustered(rng *rand.Rand, nbits, n int, flip float64) *codes.Set {
	w := codes.WordsFor(nbits)
	centres := make([][]uint64, 10)
	for i := range centres {
		centres[i] = make([]uint64, w)
		for j := range centres[i] {
			centres[i][j] = rng.Uint64() & mask(nbits, j)
		}
	}
	s := &codes.Set{Bits: nbits}
	for range n {
		for j, cw := range centres[rng.IntN(len(centres))] {
			var f uint64
			for b := range min(64, nbits-64*j) {
				if rng.Float64() < flip {
					f |= 1 << b
				}
			}
			s.Data = append(s.Data, cw^f)
		}
	}
	return s
}

// clusteredPair returns n database codes and nq queries drawn around the
// same centres.
func clusteredPair(rng *rand.Rand, nbits, n, nq int, flip float64) (db, q *codes.Set) {
	all := clustered(rng, nbits, n+nq, flip)
	w := all.Words()
	return &codes.Set{Bits: nbits, Data: all.Data[:n*w]}, &codes.Set{Bits: nbits, Data: all.Data[n*w:]}
}

// BenchmarkHamming_SearchBatchClustered is 'bench index' without FAISS:
// 1M clustered codes, k = 100.
func BenchmarkHamming_SearchBatchClustered(b *testing.B) {
	for _, nbits := range []int{64, 128, 256} {
		b.Run(fmt.Sprint(nbits), func(b *testing.B) {
			db, q := clusteredPair(rand.New(rand.NewPCG(1, 2)), nbits, 1_000_000, 256, 0.15)
			h := NewHamming(db)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				h.SearchBatch(q, 100)
			}
			b.ReportMetric(float64(b.N*q.Len())/b.Elapsed().Seconds(), "queries/s")
		})
	}
}

// BenchmarkHamming_Build times NewHamming's clustering of 1M codes.
func BenchmarkHamming_Build(b *testing.B) {
	for _, nbits := range []int{64, 256} {
		b.Run(fmt.Sprint(nbits), func(b *testing.B) {
			db := clustered(rand.New(rand.NewPCG(1, 2)), nbits, 1_000_000, 0.15)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				NewHamming(db)
			}
		})
	}
}

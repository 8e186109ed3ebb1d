package index

import (
	"math/rand/v2"
	"sort"
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

// TestHamming_BruteForce checks k-NN, radius and batch search against a
// sort of all distances, for several code lengths.
func TestHamming_BruteForce(t *testing.T) {
	kernels := map[string]func(*Hamming, []uint64, int, int, *collector){"default": scanner, "generic": scanGeneric}
	for name, kernel := range kernels {
		t.Run(name, func(t *testing.T) {
			defer func(k func(*Hamming, []uint64, int, int, *collector)) { scanner = k }(scanner)
			scanner = kernel
			testBruteForce(t)
		})
	}
}

func testBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, nbits := range []int{8, 64, 100, 256, 513} {
		s, _ := codes.New(nbits)
		q, _ := codes.New(nbits)
		for i := 0; i < 500*s.Words(); i++ {
			s.Data = append(s.Data, rng.Uint64()&mask(nbits, i%s.Words()))
		}
		for i := 0; i < 20*s.Words(); i++ {
			q.Data = append(q.Data, rng.Uint64()&mask(nbits, i%s.Words()))
		}
		h := NewHamming(s)
		for i := 0; i < s.Len(); i += 97 {
			if got := h.Code(i); !equalWords(got, s.At(i)) {
				t.Fatalf("Code(%d) = %x, want %x", i, got, s.At(i))
			}
		}
		batch, err := h.SearchBatch(q, 37)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < q.Len(); i++ {
			all := make([]Result, s.Len())
			for j := range all {
				all[j] = Result{j, codes.Hamming(q.At(i), s.At(j))}
			}
			sort.SliceStable(all, func(a, b int) bool { return all[a].Distance < all[b].Distance })
			got, _ := h.Search(q.At(i), 37)
			if !same(got, all[:37]) || !same(batch[i], all[:37]) {
				t.Fatalf("%d bits, query %d: k-NN differs from brute force", nbits, i)
			}
			r := all[36].Distance
			n := sort.Search(len(all), func(j int) bool { return all[j].Distance > r })
			got, _ = h.Radius(q.At(i), r)
			if !same(got, all[:n]) {
				t.Fatalf("%d bits, query %d: radius %d differs from brute force", nbits, i, r)
			}
		}
	}
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

package index

import (
	"fmt"
	"math"
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
// must match the scan's either way, including the sample's, which
// SearchBatch answers with Choose's scans.
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
		// Fewer queries than the sample: the sample's answers are all.
		{"clustered, 5 queries", clusteredDB, &codes.Set{Bits: 128, Data: clusteredQ.Data[:5*2]}, 100, Scan},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHamming(tc.db)
			e := NewEngine(h)
			got, est, err := e.Choose(tc.q, tc.k)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Choose = %v, want %v (%+v)", got, tc.want, est)
			}
			want, _ := h.SearchBatch(tc.q, tc.k)
			// SearchBatch scans until MIH's tables have paid for
			// themselves, then uses them; the scan's answers throughout.
			for call := range 1000 {
				res, m, err := e.SearchBatch(tc.q, tc.k)
				if err != nil {
					t.Fatal(err)
				}
				for i := range want {
					if !same(res[i], want[i]) {
						t.Fatalf("call %d, query %d: %v results differ from the scan's", call, i, m)
					}
				}
				if m == got {
					break
				}
				if m != Scan || got != MultiIndex || call == 999 {
					t.Fatalf("call %d: SearchBatch used %v, Choose picked %v", call, m, got)
				}
			}
		})
	}
}

// TestEngine_RentOrBuy checks when the engine builds MIH's tables: at the
// first batch where what MIH would have saved on the batches before, by
// the estimates, reaches their build cost; and that an Add drops them.
func TestEngine_RentOrBuy(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	db := randomSet(rng, 64, 40_000)
	q := nearDuplicates(rng, db, 40, 1)
	h := NewHamming(db)
	e := NewEngine(h)
	m, est, err := e.Choose(q, 1)
	if err != nil || m != MultiIndex {
		t.Fatalf("Choose = %v, %+v, %v; want mih", m, est, err)
	}
	// The estimates are deterministic (the sample and its scans are),
	// so every batch saves the same amount.
	saving := (est.ScanNs - est.MIHNs) * float64(q.Len()-est.Sample)
	build := float64(h.Len()*SubstringCount(64, h.Len())) * buildNs
	wantCall := int(math.Ceil(build/saving)) - 1
	scanBytes := h.Bytes()
	for call := 0; call <= wantCall; call++ {
		_, m, err := e.SearchBatch(q, 1)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]Method{true: MultiIndex, false: Scan}[call == wantCall]; m != want {
			t.Fatalf("call %d of %d: method %v, want %v", call, wantCall, m, want)
		}
		if b := e.Bytes(); (b > scanBytes) != (call == wantCall) {
			t.Fatalf("call %d of %d: %d bytes, the scan's %d", call, wantCall, b, scanBytes)
		}
	}
	h.Add(randomSet(rng, 64, 10))
	if _, m, err := e.SearchBatch(q, 1); err != nil || m != Scan || e.Bytes() != h.Bytes() {
		t.Fatalf("after an add: method %v, %d bytes (scan %d), %v; want stale tables dropped", m, e.Bytes(), h.Bytes(), err)
	}
}

// TestEngine_EstimateExact checks the MIH estimate against MIH's own
// counts: with the whole index in the estimate's sample, the keys it
// looks up, the codes it sweeps and the codes it checks must be MIH's,
// except where MIH stops early for having seen every code.
func TestEngine_EstimateExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, nbits := range []int{32, 64, 100} {
		db := randomSet(rng, nbits, 3000)
		h := NewHamming(db)
		x, err := NewMIH(h, 0)
		if err != nil {
			t.Fatal(err)
		}
		est := newMIHEstimate(h)
		queries := []*codes.Set{nearDuplicates(rng, db, 10, 0), nearDuplicates(rng, db, 10, 3), randomSet(rng, nbits, 10)}
		for _, qs := range queries {
			for _, k := range []int{1, 10, 100, 2999} {
				for i := range qs.Len() {
					q := qs.At(i)
					s := x.newScratch()
					res := x.search(q, k, s)
					kth := nbits
					if len(res) == k {
						kth = res[k-1].Distance
					}
					p, w, c := est.counts(q, k, kth)
					if s.checks+s.walked == h.Len() {
						// MIH stopped when it had seen every code,
						// which the estimate does not foresee: it may
						// only count more.
						if p < s.probes || p+w+c < s.probes+s.walked+s.checks {
							t.Errorf("%d bits, k=%d, kth %d: estimate %d probes, %d swept, %d checks, below MIH's %d, %d, %d",
								nbits, k, kth, p, w, c, s.probes, s.walked, s.checks)
						}
						continue
					}
					if p != s.probes || c != s.checks || s.walked != 0 {
						t.Errorf("%d bits, k=%d, kth %d: estimate %d probes, %d checks; MIH %d, %d (%d swept)",
							nbits, k, kth, p, c, s.probes, s.checks, s.walked)
					}
				}
			}
		}
	}
}

func TestEngine_BadArguments(t *testing.T) {
	e := NewEngine(NewHamming(set(64, 1, 2, 3)))
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

// BenchmarkEngine_SearchBatchClustered is BenchmarkHamming_SearchBatchClustered
// through the engine, which scans these: the difference is what its choice
// costs.
func BenchmarkEngine_SearchBatchClustered(b *testing.B) {
	for _, nbits := range []int{64, 128, 256} {
		b.Run(fmt.Sprint(nbits), func(b *testing.B) {
			db, q := clusteredPair(rand.New(rand.NewPCG(1, 2)), nbits, 1_000_000, 256, 0.15)
			e := NewEngine(NewHamming(db))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, m, err := e.SearchBatch(q, 100); err != nil || m != Scan {
					b.Fatalf("method %v, %v", m, err)
				}
			}
			b.ReportMetric(float64(b.N*q.Len())/b.Elapsed().Seconds(), "queries/s")
		})
	}
}

package index

import (
	"fmt"
	"math/bits"
	"sync"

	"github.com/lookalike/lookalike/codes"
)

// Method is one of Engine's exact search methods.
type Method int

const (
	// Scan is Hamming's scan, which skips the clusters of codes too far
	// from the query.
	Scan Method = iota
	// MultiIndex is multi-index hashing (MIH).
	MultiIndex
)

func (m Method) String() string {
	switch m {
	case Scan:
		return "scan"
	case MultiIndex:
		return "mih"
	}
	return fmt.Sprintf("Method(%d)", int(m))
}

// Engine answers exact k-NN queries with whichever of two exact methods
// should be faster for its codes and the queries at hand: Hamming's pruned
// scan or multi-index hashing. Both return the same results.
//
// They are fast in different places. The scan's cost is the codes it
// cannot skip: at most the index, and about the query's class on
// clustered codes. MIH's cost is the keys it looks up and the codes it
// checks, which grow like C(substring bits, r) with the distance r of the
// k-th neighbour: a few dozen when that neighbour is a near-duplicate a
// few bits away, but more than the scan as soon as it is not (uniform
// codes; large k; or the clustered hash codes of image classes, where the
// buckets near a query hold much of its class). Code length and index size
// alone cannot tell these apart, the queries decide; so SearchBatch scans
// a sample of its queries, which gives each one's k-th distance, and
// estimates what each method's search to that distance costs: the scan's
// from the clusters it cannot skip, MIH's from the substrings of an even
// sample of the codes (no tables needed). MIH wins
// when its estimate is at most half the scan's: the scan's cost varies
// little from one query to the next, MIH's a lot, and a sample can miss
// MIH's worst queries. The sample is part of the batch's scan (its
// answers are kept), taken four queries at a time among queries that share
// their nearest clusters, as the scan groups them; what the choice adds is
// the estimates, and the sample's groups sharing their reads of the codes
// with fewer others (BenchmarkEngine_SearchBatchClustered against
// BenchmarkHamming_SearchBatchClustered measures it).
//
// MIH's tables cost several times the codes' own memory (about 7 bytes
// per code and substring), so Engine builds them only once MIH has paid
// for them: it keeps answering by the scan, adding up what MIH would have
// saved on each batch it would have won, and builds the tables when that
// sum reaches their estimated build time, the rent-or-buy rule that never
// spends more than twice the better of the two choices in hindsight. An
// index whose queries never favour MIH costs no more memory than the
// scan's. Codes added to the Hamming index after the tables are built
// make them stale: they are dropped, and the sum starts again.
//
// An Engine is safe for concurrent searches; Add to its Hamming index
// only between them, as Hamming requires.
type Engine struct {
	Hamming *Hamming

	mu    sync.Mutex
	mih   *MIH         // nil until built, stale once Hamming has grown
	est   *mihEstimate // stale once Hamming has grown
	saved float64      // estimated ns MIH would have saved since the last build
}

// NewEngine returns an engine over h; MIH's tables are built when they
// pay for themselves.
func NewEngine(h *Hamming) *Engine { return &Engine{Hamming: h} }

// Bytes returns the memory of the index and of MIH's tables, if built.
func (e *Engine) Bytes() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	b := e.Hamming.Bytes()
	if e.mih != nil {
		b += e.mih.Bytes()
	}
	return b
}

// MIH returns the engine's multi-index tables, building them now if they
// are missing or stale.
func (e *Engine) MIH() (*MIH, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.tables()
}

func (e *Engine) tables() (*MIH, error) {
	if e.mih != nil && e.mih.Len() == e.Hamming.Len() {
		return e.mih, nil
	}
	x, err := NewMIH(e.Hamming, 0)
	if err != nil {
		return nil, fmt.Errorf("index: engine: %w", err)
	}
	e.mih, e.saved = x, 0
	return x, nil
}

// tablesIfPaid adds saving to what MIH would have saved and returns its
// tables if they exist or that sum now covers building them, nil
// otherwise. Stale tables are gone by then: estimate, which every batch
// calls first, drops them.
func (e *Engine) tablesIfPaid(saving float64) (*MIH, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.mih == nil {
		e.saved += saving
		n := e.Hamming.Len()
		if e.saved < float64(n*SubstringCount(e.Hamming.bits, n))*buildNs {
			return nil, nil
		}
	}
	return e.tables()
}

// estimate returns the estimator for the index as it is now, and drops
// MIH's tables if the index has grown since they were built.
func (e *Engine) estimate() *mihEstimate {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.est == nil || e.est.n != e.Hamming.Len() {
		e.est = newMIHEstimate(e.Hamming)
	}
	if e.mih != nil && e.mih.Len() != e.Hamming.Len() {
		e.mih, e.saved = nil, 0
	}
	return e.est
}

// Estimated costs in nanoseconds, measured on a 2-core Xeon (Emerald
// Rapids) with the SIMD kernels: scanning a block of 8 codes of w words
// (kernel and collector), looking up an MIH key (a directory entry and a
// binary search, two cache misses), checking an MIH candidate (a random
// read of its code), checking a code in MIH's final sweep (a sequential
// read), and building the tables, per code and substring (bench index,
// 1M codes of 128 bits: 0.46 s for 6 tables). Only their ratios matter.
const (
	blockNs     = 4
	blockWordNs = 2
	probeNs     = 120
	walkNs      = 2
	checkNs     = 60
	checkWordNs = 10
	buildNs     = 80
)

func scanCost(blocks, words int) float64 { return float64(blocks * (blockNs + blockWordNs*words)) }

func mihCost(probes, walked, checks, words int) float64 {
	return float64(probes*probeNs + walked*walkNs + checks*(checkNs+checkWordNs*words))
}

// mihEstimate estimates MIH's cost for a query without its tables: the
// substrings of an even sample of the codes stand for the buckets.
type mihEstimate struct {
	n, words    int
	lo, width   []int
	keys        []uint32 // sample code i's substring z at i*m+z
	sampleCodes int
}

// estimateSample is how many codes the estimate keeps: a candidate count
// to within a few hundredths of the index, at a few tens of microseconds
// a query.
const estimateSample = 8192

func newMIHEstimate(h *Hamming) *mihEstimate {
	m := SubstringCount(h.bits, h.n)
	lo, width := substrings(h.bits, m)
	s := min(h.n, estimateSample)
	e := &mihEstimate{n: h.n, words: h.words, lo: lo, width: width, keys: make([]uint32, s*m), sampleCodes: s}
	code := make([]uint64, h.words)
	for i := range s {
		h.codeInto(i*h.n/s, code)
		for z := range m {
			e.keys[i*m+z] = substring(code, lo[z], width[z])
		}
	}
	return e
}

// cost returns the estimated cost of MIH's k-NN search for q when its
// k-th neighbour is at distance kth.
func (e *mihEstimate) cost(q []uint64, k, kth int) float64 {
	probes, walked, checks := e.counts(q, k, kth)
	return mihCost(probes, walked, checks, e.words)
}

// counts estimates the keys MIH's k-NN search for q looks up, the codes
// it sweeps and the codes it checks from buckets, when q's k-th neighbour
// is at distance kth: the search stops after probing tables 0..a to
// radius r and the others to r-1, with m*r + a = kth (see MIH.Search),
// having looked up every key of those balls and checked every code in
// their buckets; or it sweeps every code once a ball outgrows the index.
// With the whole index in the sample, the counts are MIH's own.
func (e *mihEstimate) counts(q []uint64, k, kth int) (probes, walked, checks int) {
	m := len(e.width)
	if e.n <= k {
		return 0, e.n, 0 // MIH stops only when it has seen every code
	}
	r, a := kth/m, kth%m
	radius := make([]int, m)
	qkeys := make([]uint32, m)
	for z := range m {
		radius[z] = r
		if z > a {
			radius[z] = r - 1
		}
		for j := 0; j <= min(radius[z], e.width[z]); j++ {
			if binomial(e.width[z], j) > e.n {
				return probes, e.n, 0
			}
			probes += binomial(e.width[z], j)
		}
		qkeys[z] = substring(q, e.lo[z], e.width[z])
	}
	hits := 0
	for i := range e.sampleCodes {
		for z, key := range e.keys[i*m : (i+1)*m] {
			if bits.OnesCount32(key^qkeys[z]) <= radius[z] {
				hits++
				break
			}
		}
	}
	return probes, 0, (hits*e.n + e.sampleCodes - 1) / e.sampleCodes
}

// sampleSize is how many queries of a batch Choose measures: enough to
// tell costs a factor of two apart, a small part of a batch of hundreds.
const sampleSize = 16

// Estimate is what Choose measured: the estimated cost per query of each
// method on the sample, in nanoseconds.
type Estimate struct {
	Sample int
	ScanNs float64
	MIHNs  float64
}

// Choose returns the faster method for k-NN searches of queries like
// these, by its estimate on a sample of them: MIH when it costs at most
// half the scan. SearchBatch may still scan while MIH's tables have not
// paid for themselves.
func (e *Engine) Choose(queries *codes.Set, k int) (Method, Estimate, error) {
	c, err := e.choose(queries, k, make([][]Result, queries.Len()))
	return c.method, c.est, err
}

// choice is what choose found: the method, its estimate, the batch as
// the scan orders it and the positions of the sample, whose answers
// choose has written.
type choice struct {
	method Method
	est    Estimate
	p      prepared
	sample []bool
}

// choose scans a sample of the queries, writing their answers into out,
// and estimates both methods' costs for them. The sample is groupSize
// queries at a time, consecutive in the scan's order (by nearest centre),
// at evenly spaced places, so that each group shares its clusters' runs
// as the scan's groups do and the sample costs what its queries would
// cost in the batch.
func (e *Engine) choose(queries *codes.Set, k int, out [][]Result) (choice, error) {
	h := e.Hamming
	if queries.Bits != h.bits {
		return choice{}, fmt.Errorf("index: queries have %d bits, index %d", queries.Bits, h.bits)
	}
	if k < 1 {
		return choice{}, fmt.Errorf("index: k = %d, must be at least 1", k)
	}
	nq := queries.Len()
	c := choice{est: Estimate{Sample: min(nq, sampleSize)}}
	if c.est.Sample == 0 || h.n == 0 {
		return c, nil
	}
	c.p = h.prepare(queries)
	c.sample = make([]bool, nq)
	groups := (c.est.Sample + groupSize - 1) / groupSize
	var idx []int
	for g := range groups {
		from, to := g*nq/groups, (g+1)*nq/groups
		for _, qi := range c.p.order[from:min(to, from+groupSize)] {
			c.sample[qi] = true
			idx = append(idx, qi)
		}
	}
	c.est.Sample = len(idx)
	h.searchPrepared(queries, k, c.p, idx, out)
	est := e.estimate()
	scan, mih := make([]float64, len(idx)), make([]float64, len(idx))
	parallel(len(idx), func(i int) {
		q := queries.At(idx[i])
		kth := h.bits
		if res := out[idx[i]]; len(res) == k {
			kth = res[k-1].Distance
		}
		scan[i] = scanCost(h.blocksWithin(q, kth), h.words)
		mih[i] = est.cost(q, k, kth)
	})
	for i := range idx {
		c.est.ScanNs += scan[i]
		c.est.MIHNs += mih[i]
	}
	c.est.ScanNs /= float64(len(idx))
	c.est.MIHNs /= float64(len(idx))
	if 2*c.est.MIHNs <= c.est.ScanNs {
		c.method = MultiIndex
	}
	return c, nil
}

// SearchBatch searches every code of queries with the method Choose picks
// for them, once MIH's tables have paid for themselves, and returns the
// method it used.
func (e *Engine) SearchBatch(queries *codes.Set, k int) ([][]Result, Method, error) {
	nq := queries.Len()
	out := make([][]Result, nq)
	c, err := e.choose(queries, k, out)
	if err != nil {
		return nil, Scan, err
	}
	// The rest of the batch, in the scan's order.
	rest := make([]int, 0, nq-c.est.Sample)
	for _, qi := range c.p.order {
		if !c.sample[qi] {
			rest = append(rest, qi)
		}
	}
	if len(rest) == 0 {
		return out, Scan, nil
	}
	if c.method == MultiIndex {
		x, err := e.tablesIfPaid((c.est.ScanNs - c.est.MIHNs) * float64(len(rest)))
		if err != nil {
			return nil, Scan, err
		}
		if x != nil {
			set := &codes.Set{Bits: queries.Bits, Data: make([]uint64, 0, len(rest)*queries.Words())}
			for _, qi := range rest {
				set.Data = append(set.Data, queries.At(qi)...)
			}
			res, err := x.SearchBatch(set, k)
			if err != nil {
				return nil, MultiIndex, err
			}
			for i, qi := range rest {
				out[qi] = res[i]
			}
			return out, MultiIndex, nil
		}
	}
	e.Hamming.searchPrepared(queries, k, c.p, rest, out)
	return out, Scan, nil
}

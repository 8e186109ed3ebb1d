package index

import (
	"fmt"

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
// alone cannot tell these apart, the queries decide; so SearchBatch runs a
// sample of its queries through both, MIH with the scan's cost as a
// budget, and picks MIH for the rest only when it cost at most half as
// much: the scan's cost varies little from one query to the next, MIH's a
// lot, and a sample can miss MIH's worst queries. The sample costs at most
// twice the scan of sampleSize queries.
type Engine struct {
	Hamming *Hamming
	MIH     *MIH
}

// NewEngine builds the MIH tables over h, with SubstringCount substrings.
// Build it after the last Add to h: the tables only hold the codes h has
// then.
func NewEngine(h *Hamming) (*Engine, error) {
	x, err := NewMIH(h, 0)
	if err != nil {
		return nil, fmt.Errorf("index: engine: %w", err)
	}
	return &Engine{Hamming: h, MIH: x}, nil
}

// Bytes returns the memory of the index and the MIH tables.
func (e *Engine) Bytes() int { return e.Hamming.Bytes() + e.MIH.Bytes() }

// Estimated costs in nanoseconds, measured on a 2-core Xeon (Emerald
// Rapids) with the SIMD kernels: scanning a block of 8 codes of w words
// (kernel and collector), looking up an MIH key (a directory entry and a
// binary search, two cache misses), checking an MIH candidate (a random
// read of its code) and checking a code in MIH's final sweep (a
// sequential read). Only their ratios matter.
const (
	blockNs     = 4
	blockWordNs = 2
	probeNs     = 120
	walkNs      = 2
	checkNs     = 60
	checkWordNs = 10
)

func scanCost(blocks, words int) float64 { return float64(blocks * (blockNs + blockWordNs*words)) }

func mihCost(probes, walked, checks, words int) float64 {
	return float64(probes*probeNs + walked*walkNs + checks*(checkNs+checkWordNs*words))
}

// sampleSize is how many queries of a batch Choose measures: enough to
// tell costs a factor of two apart, a small part of a batch of hundreds.
const sampleSize = 16

// Estimate is what Choose measured: the estimated cost per query of each
// method on the sample, in nanoseconds.
type Estimate struct {
	Sample       int
	ScanNs       float64
	MIHNs        float64
	MIHOverShare float64 // the share of sample queries where MIH gave up
}

// Choose returns the method for k-NN searches of queries like these: MIH
// when its estimated cost on a sample of them is at most half the scan's.
func (e *Engine) Choose(queries *codes.Set, k int) (Method, Estimate, error) {
	if queries.Bits != e.Hamming.bits {
		return Scan, Estimate{}, fmt.Errorf("index: queries have %d bits, index %d", queries.Bits, e.Hamming.bits)
	}
	if k < 1 {
		return Scan, Estimate{}, fmt.Errorf("index: k = %d, must be at least 1", k)
	}
	nq, words := queries.Len(), e.Hamming.words
	est := Estimate{Sample: min(nq, sampleSize)}
	if est.Sample == 0 || e.Hamming.n == 0 {
		return Scan, est, nil
	}
	scan, mih, over := make([]float64, est.Sample), make([]float64, est.Sample), make([]bool, est.Sample)
	parallel(est.Sample, func(i int) {
		q := queries.At(i * nq / est.Sample)
		scan[i] = scanCost(e.Hamming.searchOne(q, newCollector(k, e.Hamming.bits, e.Hamming.bits)), words)
		// A query's MIH search stops at the scan's cost, which is what it
		// then counts for: enough to lose when it happens often.
		s := e.MIH.newScratch()
		s.budget = scan[i]
		e.MIH.search(q, k, s)
		mih[i], over[i] = mihCost(s.probes, s.walked, s.checks, words), s.over
		if s.over {
			mih[i] = scan[i]
		}
	})
	for i := range est.Sample {
		est.ScanNs += scan[i]
		est.MIHNs += mih[i]
		if over[i] {
			est.MIHOverShare++
		}
	}
	est.ScanNs /= float64(est.Sample)
	est.MIHNs /= float64(est.Sample)
	est.MIHOverShare /= float64(est.Sample)
	if 2*est.MIHNs <= est.ScanNs {
		return MultiIndex, est, nil
	}
	return Scan, est, nil
}

// SearchBatch searches every code of queries with the method Choose picks
// for them, and returns that method.
func (e *Engine) SearchBatch(queries *codes.Set, k int) ([][]Result, Method, error) {
	m, _, err := e.Choose(queries, k)
	if err != nil {
		return nil, m, err
	}
	var res [][]Result
	if m == MultiIndex {
		res, err = e.MIH.SearchBatch(queries, k)
	} else {
		res, err = e.Hamming.SearchBatch(queries, k)
	}
	return res, m, err
}

// Package eval scores rankings against labels with the metrics of
// shared/protocols.md: mAP@all, mAP@K, P@K, precision within Hamming
// radius 2 and the precision-recall curve over all radii.
package eval

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/lookalike/lookalike/codes"
	"github.com/lookalike/lookalike/index"
)

// K is the cut-off of mAP@K and P@K in reports (the protocols' 1000).
const K = 1000

// PRPoint is the precision and recall of the Hamming ball of one radius.
type PRPoint struct {
	Radius    int     `json:"radius"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
}

// Report holds the figures of one evaluation.
type Report struct {
	Protocol string `json:"protocol"`
	Method   string `json:"method"`
	Bits     int    `json:"bits"`
	Seed     int64  `json:"seed"`
	Queries  int    `json:"queries"`
	Database int    `json:"database"`
	// MAPAll is the mean over queries of AP over the whole ranked database.
	MAPAll float64 `json:"map_all"`
	// MAPAt1000 and PAt1000 use the top K = 1000 results; AP@K divides by
	// the relevant items found in the top K.
	MAPAt1000 float64 `json:"map_at_1000"`
	PAt1000   float64 `json:"p_at_1000"`
	// PAt1 is the fraction of queries whose first result is relevant
	// (top-1 accuracy).
	PAt1 float64 `json:"p_at_1"`
	// PR2 is the mean precision of the Hamming ball of radius 2 (0 for an
	// empty ball); EmptyR2 the fraction of queries whose ball is empty.
	PR2     float64 `json:"p_r2"`
	EmptyR2 float64 `json:"empty_r2"`
	// PR holds one point per radius 0..Bits: precision averaged over the
	// queries whose ball is not empty, recall over all queries.
	PR []PRPoint `json:"pr_curve"`
}

// queryStats is what one query contributes.
type queryStats struct {
	apAll, apK, pK, p1 float64
	// retrieved and relevant count database items at each distance.
	retrieved, relevant []int
	totalRelevant       int
}

// Hamming evaluates binary codes: each query code ranks the database codes
// by Hamming distance (ties by database position) and relevance is equal
// labels.
func Hamming(query *codes.Set, queryLabels []int32, db *codes.Set, dbLabels []int32) (*Report, error) {
	if query.Bits != db.Bits {
		return nil, fmt.Errorf("eval: query codes have %d bits, database %d", query.Bits, db.Bits)
	}
	if query.Len() != len(queryLabels) || db.Len() != len(dbLabels) {
		return nil, fmt.Errorf("eval: %d query codes with %d labels, %d database codes with %d labels",
			query.Len(), len(queryLabels), db.Len(), len(dbLabels))
	}
	if query.Len() == 0 || db.Len() == 0 {
		return nil, fmt.Errorf("eval: no queries or empty database")
	}
	idx := index.NewHamming(db)
	stats := make([]queryStats, query.Len())
	parallel(query.Len(), func(lo, hi int) {
		dist := make([]uint16, db.Len())
		order := make([]int32, db.Len())
		for q := lo; q < hi; q++ {
			idx.Distances(query.At(q), dist)
			stats[q] = scoreQuery(dist, order, db.Bits, queryLabels[q], dbLabels)
		}
	})
	return summarize(stats, query.Bits, db.Len()), nil
}

// scoreQuery ranks by (distance, position) with a counting sort and
// computes the query's AP@all, AP@K, P@K and per-distance counts.
func scoreQuery(dist []uint16, order []int32, nbits int, label int32, dbLabels []int32) queryStats {
	s := queryStats{retrieved: make([]int, nbits+1), relevant: make([]int, nbits+1)}
	for i, d := range dist {
		s.retrieved[d]++
		if dbLabels[i] == label {
			s.relevant[d]++
			s.totalRelevant++
		}
	}
	start := make([]int, nbits+1)
	for d := 1; d <= nbits; d++ {
		start[d] = start[d-1] + s.retrieved[d-1]
	}
	for i, d := range dist {
		order[start[d]] = int32(i)
		start[d]++
	}
	r := scoreOrder(order, label, dbLabels)
	s.apAll, s.apK, s.pK, s.p1 = r.apAll, r.apK, r.pK, r.p1
	return s
}

// scoreOrder computes AP@all, AP@K and P@K of one ranked database.
func scoreOrder(order []int32, label int32, dbLabels []int32) queryStats {
	var s queryStats
	hits, hitsK := 0, 0
	var sumAll, sumK float64
	for rank, i := range order {
		if dbLabels[i] != label {
			continue
		}
		if rank == 0 {
			s.p1 = 1
		}
		hits++
		p := float64(hits) / float64(rank+1)
		sumAll += p
		if rank < K {
			sumK += p
			hitsK = hits
		}
	}
	if hits > 0 {
		s.apAll = sumAll / float64(hits)
	}
	if hitsK > 0 {
		s.apK = sumK / float64(hitsK)
	}
	s.pK = float64(hitsK) / float64(min(K, len(order)))
	return s
}

func summarize(stats []queryStats, nbits, dbLen int) *Report {
	r := &Report{Bits: nbits, Queries: len(stats), Database: dbLen}
	n := float64(len(stats))
	precSum := make([]float64, nbits+1)
	precN := make([]int, nbits+1)
	recSum := make([]float64, nbits+1)
	for _, s := range stats {
		r.MAPAll += s.apAll / n
		r.MAPAt1000 += s.apK / n
		r.PAt1000 += s.pK / n
		r.PAt1 += s.p1 / n
		ret, rel := 0, 0
		for d := 0; d <= nbits; d++ {
			ret += s.retrieved[d]
			rel += s.relevant[d]
			if ret > 0 {
				precSum[d] += float64(rel) / float64(ret)
				precN[d]++
			}
			if s.totalRelevant > 0 {
				recSum[d] += float64(rel) / float64(s.totalRelevant)
			}
			if d == 2 {
				if ret > 0 {
					r.PR2 += float64(rel) / float64(ret) / n
				} else {
					r.EmptyR2 += 1 / n
				}
			}
		}
		if nbits < 2 { // the radius-2 ball is the whole space
			r.PR2 += float64(s.totalRelevant) / float64(dbLen) / n
		}
	}
	for d := 0; d <= nbits; d++ {
		p := PRPoint{Radius: d, Recall: recSum[d] / n}
		if precN[d] > 0 {
			p.Precision = precSum[d] / float64(precN[d])
		}
		r.PR = append(r.PR, p)
	}
	return r
}

// parallel splits [0, n) into one contiguous range per core.
func parallel(n int, fn func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo, hi := w*n/workers, (w+1)*n/workers
		wg.Add(1)
		go func() { defer wg.Done(); fn(lo, hi) }()
	}
	wg.Wait()
}

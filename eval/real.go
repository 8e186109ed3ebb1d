package eval

import (
	"fmt"
	"sort"
)

// Euclidean evaluates real-valued vectors (dim values each) ranked by
// Euclidean distance, ties by database position: the reference row of raw
// pixels, and the path for real-valued descriptors. The Hamming-radius
// figures (P@r<=2, PR curve) do not apply and stay zero; Bits is 0.
func Euclidean(query []float32, queryLabels []int32, db []float32, dbLabels []int32, dim int) (*Report, error) {
	return rankReal(query, queryLabels, db, dbLabels, dim, true)
}

// InnerProduct evaluates real-valued queries against database vectors
// ranked by inner product, largest first, ties by database position: the
// asymmetric quantizer distance of DVSQ when db holds the reconstructions
// of the database codes. As for Euclidean, the Hamming-radius figures stay
// zero.
func InnerProduct(query []float32, queryLabels []int32, db []float32, dbLabels []int32, dim int) (*Report, error) {
	return rankReal(query, queryLabels, db, dbLabels, dim, false)
}

func rankReal(query []float32, queryLabels []int32, db []float32, dbLabels []int32, dim int, euclidean bool) (*Report, error) {
	nq, nd := len(queryLabels), len(dbLabels)
	if dim < 1 || len(query) != nq*dim || len(db) != nd*dim {
		return nil, fmt.Errorf("eval: %d query values for %d labels, %d database values for %d labels, dim %d",
			len(query), nq, len(db), nd, dim)
	}
	if nq == 0 || nd == 0 {
		return nil, fmt.Errorf("eval: no queries or empty database")
	}
	norms := make([]float32, nd)
	if euclidean {
		for i := range norms {
			norms[i] = dot(db[i*dim:(i+1)*dim], db[i*dim:(i+1)*dim])
		}
	}
	stats := make([]queryStats, nq)
	parallel(nq, func(lo, hi int) {
		dist := make([]float32, nd)
		order := make([]int32, nd)
		for q := lo; q < hi; q++ {
			v := query[q*dim : (q+1)*dim]
			// Euclidean: ||v - x||^2 less the constant ||v||^2, which
			// leaves the order unchanged; inner product: its negation.
			for i := range dist {
				dist[i] = norms[i] - 2*dot(v, db[i*dim:(i+1)*dim])
			}
			for i := range order {
				order[i] = int32(i)
			}
			sort.SliceStable(order, func(a, b int) bool { return dist[order[a]] < dist[order[b]] })
			stats[q] = scoreOrder(order, queryLabels[q], dbLabels)
		}
	})
	r := &Report{Queries: nq, Database: nd}
	n := float64(nq)
	for _, s := range stats {
		r.MAPAll += s.apAll / n
		r.MAPAt1000 += s.apK / n
		r.PAt1000 += s.pK / n
		r.PAt1 += s.p1 / n
	}
	return r, nil
}

func dot(a, b []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return s0 + s1 + s2 + s3
}

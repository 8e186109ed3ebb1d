package vector

import (
	"math"
	"math/rand/v2"
	"slices"
)

// clustered returns n vectors of dim dimensions drawn as the benchmark
// draws them: a random centre of nc plus Gaussian noise of deviation 0.7
// per dimension, scaled to unit length when unit is set. The same seed
// gives the same centres: split one call's vectors into database and
// queries.
func clustered(seed uint64, n, dim, nc int, unit bool) []float32 {
	rng := rand.New(rand.NewPCG(seed, 1))
	centres := make([]float32, nc*dim)
	for i := range centres {
		centres[i] = float32(rng.NormFloat64())
	}
	v := make([]float32, n*dim)
	for i := range n {
		c := centres[rng.IntN(nc)*dim:][:dim]
		x := v[i*dim : (i+1)*dim]
		for j := range x {
			x[j] = c[j] + 0.7*float32(rng.NormFloat64())
		}
		if unit {
			inv := 1 / norm(x)
			for j := range x {
				x[j] *= inv
			}
		}
	}
	return v
}

// bruteForce returns the exact ranking of all n vectors for q, in float64.
func bruteForce(db []float32, dim int, m Metric, q []float32) []Result {
	n := len(db) / dim
	score := func(x []float32) float64 {
		var s, nx, nq float64
		for j := range x {
			switch m {
			case L2:
				d := float64(x[j]) - float64(q[j])
				s += d * d
			default:
				s += float64(x[j]) * float64(q[j])
			}
			nx += float64(x[j]) * float64(x[j])
			nq += float64(q[j]) * float64(q[j])
		}
		if m == Cosine && nx > 0 && nq > 0 {
			s /= math.Sqrt(nx * nq)
		}
		return s
	}
	res := make([]Result, n)
	for i := range res {
		res[i] = Result{ID: i, Score: float32(score(db[i*dim : (i+1)*dim]))}
	}
	slices.SortStableFunc(res, func(a, b Result) int {
		if m == L2 {
			return cmpFloat(a.Score, b.Score)
		}
		return cmpFloat(b.Score, a.Score)
	})
	return res
}

func cmpFloat(a, b float32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// recallAt returns the fraction of the true k nearest found in got.
func recallAt(got [][]Result, truth [][]Result, k int) float64 {
	hit := 0
	for i := range got {
		want := map[int]bool{}
		for _, r := range truth[i][:k] {
			want[r.ID] = true
		}
		for _, r := range got[i][:min(k, len(got[i]))] {
			if want[r.ID] {
				hit++
			}
		}
	}
	return float64(hit) / float64(k*len(got))
}

// split returns the first n vectors of v as the database and the rest as
// the queries.
func split(v []float32, n, dim int) (db, qs []float32) { return v[:n*dim], v[n*dim:] }

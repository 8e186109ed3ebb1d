package learned

import (
	"math/rand/v2"
	"sort"
)

// HardNegatives mines hard negatives with the current model, as both
// papers train: Gordo et al. keep the triplets of largest loss among
// those of a random sample of queries, recomputed with the network being
// trained, and Radenović et al.'s code, which SOLAR trains with, takes for
// each query the nearest descriptors of non-matching images. For a fixed
// query and positive the triplet loss only grows as the negative comes
// nearer, so both pick the same images.
//
// queries and pool hold L2-normalized descriptors of dimension dim, one
// after the other; queryGroups and poolGroups their instances. For each
// query it returns the positions in pool of the n images nearest it (by
// Euclidean distance, that is the largest dot product) among those of
// other groups, at most one per group (the nearest of each), nearest
// first, ties by position; fewer when the pool holds fewer other groups.
func HardNegatives(queries []float32, queryGroups []int, pool []float32, poolGroups []int, dim, n int) [][]int {
	out := make([][]int, len(queryGroups))
	type cand struct {
		i   int
		dot float32
	}
	cands := make([]cand, 0, len(poolGroups))
	for qi, qg := range queryGroups {
		q := queries[qi*dim : (qi+1)*dim]
		cands = cands[:0]
		for pi, pg := range poolGroups {
			if pg == qg {
				continue
			}
			var s float32
			for j, v := range pool[pi*dim : (pi+1)*dim] {
				s += q[j] * v
			}
			cands = append(cands, cand{pi, s})
		}
		sort.SliceStable(cands, func(a, b int) bool { return cands[a].dot > cands[b].dot })
		used := map[int]bool{}
		for _, c := range cands {
			if len(out[qi]) == n {
				break
			}
			if g := poolGroups[c.i]; !used[g] {
				used[g] = true
				out[qi] = append(out[qi], c.i)
			}
		}
	}
	return out
}

// Tuple is one training tuple: positions in the training set of the
// query, a positive (another image of the query's group) and the hard
// negatives.
type Tuple struct {
	Query, Positive int
	Negatives       []int
}

// tuples builds an epoch's tuples: for each query, a positive drawn at
// random from the other images of its group and the hard negatives the
// current descriptors give. Queries with fewer than n negatives (a pool
// of too few groups) or no positive are left out.
func tuples(set *Set, queries, pool []int, qDesc, pDesc []float32, dim, n int, rng *rand.Rand) []Tuple {
	members := map[int][]int{}
	for i, g := range set.Groups {
		members[g] = append(members[g], i)
	}
	qGroups := make([]int, len(queries))
	for i, q := range queries {
		qGroups[i] = set.Groups[q]
	}
	pGroups := make([]int, len(pool))
	for i, p := range pool {
		pGroups[i] = set.Groups[p]
	}
	negs := HardNegatives(qDesc, qGroups, pDesc, pGroups, dim, n)
	var out []Tuple
	for i, q := range queries {
		var positives []int
		for _, m := range members[set.Groups[q]] {
			if m != q {
				positives = append(positives, m)
			}
		}
		if len(positives) == 0 || len(negs[i]) < n {
			continue
		}
		t := Tuple{Query: q, Positive: positives[rng.IntN(len(positives))]}
		for _, j := range negs[i] {
			t.Negatives = append(t.Negatives, pool[j])
		}
		out = append(out, t)
	}
	return out
}

package index

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"

	"github.com/lookalike/lookalike/codes"
)

// clusterMin is the smallest index NewHamming orders by cluster: below it
// a whole scan takes about as long as choosing the clusters to skip. A
// variable so that tests can cover the ordered layout with small sets.
var clusterMin = 1 << 14

// codesPerCluster and maxClusters set the number of clusters: enough that
// codes of different classes rarely share one, few enough that a query's
// distances to all centres cost little next to the codes it scans, and
// that the build (n times the number of clusters distances, plus as much
// for a sample) stays well under a second at a million codes.
// codesPerCluster is a variable for the same reason as clusterMin;
// maxClusters also fits a cluster number in a byte.
var codesPerCluster = 4096

const maxClusters = 256

// votersPerCentre is the average number of members whose bits vote for a
// cluster's centre, and maxVoters the most: a majority of a few hundred
// codes is already the majority of them all, bar a few bits.
const (
	votersPerCentre = 256
	maxVoters       = 1024
)

// order lays out the codes of s by cluster: one k-modes step (k-means++
// seeds from a sample, bitwise majority centres of the sample's clusters)
// and an assignment of every code to its nearest centre. The quality of
// the clusters only decides how much a search skips; exactness rests on
// the stored distances alone.
func (h *Hamming) order(s *codes.Set) {
	n := s.Len()
	nc := min(maxClusters, max(2, n/codesPerCluster))
	centres := seedCentres(s, nc)
	// A majority of a few hundred members is all a centre needs, so the
	// first assignment only covers a sample.
	sample := evenSample(s, min(n, votersPerCentre*nc))
	assign := make([]uint8, n)
	dist := make([]uint16, n)
	assigner(plainOf(sample), centres, assign[:sample.Len()], dist[:sample.Len()])
	centres = majorityCentres(sample, assign[:sample.Len()], len(centres))
	assigner(plainOf(s), centres, assign, dist)
	h.layout(s, centres, assign, dist)
}

// plainOf returns s in position order, without clusters.
func plainOf(s *codes.Set) *Hamming {
	h := &Hamming{bits: s.Bits, words: s.Words()}
	h.appendTail(s)
	return h
}

// evenSample returns m codes of s evenly spaced by position (s itself when
// m is all of them).
func evenSample(s *codes.Set, m int) *codes.Set {
	n := s.Len()
	if m >= n {
		return s
	}
	out := &codes.Set{Bits: s.Bits, Data: make([]uint64, 0, m*s.Words())}
	for i := range m {
		out.Data = append(out.Data, s.At(int(int64(i)*int64(n)/int64(m)))...)
	}
	return out
}

// seedCentres picks nc centres among an evenly spaced sample of s by
// k-means++ (Arthur and Vassilvitskii, 2007): each next centre drawn with
// probability proportional to its squared distance to the nearest centre
// so far, which spreads them over the classes. The seed is fixed, so the
// layout is reproducible.
func seedCentres(s *codes.Set, nc int) [][]uint64 {
	ss := evenSample(s, min(s.Len(), 16*nc))
	m := ss.Len()
	sample := make([][]uint64, m)
	for i := range sample {
		sample[i] = ss.At(i)
	}
	rng := rand.New(rand.NewPCG(uint64(s.Len()), uint64(s.Bits)))
	centres := [][]uint64{slices.Clone(sample[rng.IntN(m)])}
	d2 := make([]float64, m)
	for i, c := range sample {
		d := float64(codes.Hamming(c, centres[0]))
		d2[i] = d * d
	}
	for len(centres) < nc {
		total := 0.0
		for _, v := range d2 {
			total += v
		}
		if total == 0 {
			break // every sampled code is a centre
		}
		r, pick := rng.Float64()*total, m-1
		for i, v := range d2 {
			if r -= v; r < 0 {
				pick = i
				break
			}
		}
		c := slices.Clone(sample[pick])
		centres = append(centres, c)
		for i, x := range sample {
			d := float64(codes.Hamming(x, c))
			d2[i] = min(d2[i], d*d)
		}
	}
	return centres
}

// majorityCentres returns, for each non-empty cluster, the bitwise
// majority of (up to maxVoters of) its members, each distinct centre
// once: seeds from one class tend to vote for the same centre, and a
// duplicate would only cost distances.
func majorityCentres(s *codes.Set, assign []uint8, nc int) [][]uint64 {
	votes := make([]int, nc)
	ones := make([]int32, nc*s.Bits)
	for i, ci := range assign {
		if votes[ci] == maxVoters {
			continue
		}
		votes[ci]++
		row := ones[int(ci)*s.Bits:]
		for w, word := range s.At(i) {
			for ; word != 0; word &= word - 1 {
				row[64*w+bits.TrailingZeros64(word)]++
			}
		}
	}
	var centres [][]uint64
	for ci, v := range votes {
		if v == 0 {
			continue
		}
		c := make([]uint64, s.Words())
		for b, o := range ones[ci*s.Bits : (ci+1)*s.Bits] {
			if 2*int(o) > v {
				c[b/64] |= 1 << (b % 64)
			}
		}
		if !slices.ContainsFunc(centres, func(o []uint64) bool { return slices.Equal(o, c) }) {
			centres = append(centres, c)
		}
	}
	return centres
}

// assigner writes, for every code of a plain index (slot i holds position
// i), its nearest centre (lowest index on ties) and the distance to it.
// assignSIMD where available (scan_simd.go).
var assigner = assignGeneric

func assignGeneric(h *Hamming, centres [][]uint64, assign []uint8, dist []uint16) {
	parallel((h.n+1023)/1024, func(part int) {
		for i := part * 1024; i < min((part+1)*1024, h.n); i++ {
			best, arg := math.MaxInt, 0
			for ci, c := range centres {
				if d := h.distance(c, i); d < best {
					best, arg = d, ci
				}
			}
			assign[i], dist[i] = uint8(arg), uint16(best)
		}
	})
}

// layout stores the codes cluster after cluster, each cluster starting on
// a block and sorted by (distance to its centre, position). Clusters follow
// a chain of nearest centres, so that neighbouring clusters, which queries
// tend to need together, are neighbours in memory.
func (h *Hamming) layout(s *codes.Set, centres [][]uint64, assign []uint8, dist []uint16) {
	n, nc, nd := s.Len(), len(centres), h.bits+1
	rank := chain(centres)
	// A counting sort by (rank, distance), stable in position order.
	start := make([]int, nc*nd+1)
	for i, ci := range assign {
		start[int(rank[ci])*nd+int(dist[i])+1]++
	}
	for i := 1; i < len(start); i++ {
		start[i] += start[i-1]
	}
	sorted := make([]int32, n)
	next := slices.Clone(start)
	for i, ci := range assign {
		key := int(rank[ci])*nd + int(dist[i])
		sorted[next[key]] = int32(i)
		next[key]++
	}

	byRank := make([]int, nc)
	for ci, r := range rank {
		byRank[r] = ci
	}
	slotsUsed := 0
	for r := range nc {
		members := start[(r+1)*nd] - start[r*nd]
		slotsUsed += (members + Lanes - 1) / Lanes * Lanes
	}
	h.blocks = make([]uint64, slotsUsed*h.words)
	h.ids = make([]int32, slotsUsed)
	h.slots = make([]int32, n)
	h.clusters = nil
	slot := 0
	for r := range nc {
		lo, hi := start[r*nd], start[(r+1)*nd]
		if lo == hi {
			continue
		}
		maxR := int(dist[sorted[hi-1]])
		cl := cluster{centre: centres[byRank[r]], byRadius: make([]int32, maxR+2)}
		for d := 0; d <= maxR+1; d++ {
			cl.byRadius[d] = int32(slot + start[r*nd+d] - lo)
		}
		for _, i := range sorted[lo:hi] {
			block := h.blocks[slot/Lanes*Lanes*h.words:]
			for w, word := range s.At(int(i)) {
				block[w*Lanes+slot%Lanes] = word
			}
			h.ids[slot] = i
			h.slots[i] = int32(slot)
			slot++
		}
		for ; slot%Lanes != 0; slot++ {
			h.ids[slot] = noID
		}
		h.clusters = append(h.clusters, cl)
	}
	h.n, h.used, h.tail, h.ordered = n, slot, slot, n
}

// chain orders the centres greedily, each followed by the nearest one not
// yet placed; rank[ci] is centre ci's place.
func chain(centres [][]uint64) []uint16 {
	rank := make([]uint16, len(centres))
	placed := make([]bool, len(centres))
	cur := 0
	for r := range centres {
		rank[cur], placed[cur] = uint16(r), true
		best, next := math.MaxInt, -1
		for ci, c := range centres {
			if d := codes.Hamming(centres[cur], c); !placed[ci] && d < best {
				best, next = d, ci
			}
		}
		cur = next
	}
	return rank
}

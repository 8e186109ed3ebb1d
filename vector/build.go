package vector

import (
	"cmp"
	"fmt"
	"slices"
	"sync/atomic"
)

// Add inserts vectors (len a multiple of Dim()) with the next positions.
//
// Nodes are inserted in batches, each one linked into the graph as it was
// before the batch: every node of a batch searches that frozen graph for
// its neighbours in parallel, then the reverse links are applied, each
// node's by one worker in node order, pruned with the same heuristic when
// a list overflows. A batch is batchFraction of the graph's size (so a
// node misses at most the 2% of nodes inserted just before it, which its
// later neighbours link to anyway), and a node that raises the top layer
// is inserted alone. Nothing depends on the workers' timing: the graph is
// a function of the seed, the vectors and the Add calls.
func (h *HNSW) Add(vectors []float32) {
	if len(vectors)%h.dim != 0 {
		panic(fmt.Sprintf("vector: %d values are not a whole number of %d-dimensional vectors", len(vectors), h.dim))
	}
	add := len(vectors) / h.dim
	if add == 0 {
		return
	}
	if h.n+add > 1<<31 {
		panic("vector: an HNSW graph holds at most 2^31 vectors")
	}
	start := h.n
	h.vecs = growHuge(h.vecs, add*h.stride)
	h.levels = slices.Grow(h.levels, add)
	h.links0 = growHuge(h.links0, add*(h.m0+1))
	h.upperOff = slices.Grow(h.upperOff, add)
	for i := range add {
		o := len(h.vecs)
		h.vecs = h.vecs[:o+h.stride]
		h.metric.prepare(h.vecs[o:], vectors[i*h.dim:(i+1)*h.dim])
		lv := level(h.seed, start+i, h.m)
		h.levels = append(h.levels, lv)
		h.links0 = append(h.links0, make([]uint32, h.m0+1)...)
		h.upperOff = append(h.upperOff, uint32(len(h.upper)/(h.m+1)))
		if lv > 0 {
			h.upper = append(h.upper, make([]uint32, int(lv)*(h.m+1))...)
		}
	}
	h.n += add
	pos := start
	if start == 0 {
		h.entry, h.maxLevel = 0, int(h.levels[0])
		pos = 1
	}
	ss := make([]*searcher, max(h.Workers, 1))
	for w := range ss {
		ss[w] = &searcher{q: make([]float32, h.stride)}
	}
	for pos < h.n {
		end := min(h.n, pos+max(1, int(float64(pos)*batchFraction)))
		for i := pos; i < end; i++ {
			if int(h.levels[i]) > h.maxLevel {
				end = max(i, pos+1)
				break
			}
		}
		h.insertBatch(ss, pos, end)
		if lv := int(h.levels[pos]); end == pos+1 && lv > h.maxLevel {
			h.entry, h.maxLevel = uint32(pos), lv
		}
		pos = end
	}
}

// edge is a reverse link to add: target gains source on layer level.
type edge struct {
	target, source uint32
	level          uint8
}

func edgeCmp(a, b edge) int {
	if c := cmp.Compare(a.level, b.level); c != 0 {
		return c
	}
	if c := cmp.Compare(a.target, b.target); c != 0 {
		return c
	}
	return cmp.Compare(a.source, b.source)
}

// insertBatch links nodes [pos, end) into the graph of nodes [0, pos).
func (h *HNSW) insertBatch(ss []*searcher, pos, end int) {
	workers := min(len(ss), end-pos)
	// Forward links: each new node's own lists, found on the frozen graph.
	var next atomic.Int64
	next.Store(int64(pos))
	parallel(workers, func(w int) {
		for i := int(next.Add(1) - 1); i < end; i = int(next.Add(1) - 1) {
			h.link(ss[w], uint32(i))
		}
	})
	// Reverse links, bucketed by the worker that owns the target.
	buckets := make([][]edge, workers)
	for i := pos; i < end; i++ {
		for l := min(int(h.levels[i]), h.maxLevel); l >= 0; l-- {
			for _, t := range h.neighbours(uint32(i), l) {
				w := int(t) % workers
				buckets[w] = append(buckets[w], edge{t, uint32(i), uint8(l)})
			}
		}
	}
	parallel(workers, func(w int) {
		es := buckets[w]
		slices.SortFunc(es, edgeCmp)
		for len(es) > 0 {
			j := 1
			for j < len(es) && es[j].target == es[0].target && es[j].level == es[0].level {
				j++
			}
			h.addReverse(ss[w], es[:j])
			es = es[j:]
		}
	})
}

// link finds node i's neighbours on each of its layers (Algorithm 1 of the
// paper) and writes its lists.
func (h *HNSW) link(s *searcher, i uint32) {
	q := h.vec(i)
	lv := int(h.levels[i])
	ep := h.descend(s, q, lv)
	for l := min(lv, h.maxLevel); l >= 0; l-- {
		h.searchLayer(s, q, ep, h.efConstruction, l)
		sorted := s.sortedResults()
		ep = sorted[0]
		s.sel = h.selectNeighbours(sorted, h.m, s.sel[:0])
		ls := h.list(i, l)
		ls[0] = uint32(copy(ls[1:], s.sel))
	}
}

// selectNeighbours appends to out up to m of cands (sorted nearest the
// base first) chosen by the heuristic of the paper's Algorithm 4: a
// candidate is kept when it is nearer the base than every candidate kept
// before it, so that links spread in all directions.
func (h *HNSW) selectNeighbours(cands []cand, m int, out []uint32) []uint32 {
	for _, c := range cands {
		if len(out) >= m {
			break
		}
		x := h.vec(c.id)
		good := true
		for _, r := range out {
			if h.metric.distance(x, h.vec(r)) < c.d {
				good = false
				break
			}
		}
		if good {
			out = append(out, c.id)
		}
	}
	return out
}

// addReverse adds the sources of es (one target, one layer, sources in
// order) to the target's list, choosing among the old and new links with
// the heuristic when they do not all fit.
func (h *HNSW) addReverse(s *searcher, es []edge) {
	t, l := es[0].target, int(es[0].level)
	ls := h.list(t, l)
	limit := h.m
	if l == 0 {
		limit = h.m0
	}
	n := int(ls[0])
	if n+len(es) <= limit {
		for _, e := range es {
			ls[1+n] = e.source
			n++
		}
		ls[0] = uint32(n)
		return
	}
	base := h.vec(t)
	cs := s.sorted[:0]
	for _, x := range ls[1 : 1+n] {
		cs = append(cs, cand{h.metric.distance(base, h.vec(x)), x})
	}
	for _, e := range es {
		cs = append(cs, cand{h.metric.distance(base, h.vec(e.source)), e.source})
	}
	slices.SortFunc(cs, candCmp)
	s.sorted = cs
	s.sel = h.selectNeighbours(cs, limit, s.sel[:0])
	ls[0] = uint32(copy(ls[1:], s.sel))
}

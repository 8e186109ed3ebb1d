package vector

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"
)

// HNSWConfig holds the parameters of an HNSW graph. Zero fields take the
// defaults of DefaultHNSWConfig.
type HNSWConfig struct {
	// Metric compares vectors. Default InnerProduct.
	Metric Metric
	// M is the number of links a node gets when it is inserted, and the
	// most it keeps on the layers above the bottom one; the bottom layer
	// keeps up to 2M. Default 32.
	M int
	// EfConstruction is the candidate list size of the searches that
	// find a new node's neighbours: larger builds slower and links
	// better. Default 100.
	EfConstruction int
	// EfSearch is the initial value of HNSW.EfSearch. Default 64.
	EfSearch int
	// Seed draws the nodes' layers. The same seed, vectors and sequence
	// of Add calls give the same graph, whatever Workers is.
	Seed uint64
	// Workers is the number of goroutines that build the graph and
	// answer SearchBatch. Default runtime.GOMAXPROCS(0).
	Workers int
}

// DefaultHNSWConfig returns the default parameters.
func DefaultHNSWConfig() HNSWConfig {
	return HNSWConfig{Metric: InnerProduct, M: 32, EfConstruction: 100, EfSearch: 64}
}

// maxLayers bounds a node's layer: with M >= 2 a layer above 15 has
// probability under 2^-15 per node per layer.
const maxLayers = 16

// batchFraction is the size of an insertion batch relative to the graph
// it is inserted into (see Add).
const batchFraction = 0.02

// HNSW is a hierarchical navigable small world graph (Malkov and
// Yashunin, TPAMI 2018) over float32 vectors stored flat. Searches may run
// concurrently with each other, not with Add.
type HNSW struct {
	// EfSearch is the size of the candidate list a search keeps on the
	// bottom layer (raised to k when smaller): the recall/speed knob.
	// Set it between searches, not during.
	EfSearch int
	// Workers is the number of goroutines Add and SearchBatch use.
	// Default runtime.GOMAXPROCS(0).
	Workers int

	metric         Metric
	dim, stride    int
	m, m0          int
	efConstruction int
	seed           uint64

	n      int
	vecs   []float32 // n*stride, zero padded
	levels []uint8   // top layer of each node
	// links0 holds each node's bottom-layer links: a count then m0 slots.
	links0 []uint32
	// upper holds the links of the layers above the bottom one, m+1
	// words a layer (count, slots), layers 1..level of a node together;
	// upperOff is the index of a node's layer-1 list, in lists.
	upper    []uint32
	upperOff []uint32
	entry    uint32
	maxLevel int

	pool sync.Pool // of *searcher
}

// NewHNSW returns an empty graph for vectors of dim dimensions.
func NewHNSW(dim int, c HNSWConfig) *HNSW {
	d := DefaultHNSWConfig()
	if c.M == 0 {
		c.M = d.M
	}
	if c.EfConstruction == 0 {
		c.EfConstruction = d.EfConstruction
	}
	if c.EfSearch == 0 {
		c.EfSearch = d.EfSearch
	}
	if c.Workers <= 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	if dim < 1 || c.M < 2 || c.M > 1<<15 || !c.Metric.valid() {
		panic(fmt.Sprintf("vector: bad HNSW parameters: dim %d, M %d, metric %v", dim, c.M, c.Metric))
	}
	return &HNSW{
		EfSearch: c.EfSearch, metric: c.Metric, dim: dim, stride: padded(dim),
		m: c.M, m0: 2 * c.M, efConstruction: c.EfConstruction, seed: c.Seed, Workers: c.Workers,
	}
}

// BuildHNSW builds a graph over vectors (len a multiple of dim).
func BuildHNSW(vectors []float32, dim int, c HNSWConfig) *HNSW {
	h := NewHNSW(dim, c)
	h.Add(vectors)
	return h
}

// Len returns the number of vectors.
func (h *HNSW) Len() int { return h.n }

// Dim returns the vectors' dimension.
func (h *HNSW) Dim() int { return h.dim }

// Metric returns the metric vectors are compared with.
func (h *HNSW) Metric() Metric { return h.metric }

// M returns the links parameter the graph was built with.
func (h *HNSW) M() int { return h.m }

// EfConstruction returns the build's candidate list size.
func (h *HNSW) EfConstruction() int { return h.efConstruction }

// Vector returns stored vector i (scaled to unit length under Cosine).
// The slice aliases the index: do not modify it.
func (h *HNSW) Vector(i int) []float32 { return h.vecs[i*h.stride : i*h.stride+h.dim] }

// Bytes returns the memory the index holds: vectors and links.
func (h *HNSW) Bytes() int {
	return 4*(len(h.vecs)+len(h.links0)+len(h.upper)+len(h.upperOff)) + len(h.levels)
}

func (h *HNSW) vec(i uint32) []float32 {
	o := int(i) * h.stride
	return h.vecs[o : o+h.stride]
}

// list returns node i's link list on layer l: the count word then the
// slots.
func (h *HNSW) list(i uint32, l int) []uint32 {
	if l == 0 {
		o := int(i) * (h.m0 + 1)
		return h.links0[o : o+h.m0+1]
	}
	o := (int(h.upperOff[i]) + l - 1) * (h.m + 1)
	return h.upper[o : o+h.m+1]
}

// neighbours returns node i's links on layer l.
func (h *HNSW) neighbours(i uint32, l int) []uint32 {
	ls := h.list(i, l)
	return ls[1 : 1+ls[0]]
}

// cand is a node and its distance to the query (smaller is closer).
type cand struct {
	d  float32
	id uint32
}

func candLess(a, b cand) bool { return a.d < b.d || a.d == b.d && a.id < b.id }

func candCmp(a, b cand) int {
	switch {
	case candLess(a, b):
		return -1
	case candLess(b, a):
		return 1
	}
	return 0
}

// searcher is the scratch space of one search at a time.
type searcher struct {
	// visited has bit i set once node i was seen; touched lists the words
	// set since the last begin, to clear them alone when they are few.
	visited []uint64
	touched []uint32
	cands   []cand // min-heap: nodes to expand
	res     []cand // max-heap: the ef nearest found
	ids     []uint32
	q       []float32
	sorted  []cand
	sel     []uint32
	ds      []float32
}

// scratch returns s.ds with room for n distances.
func (s *searcher) scratch(n int) []float32 {
	if cap(s.ds) < n {
		s.ds = make([]float32, n)
	}
	return s.ds[:n]
}

func (h *HNSW) getSearcher() *searcher {
	if s, ok := h.pool.Get().(*searcher); ok {
		return s
	}
	return &searcher{q: make([]float32, h.stride)}
}

// begin starts a layer search over n nodes. The visited set is a bitset
// (a million nodes take 128 KiB, which stays in L2 cache).
func (s *searcher) begin(n int) {
	words := (n + 63) / 64
	switch {
	case len(s.visited) < words:
		s.visited = make([]uint64, words)
	case len(s.touched) < words/16:
		for _, w := range s.touched {
			s.visited[w] = 0
		}
	default:
		clear(s.visited)
	}
	s.touched = s.touched[:0]
}

// visit marks node i seen and reports whether it was already.
func (s *searcher) visit(i uint32) bool {
	w, b := i/64, uint64(1)<<(i%64)
	v := s.visited[w]
	if v&b != 0 {
		return true
	}
	if v == 0 {
		s.touched = append(s.touched, w)
	}
	s.visited[w] = v | b
	return false
}

func pushMin(h []cand, c cand) []cand {
	h = append(h, c)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !candLess(h[i], h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	return h
}

func popMin(h []cand) (cand, []cand) {
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		if r := l + 1; r < n && candLess(h[r], h[l]) {
			l = r
		}
		if !candLess(h[l], h[i]) {
			break
		}
		h[i], h[l] = h[l], h[i]
		i = l
	}
	return top, h
}

func pushMax(h []cand, c cand) []cand {
	h = append(h, c)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !candLess(h[p], h[i]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	return h
}

// fixMax restores the max-heap after h[0] was replaced.
func fixMax(h []cand) {
	n := len(h)
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		if r := l + 1; r < n && candLess(h[l], h[r]) {
			l = r
		}
		if !candLess(h[i], h[l]) {
			break
		}
		h[i], h[l] = h[l], h[i]
		i = l
	}
}

// dist returns the distance from q to node i.
func (h *HNSW) dist(q []float32, i uint32) float32 { return h.metric.distance(q, h.vec(i)) }

// dist4 returns the distances from q to four nodes at once.
func (h *HNSW) dist4(q []float32, a, b, c, d uint32, out *[4]float32) {
	if h.metric == L2 {
		l2sq4(q, h.vec(a), h.vec(b), h.vec(c), h.vec(d), out)
		return
	}
	dot4(q, h.vec(a), h.vec(b), h.vec(c), h.vec(d), out)
	out[0], out[1], out[2], out[3] = -out[0], -out[1], -out[2], -out[3]
}

// distances sets ds[j] to the distance from q to ids[j], four at a time
// (a short tail repeats its first node, whose vector is then cached).
func (h *HNSW) distances(q []float32, ids []uint32, ds []float32) {
	var d4 [4]float32
	for j := 0; j < len(ids); j += 4 {
		a := ids[j]
		b, c, d := a, a, a
		switch len(ids) - j {
		default:
			d = ids[j+3]
			fallthrough
		case 3:
			c = ids[j+2]
			fallthrough
		case 2:
			b = ids[j+1]
		case 1:
		}
		h.dist4(q, a, b, c, d, &d4)
		copy(ds[j:], d4[:])
	}
}

// greedy walks layer l from ep to the node nearest q (a search with ef 1).
func (h *HNSW) greedy(s *searcher, q []float32, ep cand, l int) cand {
	for changed := true; changed; {
		changed = false
		nb := h.neighbours(ep.id, l)
		ds := s.scratch(len(nb))
		h.distances(q, nb, ds)
		for j, d := range ds {
			if d < ep.d {
				ep, changed = cand{d, nb[j]}, true
			}
		}
	}
	return ep
}

// searchLayer leaves in s.res the ef nodes of layer l nearest q that a
// best-first search from ep finds (Algorithm 2 of the paper).
func (h *HNSW) searchLayer(s *searcher, q []float32, ep cand, ef, l int) {
	s.begin(h.n)
	s.visit(ep.id)
	s.cands = append(s.cands[:0], ep)
	s.res = append(s.res[:0], ep)
	var c cand
	for len(s.cands) > 0 {
		c, s.cands = popMin(s.cands)
		if c.d > s.res[0].d && len(s.res) >= ef {
			break
		}
		ids := s.ids[:0]
		for _, x := range h.neighbours(c.id, l) {
			if !s.visit(x) {
				ids = append(ids, x)
			}
		}
		s.ids = ids
		ds := s.scratch(len(ids))
		h.distances(q, ids, ds)
		for j, d := range ds {
			x := cand{d, ids[j]}
			if len(s.res) < ef {
				s.res = pushMax(s.res, x)
				s.cands = pushMin(s.cands, x)
			} else if candLess(x, s.res[0]) {
				s.res[0] = x
				fixMax(s.res)
				s.cands = pushMin(s.cands, x)
			}
		}
	}
}

// sortedResults returns s.res sorted nearest first, in s.sorted.
func (s *searcher) sortedResults() []cand {
	s.sorted = append(s.sorted[:0], s.res...)
	slices.SortFunc(s.sorted, candCmp)
	return s.sorted
}

// descend returns the entry point of the bottom layers for q: the node a
// greedy walk down from the top layer to layer l+1 ends on.
func (h *HNSW) descend(s *searcher, q []float32, l int) cand {
	ep := cand{h.dist(q, h.entry), h.entry}
	for k := h.maxLevel; k > l; k-- {
		ep = h.greedy(s, q, ep, k)
	}
	return ep
}

// Search returns the k stored vectors nearest q (len Dim()), best first.
func (h *HNSW) Search(q []float32, k int) []Result {
	s := h.getSearcher()
	defer h.pool.Put(s)
	return h.search(s, q, k, max(h.EfSearch, k))
}

func (h *HNSW) search(s *searcher, q []float32, k, ef int) []Result {
	if len(q) != h.dim {
		panic(fmt.Sprintf("vector: query of %d dimensions for an index of %d", len(q), h.dim))
	}
	if h.n == 0 || k <= 0 {
		return nil
	}
	h.metric.prepare(s.q, q)
	h.searchLayer(s, s.q, h.descend(s, s.q, 0), ef, 0)
	sorted := s.sortedResults()
	out := make([]Result, min(k, len(sorted)))
	for i := range out {
		out[i] = Result{ID: int(sorted[i].id), Score: h.metric.score(sorted[i].d)}
	}
	return out
}

// SearchBatch searches every query of qs (len a multiple of Dim()) on
// Workers goroutines.
func (h *HNSW) SearchBatch(qs []float32, k int) [][]Result {
	if len(qs)%h.dim != 0 {
		panic(fmt.Sprintf("vector: %d values are not a whole number of %d-dimensional queries", len(qs), h.dim))
	}
	nq := len(qs) / h.dim
	out := make([][]Result, nq)
	ef := max(h.EfSearch, k)
	var next atomic.Int64
	parallel(min(max(h.Workers, 1), nq), func(int) {
		s := h.getSearcher()
		defer h.pool.Put(s)
		for i := int(next.Add(1) - 1); i < nq; i = int(next.Add(1) - 1) {
			out[i] = h.search(s, qs[i*h.dim:(i+1)*h.dim], k, ef)
		}
	})
	return out
}

// parallel runs f(0..workers-1) on their own goroutines and waits; one
// worker runs inline.
func parallel(workers int, f func(w int)) {
	if workers <= 1 {
		f(0)
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { f(w) })
	}
	wg.Wait()
}

// level draws node i's top layer: floor(-ln(U) mL) with mL = 1/ln(M)
// (the paper's choice), U uniform on (0, 1) from a hash of the seed and i.
func level(seed uint64, i, m int) uint8 {
	z := seed + uint64(i+1)*0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	z ^= z >> 31
	u := (float64(z>>11) + 0.5) / (1 << 53)
	return uint8(min(int(-math.Log(u)/math.Log(float64(m))), maxLayers-1))
}

// hugeMin is the size from which a slice is put in huge pages.
const hugeMin = 32 << 20

// hugeCopy returns a copy of s in memory advised to take huge pages (see
// adviseHuge), when s is large enough for that to matter.
func hugeCopy[T any](s []T) []T {
	var zero T
	if len(s)*int(unsafe.Sizeof(zero)) < hugeMin {
		return s
	}
	c := make([]T, len(s))
	adviseHuge(c)
	copy(c, s)
	return c
}

// growHuge is slices.Grow(s, n), the new memory advised to take huge
// pages when it is large.
func growHuge[T any](s []T, n int) []T {
	var zero T
	if cap(s)-len(s) >= n || (len(s)+n)*int(unsafe.Sizeof(zero)) < hugeMin {
		return slices.Grow(s, n)
	}
	c := make([]T, len(s), max(len(s)+n, 2*cap(s)))
	adviseHuge(c[:cap(c)])
	copy(c, s)
	return c
}

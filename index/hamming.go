// Package index searches binary codes by Hamming distance.
package index

import (
	"fmt"
	"math"
	"math/bits"
	"runtime"
	"slices"
	"sync"

	"github.com/lookalike/lookalike/codes"
)

// Result is one search hit: the database position and its distance.
type Result struct {
	ID       int
	Distance int
}

// Lanes is the number of codes stored side by side in one block: one
// 512-bit vector of 64-bit words.
const Lanes = 8

// Hamming is an exact Hamming index. Results are ordered by distance, ties
// broken by database position, lowest first, so every search is
// deterministic.
//
// # Layout
//
// Codes are stored in slots, Lanes slots to a block, word-major inside a
// block (word 0 of the 8 codes, then word 1, ...), so that one vector load
// brings the same word of 8 codes and one vector popcount measures 8
// distances.
//
// # Pruning
//
// From clusterMin codes on, NewHamming groups the codes around cluster
// centres (order.go) and stores each cluster in contiguous slots, sorted by
// distance to its centre. By the triangle inequality, a code within t of a
// query at distance D from a centre is itself at distance D-t to D+t from
// that centre: one contiguous run of the cluster's slots. A search scans,
// cluster by cluster, only that run, t being the current k-th best
// distance. Hash codes of images come in classes, so most clusters are far
// from a query and skipped outright; on uniform random codes every run is
// the whole cluster and the search costs what a plain scan costs.
//
// Codes added after NewHamming go to a tail, in position order, that every
// search scans in full; Add re-clusters once the tail holds clusterMin
// codes and a quarter of the index.
//
// Searches may run concurrently; Add may not run alongside them.
//
// # Memory
//
// The code bytes, rounded up to whole blocks per cluster, plus 8 bytes per
// code (slot to position and back, as int32: up to 2^31-1 codes), plus a
// centre and a table of at most bits+2 slot numbers per cluster: well
// under 1.5 times the code bytes plus 8 bytes per code.
type Hamming struct {
	bits, words, n int
	blocks         []uint64
	// ids[s] is the position of the code in slot s, noID for padding; its
	// length is a whole number of blocks.
	ids []int32
	// slots[i] is the slot of position i.
	slots []int32
	// used is the number of slots in use (the tail's end).
	used int
	// clusters cover slots [0, tail); ordered is the number of codes in
	// them.
	clusters []cluster
	tail     int
	ordered  int
}

const noID = -1

// cluster is a run of slots holding the codes nearest one centre, sorted
// by distance to it.
type cluster struct {
	centre []uint64
	// byRadius[r] is the first slot whose code is at distance r or more
	// from the centre; the last entry is the end of the cluster.
	byRadius []int32
}

// run returns the slots [s0, s1) of the codes at distance lo..hi from the
// centre.
func (cl *cluster) run(lo, hi int) (s0, s1 int) {
	maxR := len(cl.byRadius) - 2
	lo, hi = max(lo, 0), min(hi, maxR)
	if lo > hi {
		return 0, 0
	}
	return int(cl.byRadius[lo]), int(cl.byRadius[hi+1])
}

// NewHamming indexes a copy of the codes.
func NewHamming(s *codes.Set) *Hamming {
	h := &Hamming{bits: s.Bits, words: s.Words()}
	if s.Len() >= clusterMin {
		h.order(s)
	} else {
		h.appendTail(s)
	}
	return h
}

// Add appends the codes of s, which must have the index's length.
func (h *Hamming) Add(s *codes.Set) {
	if s.Bits != h.bits {
		panic(fmt.Sprintf("index: adding %d-bit codes to a %d-bit index", s.Bits, h.bits))
	}
	h.appendTail(s)
	// Re-clustering reads every code a few times; doing it when the tail
	// reaches a quarter of the index keeps that cost a constant per added
	// code.
	if tail := h.n - h.ordered; tail >= clusterMin && 4*tail >= h.n {
		h.order(h.positionOrder())
	}
}

func (h *Hamming) appendTail(s *codes.Set) {
	h.slots = slices.Grow(h.slots, s.Len())
	for i := 0; i < s.Len(); i++ {
		if h.used == len(h.ids) {
			h.blocks = append(h.blocks, make([]uint64, Lanes*h.words)...)
			for range Lanes {
				h.ids = append(h.ids, noID)
			}
		}
		block := h.blocks[h.used/Lanes*Lanes*h.words:]
		for w, word := range s.At(i) {
			block[w*Lanes+h.used%Lanes] = word
		}
		h.ids[h.used] = int32(h.n)
		h.slots = append(h.slots, int32(h.used))
		h.used++
		h.n++
	}
}

// positionOrder returns a copy of the codes in position order.
func (h *Hamming) positionOrder() *codes.Set {
	s := &codes.Set{Bits: h.bits, Data: make([]uint64, h.n*h.words)}
	for i := 0; i < h.n; i++ {
		h.codeInto(i, s.At(i))
	}
	return s
}

// Len returns the number of indexed codes.
func (h *Hamming) Len() int { return h.n }

// Bits returns the code length.
func (h *Hamming) Bits() int { return h.bits }

// Bytes returns the memory the index occupies.
func (h *Hamming) Bytes() int {
	b := 8*len(h.blocks) + 4*len(h.ids) + 4*len(h.slots)
	for _, cl := range h.clusters {
		b += 8*len(cl.centre) + 4*len(cl.byRadius)
	}
	return b
}

// Code returns a copy of code i.
func (h *Hamming) Code(i int) []uint64 {
	c := make([]uint64, h.words)
	h.codeInto(i, c)
	return c
}

func (h *Hamming) codeInto(i int, dst []uint64) {
	s := int(h.slots[i])
	block := h.blocks[s/Lanes*Lanes*h.words:]
	for w := range dst {
		dst[w] = block[w*Lanes+s%Lanes]
	}
}

// distance returns the distance from q to code i.
func (h *Hamming) distance(q []uint64, i int) int {
	s := int(h.slots[i])
	block := h.blocks[s/Lanes*Lanes*h.words:]
	d := 0
	for w, qw := range q {
		d += bits.OnesCount64(block[w*Lanes+s%Lanes] ^ qw)
	}
	return d
}

// Distances writes the distance from q to every indexed code into dst,
// which must have Len() elements.
func (h *Hamming) Distances(q []uint64, dst []uint16) {
	for b := 0; b*Lanes < h.used; b++ {
		block := h.blocks[b*Lanes*h.words : (b+1)*Lanes*h.words]
		for lane, id := range h.ids[b*Lanes : (b+1)*Lanes] {
			if id == noID {
				continue
			}
			d := 0
			for w, qw := range q {
				d += bits.OnesCount64(block[w*Lanes+lane] ^ qw)
			}
			dst[id] = uint16(d)
		}
	}
}

func (h *Hamming) check(q []uint64) error {
	if len(q) != h.words {
		return fmt.Errorf("index: query has %d words, index codes have %d", len(q), h.words)
	}
	return nil
}

// Search returns the k nearest codes to q.
func (h *Hamming) Search(q []uint64, k int) ([]Result, error) {
	if k < 1 {
		return nil, fmt.Errorf("index: k = %d, must be at least 1", k)
	}
	if err := h.check(q); err != nil {
		return nil, err
	}
	c := newCollector(k, h.bits, h.bits)
	h.searchOne(q, c)
	return c.results(), nil
}

// Radius returns every code within Hamming distance r of q.
func (h *Hamming) Radius(q []uint64, r int) ([]Result, error) {
	if r < 0 {
		return nil, fmt.Errorf("index: radius %d is negative", r)
	}
	if err := h.check(q); err != nil {
		return nil, err
	}
	c := newCollector(h.n+1, min(r, h.bits), h.bits)
	h.searchOne(q, c)
	return c.results(), nil
}

// searchOne scans the clusters nearest first, so that the threshold is
// tight by the time the far ones are reached, then the tail. It returns
// the number of blocks scanned.
func (h *Hamming) searchOne(q []uint64, c *collector) int {
	dq := make([]uint16, len(h.clusters))
	h.centreDistances(q, dq)
	qs, cs := [][]uint64{q}, []*collector{c}
	scanned := h.numBlocks() - h.tail/Lanes
	for _, ci := range byDistance(dq, h.bits) {
		d := int(dq[ci])
		if s0, s1 := h.clusters[ci].run(d-c.t, d+c.t); s0 < s1 {
			b0, b1 := s0/Lanes, (s1+Lanes-1)/Lanes
			groupScanner(h, qs, cs, b0, b1)
			scanned += b1 - b0
		}
	}
	h.scanChunks(qs, cs, h.tail/Lanes, h.numBlocks())
	return scanned
}

// blocksWithin returns the number of blocks a scan for q must read when
// its threshold is t from the start: the runs of the clusters within t of
// q by the triangle inequality, and the tail. A k-NN scan reads a few
// more, its threshold tightening to the k-th distance as it goes.
func (h *Hamming) blocksWithin(q []uint64, t int) int {
	dq := make([]uint16, len(h.clusters))
	h.centreDistances(q, dq)
	blocks := h.numBlocks() - h.tail/Lanes
	for ci, d := range dq {
		if s0, s1 := h.clusters[ci].run(int(d)-t, int(d)+t); s0 < s1 {
			blocks += (s1+Lanes-1)/Lanes - s0/Lanes
		}
	}
	return blocks
}

// centreDistances writes the distance from q to every cluster centre.
func (h *Hamming) centreDistances(q []uint64, dst []uint16) {
	for ci := range h.clusters {
		d := 0
		for w, cw := range h.clusters[ci].centre {
			d += bits.OnesCount64(cw ^ q[w])
		}
		dst[ci] = uint16(d)
	}
}

// byDistance returns the indices of d sorted by value, then index; no
// value exceeds top.
func byDistance(d []uint16, top int) []int {
	start := make([]int, top+2)
	for _, v := range d {
		start[v+1]++
	}
	for i := 1; i < len(start); i++ {
		start[i] += start[i-1]
	}
	out := make([]int, len(d))
	for i, v := range d {
		out[start[v]] = i
		start[v]++
	}
	return out
}

func (h *Hamming) numBlocks() int { return len(h.ids) / Lanes }

// QueryBlock is how many queries one worker of SearchBatch carries through
// the database together: each cluster's run, or chunk of the tail, is read
// from memory once per QueryBlock queries and from cache otherwise.
const QueryBlock = 32

// chunkBytes sizes the chunk of the tail scanned by a whole query block
// before moving on: well inside one core's L2 (2 MiB on the Xeons this was
// tuned on), so that only the first query of a block pays for reading it
// from memory or L3.
const chunkBytes = 256 << 10

// SearchBatch searches every code of queries with all cores.
//
// Queries are sorted by nearest centre, so that the queries a worker
// carries together need the same clusters. A worker first runs each group
// of 4 queries over the clusters nearest to them, which makes their
// thresholds tight, then runs every group over every other cluster,
// cluster by cluster, so that a cluster's run is read once from memory for
// all of the worker's queries.
func (h *Hamming) SearchBatch(queries *codes.Set, k int) ([][]Result, error) {
	if queries.Bits != h.bits {
		return nil, fmt.Errorf("index: queries have %d bits, index %d", queries.Bits, h.bits)
	}
	if k < 1 {
		return nil, fmt.Errorf("index: k = %d, must be at least 1", k)
	}
	p := h.prepare(queries)
	out := make([][]Result, queries.Len())
	h.searchPrepared(queries, k, p, p.order, out)
	return out, nil
}

// prepared is what a batch's search needs from its queries first: each
// one's distances to the cluster centres (nc a row) and the queries'
// positions sorted by nearest centre.
type prepared struct {
	dq    []uint16
	nc    int
	order []int
}

func (h *Hamming) prepare(queries *codes.Set) prepared {
	nq, nc := queries.Len(), len(h.clusters)
	p := prepared{dq: make([]uint16, nq*nc), nc: nc}
	nearest := make([]uint16, nq)
	for i := range nq {
		row := p.dq[i*nc : (i+1)*nc]
		h.centreDistances(queries.At(i), row)
		if nc > 0 {
			nearest[i] = uint16(argmin(row))
		}
	}
	p.order = byDistance(nearest, max(nc, 1))
	return p
}

// searchPrepared answers the queries at positions idx, a subsequence of
// p.order, into out. Workers carry QueryBlock queries each, fewer when
// that would leave a core idle: a small batch still uses them all.
func (h *Hamming) searchPrepared(queries *codes.Set, k int, p prepared, idx []int, out [][]Result) {
	n, nc := len(idx), p.nc
	block := QueryBlock
	if workers := runtime.GOMAXPROCS(0); n < block*workers {
		perWorker := (n + workers - 1) / workers
		block = max(groupSize, (perWorker+groupSize-1)/groupSize*groupSize)
	}
	parallel((n+block-1)/block, func(b int) {
		part := idx[b*block : min((b+1)*block, n)]
		qs := make([][]uint64, len(part))
		cs := make([]*collector, len(part))
		rows := make([][]uint16, len(part))
		for i, qi := range part {
			qs[i] = queries.At(qi)
			cs[i] = newCollector(k, h.bits, h.bits)
			rows[i] = p.dq[qi*nc : (qi+1)*nc]
		}
		h.searchGroups(qs, cs, rows)
		for i, c := range cs {
			out[part[i]] = c.results()
		}
	})
}

func argmin(d []uint16) int {
	best := 0
	for i, v := range d {
		if v < d[best] {
			best = i
		}
	}
	return best
}

// groupSize is how many queries share each load of a block in the
// kernels.
const groupSize = 4

// searchGroups runs the queries over the clusters nearest to them, then
// over the others cluster by cluster (so that a cluster is read from
// memory once for all of them), then over the tail; rows[i] holds
// query i's distances to the centres. Within a group of groupSize
// queries, those that need the same cluster scan it together.
func (h *Hamming) searchGroups(qs [][]uint64, cs []*collector, rows [][]uint16) {
	nc := len(h.clusters)
	if nc > 0 {
		done := make([]bool, len(qs)*nc)
		nearest := make([]int, len(qs))
		for i, row := range rows {
			nearest[i] = argmin(row)
		}
		sc := clusterScan{h: h, qs: qs, cs: cs, rows: rows}
		sel := make([]int, 0, groupSize)
		for g := 0; g < len(qs); g += groupSize {
			group := g + min(groupSize, len(qs)-g)
			for i := g; i < group; i++ {
				ci := nearest[i]
				sel = sel[:0]
				for j := i; j < group; j++ {
					if nearest[j] == ci && !done[j*nc+ci] {
						sel = append(sel, j)
						done[j*nc+ci] = true
					}
				}
				sc.scan(ci, sel)
			}
		}
		// The other clusters, nearest to the queries on average first, so
		// that thresholds keep tightening before the far clusters.
		sum := make([]int, nc)
		for _, row := range rows {
			for ci, d := range row {
				sum[ci] += int(d)
			}
		}
		order := make([]int, nc)
		for ci := range order {
			order[ci] = ci
		}
		slices.SortStableFunc(order, func(a, b int) int { return sum[a] - sum[b] })
		for _, ci := range order {
			for g := 0; g < len(qs); g += groupSize {
				sel = sel[:0]
				for j := g; j < min(g+groupSize, len(qs)); j++ {
					if !done[j*nc+ci] {
						sel = append(sel, j)
					}
				}
				sc.scan(ci, sel)
			}
		}
	}
	h.scanChunks(qs, cs, h.tail/Lanes, h.numBlocks())
}

// clusterScan runs selected queries over one cluster.
type clusterScan struct {
	h    *Hamming
	qs   [][]uint64
	cs   []*collector
	rows [][]uint16
	gq   [][]uint64
	gc   []*collector
}

// scan runs the queries sel over their runs of cluster ci: all of them
// over the union of the runs (a code outside a query's own run is merely
// rejected by its threshold), unless the runs overlap too little for the
// shared loads to pay, in which case each query scans its own.
func (sc *clusterScan) scan(ci int, sel []int) {
	if len(sel) == 0 {
		return
	}
	h, cl := sc.h, &sc.h.clusters[ci]
	from, to, own := math.MaxInt, math.MinInt, 0
	for _, i := range sel {
		d, t := int(sc.rows[i][ci]), sc.cs[i].t
		from, to = min(from, d-t), max(to, d+t)
		s0, s1 := cl.run(d-t, d+t)
		own += s1 - s0
	}
	s0, s1 := cl.run(from, to)
	if s0 == s1 {
		return
	}
	if (s1-s0)*len(sel) <= 2*own {
		sc.gq, sc.gc = sc.gq[:0], sc.gc[:0]
		for _, i := range sel {
			sc.gq, sc.gc = append(sc.gq, sc.qs[i]), append(sc.gc, sc.cs[i])
		}
		groupScanner(h, sc.gq, sc.gc, s0/Lanes, (s1+Lanes-1)/Lanes)
		return
	}
	for _, i := range sel {
		d, t := int(sc.rows[i][ci]), sc.cs[i].t
		if s0, s1 := cl.run(d-t, d+t); s0 < s1 {
			groupScanner(h, sc.qs[i:i+1], sc.cs[i:i+1], s0/Lanes, (s1+Lanes-1)/Lanes)
		}
	}
}

// scanChunks runs the queries over blocks [b0, b1) chunk by chunk.
func (h *Hamming) scanChunks(qs [][]uint64, cs []*collector, b0, b1 int) {
	step := max(1, chunkBytes/(8*Lanes*h.words))
	for c0 := b0; c0 < b1; c0 += step {
		groupScanner(h, qs, cs, c0, min(c0+step, b1))
	}
}

// groupScanner is the scan kernel: it feeds collector cs[i] every code of
// blocks [b0, b1) within its threshold for query qs[i]. scanGroupSIMD
// where the CPU and the build allow it (scan_simd.go), scanGroupGeneric
// elsewhere.
var groupScanner = scanGroupGeneric

func scanGroupGeneric(h *Hamming, qs [][]uint64, cs []*collector, b0, b1 int) {
	for i, q := range qs {
		if h.words == 1 {
			scanGeneric1(h, q[0], b0, b1, cs[i])
		} else {
			scanGeneric(h, q, b0, b1, cs[i])
		}
	}
}

func scanGeneric(h *Hamming, q []uint64, b0, b1 int, c *collector) {
	w := h.words
	for b := b0; b < b1; b++ {
		block := h.blocks[b*Lanes*w : (b+1)*Lanes*w]
		for lane, id := range h.ids[b*Lanes : (b+1)*Lanes] {
			d := 0
			for j, qw := range q {
				d += bits.OnesCount64(block[j*Lanes+lane] ^ qw)
			}
			if d <= c.t && id != noID {
				c.add(int(id), d)
			}
		}
	}
}

// scanGeneric1 is scanGeneric for one-word codes, where the loop over
// words would cost more than the popcount.
func scanGeneric1(h *Hamming, q uint64, b0, b1 int, c *collector) {
	ids := h.ids[b0*Lanes : b1*Lanes]
	for i, x := range h.blocks[b0*Lanes : b1*Lanes] {
		if d := bits.OnesCount64(x ^ q); d <= c.t && ids[i] != noID {
			c.add(int(ids[i]), d)
		}
	}
}

// hits adds to c the lanes of block b set in mask whose distance to q is
// within c's threshold. The SIMD kernels call it only for the rare blocks
// with a lane under the threshold, so it recomputes those distances
// instead of making the hot loop store them.
func (h *Hamming) hits(q []uint64, c *collector, b int, mask uint8) {
	w := h.words
	block := h.blocks[b*Lanes*w : (b+1)*Lanes*w]
	ids := h.ids[b*Lanes : (b+1)*Lanes]
	for ; mask != 0; mask &= mask - 1 {
		lane := bits.TrailingZeros8(mask)
		if ids[lane] == noID {
			continue
		}
		d := 0
		for j, qw := range q {
			d += bits.OnesCount64(block[j*Lanes+lane] ^ qw)
		}
		if d <= c.t {
			c.add(int(ids[lane]), d)
		}
	}
}

// parallel runs fn(0..n-1) on all cores.
func parallel(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	var wg sync.WaitGroup
	next := make(chan int, n)
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	wg.Wait()
}

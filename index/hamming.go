// Package index searches binary codes by Hamming distance.
package index

import (
	"fmt"
	"math/bits"
	"runtime"
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

// Hamming is an exact, flat Hamming index. Results are ordered by distance,
// ties broken by database position, lowest first, so every search is
// deterministic.
//
// Codes are stored in blocks of Lanes codes, word-major inside a block
// (word 0 of the 8 codes, then word 1, ...), so that one vector load brings
// the same word of 8 codes and one vector popcount measures 8 distances.
// The index holds only this layout: its memory is the code bytes rounded up
// to a multiple of 8 codes.
type Hamming struct {
	bits, words, n int
	blocks         []uint64
}

// NewHamming indexes a copy of the codes.
func NewHamming(s *codes.Set) *Hamming {
	h := &Hamming{bits: s.Bits, words: s.Words()}
	h.blocks = make([]uint64, 0, (s.Len()+Lanes-1)/Lanes*Lanes*h.words)
	h.Add(s)
	return h
}

// Add appends the codes of s, which must have the index's length.
func (h *Hamming) Add(s *codes.Set) {
	if s.Bits != h.bits {
		panic(fmt.Sprintf("index: adding %d-bit codes to a %d-bit index", s.Bits, h.bits))
	}
	for i := 0; i < s.Len(); i++ {
		if h.n%Lanes == 0 {
			h.blocks = append(h.blocks, make([]uint64, Lanes*h.words)...)
		}
		block := h.blocks[len(h.blocks)-Lanes*h.words:]
		lane := h.n % Lanes
		for w, word := range s.At(i) {
			block[w*Lanes+lane] = word
		}
		h.n++
	}
}

// Len returns the number of indexed codes.
func (h *Hamming) Len() int { return h.n }

// Bits returns the code length.
func (h *Hamming) Bits() int { return h.bits }

// Bytes returns the memory the codes occupy.
func (h *Hamming) Bytes() int { return 8 * len(h.blocks) }

// Code returns a copy of code i.
func (h *Hamming) Code(i int) []uint64 {
	c := make([]uint64, h.words)
	block := h.blocks[i/Lanes*Lanes*h.words:]
	for w := range c {
		c[w] = block[w*Lanes+i%Lanes]
	}
	return c
}

// Distances writes the distance from q to every indexed code into dst,
// which must have Len() elements.
func (h *Hamming) Distances(q []uint64, dst []uint16) {
	for b := 0; b*Lanes < h.n; b++ {
		block := h.blocks[b*Lanes*h.words : (b+1)*Lanes*h.words]
		for lane := 0; lane < Lanes && b*Lanes+lane < h.n; lane++ {
			d := 0
			for w, qw := range q {
				d += bits.OnesCount64(block[w*Lanes+lane] ^ qw)
			}
			dst[b*Lanes+lane] = uint16(d)
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
	h.scan(q, 0, h.numBlocks(), c)
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
	h.scan(q, 0, h.numBlocks(), c)
	return c.results(), nil
}

func (h *Hamming) numBlocks() int { return (h.n + Lanes - 1) / Lanes }

// Batching: each worker takes QueryBlock queries at a time and runs them
// all over one chunk of ChunkBlocks blocks before the next, so the chunk is
// read from memory once per QueryBlock queries and from cache otherwise.
const (
	QueryBlock  = 32
	ChunkBlocks = 2048 // 16,384 codes: 128 KiB of 64-bit codes
)

// SearchBatch searches every code of queries with all cores.
func (h *Hamming) SearchBatch(queries *codes.Set, k int) ([][]Result, error) {
	if queries.Bits != h.bits {
		return nil, fmt.Errorf("index: queries have %d bits, index %d", queries.Bits, h.bits)
	}
	if k < 1 {
		return nil, fmt.Errorf("index: k = %d, must be at least 1", k)
	}
	out := make([][]Result, queries.Len())
	nq := queries.Len()
	parallel((nq+QueryBlock-1)/QueryBlock, func(qb int) {
		lo, hi := qb*QueryBlock, min((qb+1)*QueryBlock, nq)
		cs := make([]*collector, hi-lo)
		for i := range cs {
			cs[i] = newCollector(k, h.bits, h.bits)
		}
		nb := h.numBlocks()
		for c0 := 0; c0 < nb; c0 += ChunkBlocks {
			c1 := min(c0+ChunkBlocks, nb)
			for i, c := range cs {
				h.scan(queries.At(lo+i), c0, c1, c)
			}
		}
		for i, c := range cs {
			out[lo+i] = c.results()
		}
	})
	return out, nil
}

// scan feeds the collector every code of blocks [b0, b1) within its
// current threshold.
func (h *Hamming) scan(q []uint64, b0, b1 int, c *collector) { scanner(h, q, b0, b1, c) }

// scanner is the scan kernel: scanSIMD where the CPU and the build allow
// it (scan_simd.go), scanGeneric elsewhere.
var scanner = scanGeneric

func scanGeneric(h *Hamming, q []uint64, b0, b1 int, c *collector) {
	w := h.words
	for b := b0; b < b1; b++ {
		block := h.blocks[b*Lanes*w : (b+1)*Lanes*w]
		for lane := 0; lane < Lanes; lane++ {
			d := 0
			for j, qw := range q {
				d += bits.OnesCount64(block[j*Lanes+lane] ^ qw)
			}
			if d <= c.t {
				if id := b*Lanes + lane; id < h.n {
					c.add(id, d)
					if c.t < 0 {
						return
					}
				}
			}
		}
	}
}

// collector keeps the k smallest (distance, id) pairs seen, fed in
// increasing id order. Once it holds k candidates, limit is the k-th
// smallest distance: candidates beyond it are dropped, and a new code is
// accepted only below it (at the limit it would lose the tie to an earlier
// id), so that most codes are rejected by one comparison with t.
type collector struct {
	k int
	// t is the acceptance threshold (accept d <= t); -1 accepts nothing.
	t int
	// limit bounds the distances retained.
	limit int
	// count[d] is the number of retained candidates at distance d.
	count []int
	kept  int
	buf   []Result
}

func newCollector(k, t, nbits int) *collector {
	return &collector{k: k, t: t, limit: t, count: make([]int, nbits+1)}
}

func (c *collector) add(id, d int) {
	c.buf = append(c.buf, Result{ID: id, Distance: d})
	c.count[d]++
	c.kept++
	if c.kept < c.k {
		return
	}
	for c.kept-c.count[c.limit] >= c.k {
		c.kept -= c.count[c.limit]
		c.count[c.limit] = 0
		c.limit--
	}
	c.t = c.limit - 1
	if len(c.buf) > 4*c.k+64 {
		c.compact()
	}
}

// compact drops the candidates beyond the limit.
func (c *collector) compact() {
	kept := c.buf[:0]
	for _, r := range c.buf {
		if r.Distance <= c.limit {
			kept = append(kept, r)
		}
	}
	c.buf = kept
}

// results returns the first k candidates by (distance, id): a counting sort
// by distance, stable because candidates arrive in id order.
func (c *collector) results() []Result {
	c.compact()
	start := make([]int, c.limit+2)
	for _, r := range c.buf {
		start[r.Distance+1]++
	}
	for d := 1; d <= c.limit+1; d++ {
		start[d] += start[d-1]
	}
	sorted := make([]Result, len(c.buf))
	for _, r := range c.buf {
		sorted[start[r.Distance]] = r
		start[r.Distance]++
	}
	return sorted[:min(c.k, len(sorted))]
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

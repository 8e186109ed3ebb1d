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

// Hamming is an exact, flat Hamming index over packed codes. Results are
// ordered by distance, ties broken by database position, lowest first, so
// every search is deterministic.
type Hamming struct {
	codes *codes.Set
}

// NewHamming indexes the codes (sharing their storage).
func NewHamming(s *codes.Set) *Hamming { return &Hamming{codes: s} }

// Len returns the number of indexed codes.
func (h *Hamming) Len() int { return h.codes.Len() }

// Bits returns the code length.
func (h *Hamming) Bits() int { return h.codes.Bits }

// Distances writes the distance from q to every indexed code into dst,
// which must have Len() elements.
func (h *Hamming) Distances(q []uint64, dst []uint16) {
	data := h.codes.Data
	switch len(q) {
	case 1:
		q0 := q[0]
		for i, c := range data {
			dst[i] = uint16(bits.OnesCount64(c ^ q0))
		}
	default:
		w := len(q)
		for i := range dst {
			c := data[i*w : i*w+w]
			d := 0
			for j, qw := range q {
				d += bits.OnesCount64(c[j] ^ qw)
			}
			dst[i] = uint16(d)
		}
	}
}

func (h *Hamming) check(q []uint64) error {
	if len(q) != h.codes.Words() {
		return fmt.Errorf("index: query has %d words, index codes have %d", len(q), h.codes.Words())
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
	dist := make([]uint16, h.Len())
	h.Distances(q, dist)
	return topK(dist, h.codes.Bits, k), nil
}

// Radius returns every code within Hamming distance r of q.
func (h *Hamming) Radius(q []uint64, r int) ([]Result, error) {
	if r < 0 {
		return nil, fmt.Errorf("index: radius %d is negative", r)
	}
	if err := h.check(q); err != nil {
		return nil, err
	}
	dist := make([]uint16, h.Len())
	h.Distances(q, dist)
	n := 0
	for _, d := range dist {
		if int(d) <= r {
			n++
		}
	}
	return topK(dist, h.codes.Bits, n), nil
}

// SearchBatch searches every code of queries, spreading queries over the
// cores.
func (h *Hamming) SearchBatch(queries *codes.Set, k int) ([][]Result, error) {
	if queries.Bits != h.codes.Bits {
		return nil, fmt.Errorf("index: queries have %d bits, index %d", queries.Bits, h.codes.Bits)
	}
	out := make([][]Result, queries.Len())
	errs := make([]error, queries.Len())
	parallel(queries.Len(), func(i int) { out[i], errs[i] = h.Search(queries.At(i), k) })
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// topK returns the k smallest distances with their positions, by
// (distance, position), with a counting sort over the bits+1 distances.
func topK(dist []uint16, nbits, k int) []Result {
	k = min(k, len(dist))
	if k == 0 {
		return []Result{}
	}
	count := make([]int, nbits+2)
	for _, d := range dist {
		count[d]++
	}
	// Keep whole distances below the cut and the first `quota` positions at it.
	cut, taken := 0, 0
	for ; cut <= nbits; cut++ {
		if taken+count[cut] >= k {
			break
		}
		taken += count[cut]
	}
	quota := k - taken
	start := make([]int, cut+2)
	for d := 1; d <= cut+1; d++ {
		start[d] = start[d-1] + count[d-1]
	}
	out := make([]Result, k)
	for i, d := range dist {
		di := int(d)
		switch {
		case di < cut:
		case di == cut && quota > 0:
			quota--
		default:
			continue
		}
		out[start[di]] = Result{ID: i, Distance: di}
		start[di]++
	}
	return out
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

package index

import "slices"

// collector keeps the k best (distance, position) pairs it is fed, in any
// order. Below the limit it keeps every candidate; at the limit it keeps
// the lowest positions, as a max-heap once it holds k in all, so that a
// later tie replaces the highest position kept or is dropped at once.
// When a candidate below the limit pushes the last tie out, the limit
// drops to the farthest distance held.
type collector struct {
	k int
	// t is the acceptance threshold the kernels compare with: d <= t.
	t int
	// limit bounds the distances retained.
	limit int
	// below holds the candidates under the limit, in arrival order.
	below []candidate
	// ties holds the positions at the limit: a max-heap once full.
	ties []int32
	full bool
}

type candidate struct{ id, d int32 }

func newCollector(k, t, nbits int) *collector {
	size := min(k, 1024) // a radius collector's k is the index size
	return &collector{k: k, t: t, limit: t, below: make([]candidate, 0, size), ties: make([]int32, 0, size)}
}

func (c *collector) add(id, d int) {
	switch {
	case d > c.limit:
		return
	case d == c.limit:
		if !c.full {
			c.ties = append(c.ties, int32(id))
			c.fill()
		} else if int32(id) < c.ties[0] {
			c.ties[0] = int32(id)
			siftDown(c.ties, 0)
		}
		return
	}
	c.below = append(c.below, candidate{int32(id), int32(d)})
	if !c.full {
		c.fill()
		return
	}
	// One more below the limit: the highest tie goes, and with the last
	// tie the limit drops to the farthest distance held.
	last := len(c.ties) - 1
	c.ties[0] = c.ties[last]
	c.ties = c.ties[:last]
	siftDown(c.ties, 0)
	if len(c.ties) == 0 {
		c.lower()
	}
}

// fill marks the collector full once it holds k candidates.
func (c *collector) fill() {
	if len(c.below)+len(c.ties) < c.k {
		return
	}
	c.full = true
	if len(c.ties) == 0 {
		c.lower()
	}
	for i := len(c.ties)/2 - 1; i >= 0; i-- {
		siftDown(c.ties, i)
	}
	c.t = c.limit
}

// lower makes the farthest distance below the limit the new limit, its
// candidates the ties.
func (c *collector) lower() {
	c.limit = 0
	for _, x := range c.below {
		c.limit = max(c.limit, int(x.d))
	}
	kept := c.below[:0]
	for _, x := range c.below {
		if int(x.d) == c.limit {
			c.ties = append(c.ties, x.id)
		} else {
			kept = append(kept, x)
		}
	}
	c.below = kept
	for i := len(c.ties)/2 - 1; i >= 0; i-- {
		siftDown(c.ties, i)
	}
	c.t = c.limit
}

// siftDown restores the max-heap property of h below i.
func siftDown(h []int32, i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		if r := l + 1; r < len(h) && h[r] > h[l] {
			l = r
		}
		if h[i] >= h[l] {
			return
		}
		h[i], h[l] = h[l], h[i]
		i = l
	}
}

// results returns the first k candidates by (distance, position): a
// counting sort by distance, then a sort by position where candidates of
// one distance did not arrive in order.
func (c *collector) results() []Result {
	start := make([]int, c.limit+2)
	for _, x := range c.below {
		start[x.d+1]++
	}
	for d := 1; d <= c.limit+1; d++ {
		start[d] += start[d-1]
	}
	out := make([]Result, len(c.below), len(c.below)+len(c.ties))
	for _, x := range c.below {
		out[start[x.d]] = Result{ID: int(x.id), Distance: int(x.d)}
		start[x.d]++
	}
	from := 0
	for d := 0; d < c.limit && from < c.k; d++ {
		if group := out[from:start[d]]; !slices.IsSortedFunc(group, byID) {
			slices.SortFunc(group, byID)
		}
		from = start[d]
	}
	slices.Sort(c.ties)
	for _, id := range c.ties {
		out = append(out, Result{ID: int(id), Distance: c.limit})
	}
	return out[:min(c.k, len(out))]
}

func byID(a, b Result) int { return a.ID - b.ID }

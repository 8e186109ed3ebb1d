package index

import (
	"fmt"
	"math"
	"math/bits"
	"slices"

	"github.com/lookalike/lookalike/codes"
)

// MIH is an exact Hamming index by multi-index hashing: Norouzi, Punjani
// and Fleet, "Fast Search in Hamming Space with Multi-Index Hashing", CVPR
// 2012, and TPAMI 36(6), 2014.
//
// Each code is cut into m disjoint substrings (the first bits%m of them one
// bit longer than the rest), and table z indexes every code by its z-th
// substring. Two codes at distance d differ by at most d/m bits in at least
// one substring (pigeonhole), so the codes near a query are found by
// looking up, in each table, the keys near the query's substring: the
// "substring ball". The k-NN search grows these balls one table at a time
// and stops as soon as the k-th best full distance is proven (see Search).
//
// It answers exactly what Hamming answers, in the same order (distance,
// then database position). It pays off when the balls stay small: a k-th
// distance of a few bits, as for near-duplicates, among codes spread
// evenly over the key space. On clustered codes the buckets near a query
// hold a large part of its cluster and Hamming's scan wins; Engine picks
// between the two.
//
// The tables are static compressed-row arrays rather than Go maps: per
// table, ids sorted by key, the low 16 bits (at most) of each entry's key,
// and a directory giving where each value of the remaining high bits
// starts. That is about 7 bytes per code per table where a map of slices
// costs several times more. Codes are read from the Hamming index the
// tables were built from; codes added to it later are not in the tables.
type MIH struct {
	flat   *Hamming
	n      int
	tables []mihTable
}

// mihTable indexes the codes by the substring of bits [lo, lo+width).
type mihTable struct {
	lo, width int
	// lowBits is how many low bits of a key are stored per entry in low;
	// the key's remaining high bits index dir.
	lowBits int
	// dir[h]..dir[h+1] are the entries whose key's high bits are h.
	dir []uint32
	// low and ids are the entries sorted by key, then by id.
	low []uint16
	ids []uint32
}

// maxSubstringBits bounds a substring so that keys fit a uint32.
const maxSubstringBits = 32

// SubstringCount returns the number of substrings m for codes of nbits bits
// over n codes: the paper's m = nbits / log2(n), rounded, so that each
// substring has about log2(n) bits and a bucket holds about one code when
// codes are spread evenly. Longer substrings leave most keys of a ball
// empty; shorter ones fill each bucket with many codes that all have to be
// checked. m is at least ceil(nbits/32), so that keys fit 32 bits, and at
// most nbits.
func SubstringCount(nbits, n int) int {
	least := max(1, (nbits+maxSubstringBits-1)/maxSubstringBits)
	if n < 2 {
		return least
	}
	m := int(math.Round(float64(nbits) / math.Log2(float64(n))))
	return min(max(m, least), nbits)
}

// NewMIH indexes the codes of h with m substrings; m <= 0 picks
// SubstringCount(h.Bits(), h.Len()).
func NewMIH(h *Hamming, m int) (*MIH, error) {
	if m <= 0 {
		m = SubstringCount(h.bits, h.n)
	}
	if m > h.bits || (h.bits+m-1)/m > maxSubstringBits {
		return nil, fmt.Errorf("index: %d substrings of %d-bit codes: need between %d and %d",
			m, h.bits, (h.bits+maxSubstringBits-1)/maxSubstringBits, h.bits)
	}
	x := &MIH{flat: h, n: h.n, tables: make([]mihTable, m)}
	lo, width := substrings(h.bits, m)
	// All tables are built at once so that each code is read once.
	keys := make([][]uint32, m)
	for z := range x.tables {
		x.tables[z] = mihTable{lo: lo[z], width: width[z]}
		keys[z] = make([]uint32, h.n)
	}
	code := make([]uint64, h.words)
	for id := 0; id < h.n; id++ {
		h.codeInto(id, code)
		for z := range x.tables {
			keys[z][id] = substring(code, x.tables[z].lo, x.tables[z].width)
		}
	}
	for z := range x.tables {
		x.tables[z].build(keys[z])
		keys[z] = nil
	}
	return x, nil
}

// substrings returns where each of the m substrings of nbits-bit codes
// starts and its width: the first nbits%m one bit longer than the rest.
func substrings(nbits, m int) (lo, width []int) {
	lo, width = make([]int, m), make([]int, m)
	short, long := nbits/m, nbits%m
	for z, at := 0, 0; z < m; z++ {
		width[z] = short
		if z < long {
			width[z]++
		}
		lo[z] = at
		at += width[z]
	}
	return lo, width
}

// build sorts the ids by key with two stable counting sorts (low bits,
// then high bits), which leaves equal keys in id order.
func (t *mihTable) build(keys []uint32) {
	n := len(keys)
	// A directory of about n/4 entries keeps buckets short to search
	// while costing about one byte per code.
	dirBits := 0
	if n >= 8 {
		dirBits = bits.Len(uint(n)) - 3
	}
	dirBits = min(max(dirBits, t.width-16), t.width)
	t.lowBits = t.width - dirBits
	lowMask := uint32(1)<<t.lowBits - 1

	byLow := make([]uint32, n)
	count := make([]uint32, (1<<t.lowBits)+1)
	for _, k := range keys {
		count[k&lowMask+1]++
	}
	for i := 1; i < len(count); i++ {
		count[i] += count[i-1]
	}
	for id, k := range keys {
		byLow[count[k&lowMask]] = uint32(id)
		count[k&lowMask]++
	}
	t.dir = make([]uint32, (1<<dirBits)+1)
	for _, k := range keys {
		t.dir[k>>t.lowBits+1]++
	}
	for i := 1; i < len(t.dir); i++ {
		t.dir[i] += t.dir[i-1]
	}
	next := slices.Clone(t.dir)
	t.ids = make([]uint32, n)
	for _, id := range byLow {
		hi := keys[id] >> t.lowBits
		t.ids[next[hi]] = id
		next[hi]++
	}
	if t.lowBits > 0 {
		t.low = make([]uint16, n)
		for i, id := range t.ids {
			t.low[i] = uint16(keys[id] & lowMask)
		}
	}
}

// bucket returns the ids of the codes whose substring is key, in id order.
func (t *mihTable) bucket(key uint32) []uint32 {
	hi := key >> t.lowBits
	start, end := t.dir[hi], t.dir[hi+1]
	if t.lowBits == 0 || start == end {
		return t.ids[start:end]
	}
	low := t.low[start:end]
	want := uint16(key & (1<<t.lowBits - 1))
	i, _ := slices.BinarySearch(low, want)
	j := i
	for j < len(low) && low[j] == want {
		j++
	}
	return t.ids[int(start)+i : int(start)+j]
}

// substring returns bits [lo, lo+width) of code, width <= 32.
func substring(code []uint64, lo, width int) uint32 {
	w, s := lo/64, lo%64
	v := code[w] >> s
	if s+width > 64 {
		v |= code[w+1] << (64 - s)
	}
	return uint32(v & (1<<width - 1))
}

// Len returns the number of indexed codes.
func (x *MIH) Len() int { return x.n }

// Substrings returns m, the number of substrings and tables.
func (x *MIH) Substrings() int { return len(x.tables) }

// Bytes returns the memory of the tables, not counting the codes of the
// Hamming index they point into.
func (x *MIH) Bytes() int {
	b := 0
	for _, t := range x.tables {
		b += 4*len(t.dir) + 2*len(t.low) + 4*len(t.ids)
	}
	return b
}

// Search returns the k nearest codes to q, as Hamming.Search.
//
// It probes the substring balls in the paper's order: radius 0 in tables
// 0..m-1, then radius 1 in tables 0..m-1, and so on. Once tables 0..a have
// been probed to radius r and the others to radius r-1, every code not yet
// seen differs from q by at least r+1 bits in each of the first a+1
// substrings and by at least r in each of the others, so by at least
// m*r + a + 1 bits in all: every code within m*r + a has been checked. The
// search stops as soon as the k-th best distance found is within that
// bound. Substrings of unequal length change nothing to the bound; once r
// exceeds a substring's length, its ball has covered every code.
func (x *MIH) Search(q []uint64, k int) ([]Result, error) {
	if k < 1 {
		return nil, fmt.Errorf("index: k = %d, must be at least 1", k)
	}
	if err := x.flat.check(q); err != nil {
		return nil, err
	}
	return x.search(q, k, x.newScratch()), nil
}

// Radius returns every code within distance r of q, as Hamming.Radius: by
// the bound above, probing tables 0..r%m to radius r/m and the others to
// radius r/m - 1 finds all of them.
func (x *MIH) Radius(q []uint64, r int) ([]Result, error) {
	if r < 0 {
		return nil, fmt.Errorf("index: radius %d is negative", r)
	}
	if err := x.flat.check(q); err != nil {
		return nil, err
	}
	return x.radius(q, min(r, x.flat.bits), x.newScratch()), nil
}

// SearchBatch searches every code of queries with all cores.
func (x *MIH) SearchBatch(queries *codes.Set, k int) ([][]Result, error) {
	if queries.Bits != x.flat.bits {
		return nil, fmt.Errorf("index: queries have %d bits, index %d", queries.Bits, x.flat.bits)
	}
	if k < 1 {
		return nil, fmt.Errorf("index: k = %d, must be at least 1", k)
	}
	nq := queries.Len()
	out := make([][]Result, nq)
	const group = 16 // queries sharing one scratch
	parallel((nq+group-1)/group, func(g int) {
		s := x.newScratch()
		for i := g * group; i < min((g+1)*group, nq); i++ {
			out[i] = x.search(queries.At(i), k, s)
		}
	})
	return out, nil
}

// mihScratch is one search's working memory, reused across queries.
type mihScratch struct {
	// seen marks the positions already checked; touched lists them, to
	// clear seen for the next query in time proportional to the work done.
	seen    []uint64
	touched []uint32
	// byDist[d] holds the candidates found at distance d <= limit. Unlike
	// the scan's collector, candidates arrive out of position order, so
	// ties at the limit are all kept and sorted at the end.
	byDist [][]uint32
	limit  int
	kept   int
	k      int
	// probes, walked and checks count the keys looked up, the codes of
	// the final sweep and the codes checked from buckets: what Engine's
	// estimate predicts (engine_test.go holds it to them).
	probes, walked, checks int
	qkeys                  []uint32
}

func (x *MIH) newScratch() *mihScratch {
	return &mihScratch{
		seen:   make([]uint64, (x.n+63)/64),
		byDist: make([][]uint32, x.flat.bits+1),
		qkeys:  make([]uint32, len(x.tables)),
	}
}

func (s *mihScratch) reset(k, limit int) {
	for _, id := range s.touched {
		s.seen[id/64] = 0
	}
	s.touched = s.touched[:0]
	for d := range s.byDist {
		s.byDist[d] = s.byDist[d][:0]
	}
	s.k, s.limit, s.kept = k, limit, 0
	s.probes, s.walked, s.checks = 0, 0, 0
}

// add keeps candidate id at distance d if it can still be among the k
// best, and lowers the limit to the k-th best distance once k are kept.
func (s *mihScratch) add(id uint32, d int) {
	if d > s.limit {
		return
	}
	s.byDist[d] = append(s.byDist[d], id)
	s.kept++
	for s.kept-len(s.byDist[s.limit]) >= s.k {
		s.kept -= len(s.byDist[s.limit])
		s.byDist[s.limit] = s.byDist[s.limit][:0]
		s.limit--
	}
}

// results returns the first k candidates by (distance, position).
func (s *mihScratch) results(k int) []Result {
	out := make([]Result, 0, min(k, s.kept))
	for d := 0; d <= s.limit && len(out) < k; d++ {
		ids := s.byDist[d]
		slices.Sort(ids)
		for _, id := range ids[:min(len(ids), k-len(out))] {
			out = append(out, Result{ID: int(id), Distance: d})
		}
	}
	return out
}

func (x *MIH) search(q []uint64, k int, s *mihScratch) []Result {
	s.reset(k, x.flat.bits)
	if x.n == 0 {
		return []Result{}
	}
	m := len(x.tables)
	for z, t := range x.tables {
		s.qkeys[z] = substring(q, t.lo, t.width)
	}
	for r := 0; ; r++ {
		for a := range x.tables {
			x.probe(a, r, q, s)
			if len(s.touched) == x.n || (s.kept >= k && s.limit <= m*r+a) {
				return s.results(k)
			}
		}
	}
}

func (x *MIH) radius(q []uint64, r int, s *mihScratch) []Result {
	s.reset(x.n+1, r)
	if x.n == 0 {
		return []Result{}
	}
	m := len(x.tables)
	for z, t := range x.tables {
		s.qkeys[z] = substring(q, t.lo, t.width)
	}
	for rr := 0; rr <= r/m; rr++ {
		for a := range x.tables {
			if rr == r/m && a > r%m {
				break
			}
			x.probe(a, rr, q, s)
			if len(s.touched) == x.n {
				return s.results(x.n)
			}
		}
	}
	return s.results(x.n)
}

// probe checks every unseen code whose substring z is at distance exactly
// r from the query's.
func (x *MIH) probe(z, r int, q []uint64, s *mihScratch) {
	t := &x.tables[z]
	if r > t.width {
		return
	}
	qkey := s.qkeys[z]
	// When the sphere has more keys than the index has codes, checking
	// every code left is cheaper than enumerating the sphere, and ends the
	// search.
	if binomial(t.width, r) > x.n {
		x.checkRest(q, s)
		return
	}
	if r == 0 {
		s.probes++
		x.check(t.bucket(qkey), q, s)
		return
	}
	// Gosper's hack: the width-bit masks with r bits set, in increasing
	// order.
	end := uint64(1) << t.width
	for mask := uint64(1)<<r - 1; mask < end; {
		s.probes++
		x.check(t.bucket(qkey^uint32(mask)), q, s)
		c := mask & -mask
		next := mask + c
		mask = ((next^mask)>>2)/c | next
	}
}

// checkRest computes the distance of every code not yet seen, in
// position order.
func (x *MIH) checkRest(q []uint64, s *mihScratch) {
	for id := range x.n {
		word, bit := id/64, uint64(1)<<(id%64)
		if s.seen[word]&bit != 0 {
			continue
		}
		s.seen[word] |= bit
		s.touched = append(s.touched, uint32(id))
		s.walked++
		s.add(uint32(id), x.flat.distance(q, id))
	}
}

// check computes the full distance of every unseen code of ids.
func (x *MIH) check(ids []uint32, q []uint64, s *mihScratch) {
	for _, id := range ids {
		word, bit := id/64, uint64(1)<<(id%64)
		if s.seen[word]&bit != 0 {
			continue
		}
		s.seen[word] |= bit
		s.touched = append(s.touched, id)
		s.checks++
		s.add(id, x.flat.distance(q, int(id)))
	}
}

// binomial returns C(n, r), saturated at math.MaxInt32.
func binomial(n, r int) int {
	if r < 0 || r > n {
		return 0
	}
	r = min(r, n-r)
	c := 1
	for i := 1; i <= r; i++ {
		c = c * (n - r + i) / i
		if c > math.MaxInt32 {
			return math.MaxInt32
		}
	}
	return c
}

//go:build goexperiment.simd && amd64

package index

import "simd/archsimd"

// The kernels below serve AVX-512 CPUs without VPOPCNTQ (Skylake-X and
// Cascade Lake Xeons, common in the cloud): they count bits by the
// nibble-table method of W. Mula, N. Kurz and D. Lemire ("Faster
// Population Counts Using AVX2 Instructions", The Computer Journal 61(1),
// 2018): each byte's two nibbles look up their counts in a 16-entry table
// with one VPSHUFB each, the byte counts of all of a code's words add up
// bytewise, and one VPSADBW sums each lane's 8 bytes into its distance.
// Against one scalar POPCNT per word (one per cycle, on one port), this
// measures 8 words in about four vector instructions per port.

// nibbleCounts is the number of set bits of 0..15, once per 128-bit
// group, as VPSHUFB looks up within groups.
var nibbleCounts = [64]uint8{
	0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
	0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
	0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
	0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
}

// lutWords is the longest code the kernels take: a byte of the summed
// counts holds at most 8 per word, so 31 words would fit; the query
// words are kept for 8.
const lutWords = 8

// counter holds the constants of the nibble-table popcount.
type counter struct {
	table, low archsimd.Uint8x64
}

func newCounter() counter {
	return counter{table: archsimd.LoadUint8x64(&nibbleCounts), low: archsimd.BroadcastUint8x64(0x0f)}
}

// bytes returns the number of set bits of every byte of x.
func (c counter) bytes(x archsimd.Uint64x8) archsimd.Uint8x64 {
	lo := x.AsUint8x64().And(c.low)
	hi := x.AsUint16x32().ShiftAllRight(4).AsUint8x64().And(c.low)
	return c.table.PermuteOrZeroGrouped(lo.AsInt8x64()).Add(c.table.PermuteOrZeroGrouped(hi.AsInt8x64()))
}

// lanes sums the byte counts of each 64-bit lane: the 8 distances.
func lanes(counts archsimd.Uint8x64) archsimd.Uint64x8 {
	var zero archsimd.Uint8x64
	return counts.SumAbsDiff(zero).AsUint64x8()
}

// scanGroupLUT runs the queries four at a time through a kernel for their
// code length (two words, the 128-bit codes, get their own), so that one
// load of a block serves four queries; the rest go one at a time.
func scanGroupLUT(h *Hamming, qs [][]uint64, cs []*collector, b0, b1 int) {
	if h.words > lutWords {
		scanGroupGeneric(h, qs, cs, b0, b1)
		return
	}
	x4, x1 := lutx4, lutx1
	if h.words == 2 {
		x4 = lut2x4
	}
	i := 0
	for ; i+4 <= len(qs); i += 4 {
		x4(h, qs[i:i+4], cs[i:i+4], b0, b1)
	}
	for ; i < len(qs); i++ {
		x1(h, qs[i], b0, b1, cs[i])
	}
}

func lutx1(h *Hamming, q []uint64, b0, b1 int, c *collector) {
	w := h.words
	var qv [lutWords]archsimd.Uint64x8
	for j := range q {
		qv[j] = archsimd.BroadcastUint64x8(q[j])
	}
	k := newCounter()
	t := bound(c)
	blocks := h.blocks
	for b := b0; b < b1; b++ {
		base := b * Lanes * w
		acc := k.bytes(archsimd.LoadUint64x8Slice(blocks[base:]).Xor(qv[0]))
		for j := 1; j < w; j++ {
			acc = acc.Add(k.bytes(archsimd.LoadUint64x8Slice(blocks[base+j*Lanes:]).Xor(qv[j])))
		}
		if m := lanes(acc).Less(t).ToBits(); m != 0 {
			h.hits(q, c, b, m)
			t = bound(c)
		}
	}
}

func lutx4(h *Hamming, qs [][]uint64, cs []*collector, b0, b1 int) {
	w := h.words
	var q0, q1, q2, q3 [lutWords]archsimd.Uint64x8
	for j := range w {
		q0[j] = archsimd.BroadcastUint64x8(qs[0][j])
		q1[j] = archsimd.BroadcastUint64x8(qs[1][j])
		q2[j] = archsimd.BroadcastUint64x8(qs[2][j])
		q3[j] = archsimd.BroadcastUint64x8(qs[3][j])
	}
	k := newCounter()
	t0, t1, t2, t3 := bound(cs[0]), bound(cs[1]), bound(cs[2]), bound(cs[3])
	blocks := h.blocks
	for b := b0; b < b1; b++ {
		base := b * Lanes * w
		x := archsimd.LoadUint64x8Slice(blocks[base:])
		a0, a1, a2, a3 := k.bytes(x.Xor(q0[0])), k.bytes(x.Xor(q1[0])), k.bytes(x.Xor(q2[0])), k.bytes(x.Xor(q3[0]))
		for j := 1; j < w; j++ {
			x := archsimd.LoadUint64x8Slice(blocks[base+j*Lanes:])
			a0 = a0.Add(k.bytes(x.Xor(q0[j])))
			a1 = a1.Add(k.bytes(x.Xor(q1[j])))
			a2 = a2.Add(k.bytes(x.Xor(q2[j])))
			a3 = a3.Add(k.bytes(x.Xor(q3[j])))
		}
		m0 := lanes(a0).Less(t0).ToBits()
		m1 := lanes(a1).Less(t1).ToBits()
		m2 := lanes(a2).Less(t2).ToBits()
		m3 := lanes(a3).Less(t3).ToBits()
		if m0|m1|m2|m3 != 0 {
			t0, t1, t2, t3 = lutHits4(h, qs, cs, b, [4]uint8{m0, m1, m2, m3}, [4]archsimd.Uint64x8{t0, t1, t2, t3})
		}
	}
}

// lut2x4 is lutx4 for 128-bit codes, the query words in registers.
func lut2x4(h *Hamming, qs [][]uint64, cs []*collector, b0, b1 int) {
	q0a, q0b := archsimd.BroadcastUint64x8(qs[0][0]), archsimd.BroadcastUint64x8(qs[0][1])
	q1a, q1b := archsimd.BroadcastUint64x8(qs[1][0]), archsimd.BroadcastUint64x8(qs[1][1])
	q2a, q2b := archsimd.BroadcastUint64x8(qs[2][0]), archsimd.BroadcastUint64x8(qs[2][1])
	q3a, q3b := archsimd.BroadcastUint64x8(qs[3][0]), archsimd.BroadcastUint64x8(qs[3][1])
	k := newCounter()
	t0, t1, t2, t3 := bound(cs[0]), bound(cs[1]), bound(cs[2]), bound(cs[3])
	const step = 2 * Lanes
	blk := h.blocks[b0*step : b1*step]
	for b := b0; len(blk) >= step; b, blk = b+1, blk[step:] {
		xa := archsimd.LoadUint64x8((*[Lanes]uint64)(blk[:Lanes]))
		xb := archsimd.LoadUint64x8((*[Lanes]uint64)(blk[Lanes:step]))
		m0 := lanes(k.bytes(xa.Xor(q0a)).Add(k.bytes(xb.Xor(q0b)))).Less(t0).ToBits()
		m1 := lanes(k.bytes(xa.Xor(q1a)).Add(k.bytes(xb.Xor(q1b)))).Less(t1).ToBits()
		m2 := lanes(k.bytes(xa.Xor(q2a)).Add(k.bytes(xb.Xor(q2b)))).Less(t2).ToBits()
		m3 := lanes(k.bytes(xa.Xor(q3a)).Add(k.bytes(xb.Xor(q3b)))).Less(t3).ToBits()
		if m0|m1|m2|m3 != 0 {
			t0, t1, t2, t3 = lutHits4(h, qs, cs, b, [4]uint8{m0, m1, m2, m3}, [4]archsimd.Uint64x8{t0, t1, t2, t3})
		}
	}
}

// lutHits4 passes the lanes of masks[i] to cs[i] and returns the four
// collectors' bounds, t[i] where masks[i] is empty.
func lutHits4(h *Hamming, qs [][]uint64, cs []*collector, b int, masks [4]uint8, t [4]archsimd.Uint64x8) (t0, t1, t2, t3 archsimd.Uint64x8) {
	for i, m := range masks {
		if m != 0 {
			h.hits(qs[i], cs[i], b, m)
			t[i] = bound(cs[i])
		}
	}
	return t[0], t[1], t[2], t[3]
}

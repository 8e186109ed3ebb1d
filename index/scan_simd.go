//go:build goexperiment.simd && amd64

package index

import (
	"math"
	"simd/archsimd"
)

// The SIMD kernels need AVX-512 with VPOPCNTQ: 8 distances per vector
// popcount. AVX-512 without it gets the nibble-table kernels
// (scan_lut.go).
func init() {
	switch {
	case archsimd.X86.AVX512() && archsimd.X86.AVX512VPOPCNTDQ():
		groupScanner = scanGroupSIMD
		assigner = assignSIMD
	case archsimd.X86.AVX512():
		groupScanner = scanGroupLUT
	}
}

// scanGroupSIMD runs the queries four at a time through a kernel
// specialised for the code length where there is one (1, 2 and 4 words):
// one load of a block then serves four queries, and the query words and
// thresholds stay in registers; the rest go one at a time. The popcount
// and the compare are the bottleneck (both issue on one port), so the
// kernels do nothing else per block unless some lane is under a
// threshold.
func scanGroupSIMD(h *Hamming, qs [][]uint64, cs []*collector, b0, b1 int) {
	if h.words > 8 {
		scanGroupGeneric(h, qs, cs, b0, b1)
		return
	}
	var x4 func(h *Hamming, qs [][]uint64, cs []*collector, b0, b1 int)
	x1 := scanSIMD
	switch h.words {
	case 1:
		x4, x1 = scan1x4, scan1x1
	case 2:
		x4, x1 = scan2x4, scan2x1
	case 4:
		x4, x1 = scan4x4, scan4x1
	}
	i := 0
	if x4 != nil {
		for ; i+4 <= len(qs); i += 4 {
			x4(h, qs[i:i+4], cs[i:i+4], b0, b1)
		}
	}
	for ; i < len(qs); i++ {
		x1(h, qs[i], b0, b1, cs[i])
	}
}

// bound is the collector's threshold t as the vector t+1: d <= t is then
// one unsigned compare, d < t+1.
func bound(c *collector) archsimd.Uint64x8 { return archsimd.BroadcastUint64x8(uint64(c.t + 1)) }

// scanSIMD is the kernel for one query and codes of up to 8 words; the
// specialised kernels below keep the query in registers instead of
// looping over its words.
func scanSIMD(h *Hamming, q []uint64, b0, b1 int, c *collector) {
	w := h.words
	var qv [8]archsimd.Uint64x8
	for j := range q {
		qv[j] = archsimd.BroadcastUint64x8(q[j])
	}
	t := bound(c)
	blocks := h.blocks
	for b := b0; b < b1; b++ {
		base := b * Lanes * w
		acc := archsimd.LoadUint64x8Slice(blocks[base:]).Xor(qv[0]).OnesCount()
		for j := 1; j < w; j++ {
			acc = acc.Add(archsimd.LoadUint64x8Slice(blocks[base+j*Lanes:]).Xor(qv[j]).OnesCount())
		}
		if m := acc.Less(t).ToBits(); m != 0 {
			h.hits(q, c, b, m)
			t = bound(c)
		}
	}
}

func scan1x1(h *Hamming, q []uint64, b0, b1 int, c *collector) {
	q0 := archsimd.BroadcastUint64x8(q[0])
	t := bound(c)
	blk := h.blocks[b0*Lanes : b1*Lanes]
	for b := b0; len(blk) >= Lanes; b, blk = b+1, blk[Lanes:] {
		x := archsimd.LoadUint64x8((*[Lanes]uint64)(blk))
		if m := x.Xor(q0).OnesCount().Less(t).ToBits(); m != 0 {
			h.hits(q, c, b, m)
			t = bound(c)
		}
	}
}

func scan2x1(h *Hamming, q []uint64, b0, b1 int, c *collector) {
	qa, qb := archsimd.BroadcastUint64x8(q[0]), archsimd.BroadcastUint64x8(q[1])
	t := bound(c)
	const step = 2 * Lanes
	blk := h.blocks[b0*step : b1*step]
	for b := b0; len(blk) >= step; b, blk = b+1, blk[step:] {
		xa := archsimd.LoadUint64x8((*[Lanes]uint64)(blk[:Lanes]))
		xb := archsimd.LoadUint64x8((*[Lanes]uint64)(blk[Lanes:step]))
		if m := xa.Xor(qa).OnesCount().Add(xb.Xor(qb).OnesCount()).Less(t).ToBits(); m != 0 {
			h.hits(q, c, b, m)
			t = bound(c)
		}
	}
}

func scan4x1(h *Hamming, q []uint64, b0, b1 int, c *collector) {
	qa, qb := archsimd.BroadcastUint64x8(q[0]), archsimd.BroadcastUint64x8(q[1])
	qc, qd := archsimd.BroadcastUint64x8(q[2]), archsimd.BroadcastUint64x8(q[3])
	t := bound(c)
	const step = 4 * Lanes
	blk := h.blocks[b0*step : b1*step]
	for b := b0; len(blk) >= step; b, blk = b+1, blk[step:] {
		xa := archsimd.LoadUint64x8((*[Lanes]uint64)(blk[:Lanes]))
		xb := archsimd.LoadUint64x8((*[Lanes]uint64)(blk[Lanes : 2*Lanes]))
		xc := archsimd.LoadUint64x8((*[Lanes]uint64)(blk[2*Lanes : 3*Lanes]))
		xd := archsimd.LoadUint64x8((*[Lanes]uint64)(blk[3*Lanes : step]))
		d := xa.Xor(qa).OnesCount().Add(xb.Xor(qb).OnesCount()).Add(xc.Xor(qc).OnesCount().Add(xd.Xor(qd).OnesCount()))
		if m := d.Less(t).ToBits(); m != 0 {
			h.hits(q, c, b, m)
			t = bound(c)
		}
	}
}

func scan1x4(h *Hamming, qs [][]uint64, cs []*collector, b0, b1 int) {
	q0 := archsimd.BroadcastUint64x8(qs[0][0])
	q1 := archsimd.BroadcastUint64x8(qs[1][0])
	q2 := archsimd.BroadcastUint64x8(qs[2][0])
	q3 := archsimd.BroadcastUint64x8(qs[3][0])
	t0, t1, t2, t3 := bound(cs[0]), bound(cs[1]), bound(cs[2]), bound(cs[3])
	blk := h.blocks[b0*Lanes : b1*Lanes]
	for b := b0; len(blk) >= Lanes; b, blk = b+1, blk[Lanes:] {
		x := archsimd.LoadUint64x8((*[Lanes]uint64)(blk))
		m0 := x.Xor(q0).OnesCount().Less(t0).ToBits()
		m1 := x.Xor(q1).OnesCount().Less(t1).ToBits()
		m2 := x.Xor(q2).OnesCount().Less(t2).ToBits()
		m3 := x.Xor(q3).OnesCount().Less(t3).ToBits()
		if m0|m1|m2|m3 == 0 {
			continue
		}
		if m0 != 0 {
			h.hits(qs[0], cs[0], b, m0)
			t0 = bound(cs[0])
		}
		if m1 != 0 {
			h.hits(qs[1], cs[1], b, m1)
			t1 = bound(cs[1])
		}
		if m2 != 0 {
			h.hits(qs[2], cs[2], b, m2)
			t2 = bound(cs[2])
		}
		if m3 != 0 {
			h.hits(qs[3], cs[3], b, m3)
			t3 = bound(cs[3])
		}
	}
}

func scan2x4(h *Hamming, qs [][]uint64, cs []*collector, b0, b1 int) {
	q0a, q0b := archsimd.BroadcastUint64x8(qs[0][0]), archsimd.BroadcastUint64x8(qs[0][1])
	q1a, q1b := archsimd.BroadcastUint64x8(qs[1][0]), archsimd.BroadcastUint64x8(qs[1][1])
	q2a, q2b := archsimd.BroadcastUint64x8(qs[2][0]), archsimd.BroadcastUint64x8(qs[2][1])
	q3a, q3b := archsimd.BroadcastUint64x8(qs[3][0]), archsimd.BroadcastUint64x8(qs[3][1])
	t0, t1, t2, t3 := bound(cs[0]), bound(cs[1]), bound(cs[2]), bound(cs[3])
	const step = 2 * Lanes
	blk := h.blocks[b0*step : b1*step]
	for b := b0; len(blk) >= step; b, blk = b+1, blk[step:] {
		xa := archsimd.LoadUint64x8((*[Lanes]uint64)(blk[:Lanes]))
		xb := archsimd.LoadUint64x8((*[Lanes]uint64)(blk[Lanes:step]))
		m0 := xa.Xor(q0a).OnesCount().Add(xb.Xor(q0b).OnesCount()).Less(t0).ToBits()
		m1 := xa.Xor(q1a).OnesCount().Add(xb.Xor(q1b).OnesCount()).Less(t1).ToBits()
		m2 := xa.Xor(q2a).OnesCount().Add(xb.Xor(q2b).OnesCount()).Less(t2).ToBits()
		m3 := xa.Xor(q3a).OnesCount().Add(xb.Xor(q3b).OnesCount()).Less(t3).ToBits()
		if m0|m1|m2|m3 == 0 {
			continue
		}
		if m0 != 0 {
			h.hits(qs[0], cs[0], b, m0)
			t0 = bound(cs[0])
		}
		if m1 != 0 {
			h.hits(qs[1], cs[1], b, m1)
			t1 = bound(cs[1])
		}
		if m2 != 0 {
			h.hits(qs[2], cs[2], b, m2)
			t2 = bound(cs[2])
		}
		if m3 != 0 {
			h.hits(qs[3], cs[3], b, m3)
			t3 = bound(cs[3])
		}
	}
}

func scan4x4(h *Hamming, qs [][]uint64, cs []*collector, b0, b1 int) {
	q0a, q0b := archsimd.BroadcastUint64x8(qs[0][0]), archsimd.BroadcastUint64x8(qs[0][1])
	q0c, q0d := archsimd.BroadcastUint64x8(qs[0][2]), archsimd.BroadcastUint64x8(qs[0][3])
	q1a, q1b := archsimd.BroadcastUint64x8(qs[1][0]), archsimd.BroadcastUint64x8(qs[1][1])
	q1c, q1d := archsimd.BroadcastUint64x8(qs[1][2]), archsimd.BroadcastUint64x8(qs[1][3])
	q2a, q2b := archsimd.BroadcastUint64x8(qs[2][0]), archsimd.BroadcastUint64x8(qs[2][1])
	q2c, q2d := archsimd.BroadcastUint64x8(qs[2][2]), archsimd.BroadcastUint64x8(qs[2][3])
	q3a, q3b := archsimd.BroadcastUint64x8(qs[3][0]), archsimd.BroadcastUint64x8(qs[3][1])
	q3c, q3d := archsimd.BroadcastUint64x8(qs[3][2]), archsimd.BroadcastUint64x8(qs[3][3])
	t0, t1, t2, t3 := bound(cs[0]), bound(cs[1]), bound(cs[2]), bound(cs[3])
	const step = 4 * Lanes
	blk := h.blocks[b0*step : b1*step]
	for b := b0; len(blk) >= step; b, blk = b+1, blk[step:] {
		xa := archsimd.LoadUint64x8((*[Lanes]uint64)(blk[:Lanes]))
		xb := archsimd.LoadUint64x8((*[Lanes]uint64)(blk[Lanes : 2*Lanes]))
		xc := archsimd.LoadUint64x8((*[Lanes]uint64)(blk[2*Lanes : 3*Lanes]))
		xd := archsimd.LoadUint64x8((*[Lanes]uint64)(blk[3*Lanes : step]))
		m0 := xa.Xor(q0a).OnesCount().Add(xb.Xor(q0b).OnesCount()).Add(xc.Xor(q0c).OnesCount().Add(xd.Xor(q0d).OnesCount())).Less(t0).ToBits()
		m1 := xa.Xor(q1a).OnesCount().Add(xb.Xor(q1b).OnesCount()).Add(xc.Xor(q1c).OnesCount().Add(xd.Xor(q1d).OnesCount())).Less(t1).ToBits()
		m2 := xa.Xor(q2a).OnesCount().Add(xb.Xor(q2b).OnesCount()).Add(xc.Xor(q2c).OnesCount().Add(xd.Xor(q2d).OnesCount())).Less(t2).ToBits()
		m3 := xa.Xor(q3a).OnesCount().Add(xb.Xor(q3b).OnesCount()).Add(xc.Xor(q3c).OnesCount().Add(xd.Xor(q3d).OnesCount())).Less(t3).ToBits()
		if m0|m1|m2|m3 == 0 {
			continue
		}
		if m0 != 0 {
			h.hits(qs[0], cs[0], b, m0)
			t0 = bound(cs[0])
		}
		if m1 != 0 {
			h.hits(qs[1], cs[1], b, m1)
			t1 = bound(cs[1])
		}
		if m2 != 0 {
			h.hits(qs[2], cs[2], b, m2)
			t2 = bound(cs[2])
		}
		if m3 != 0 {
			h.hits(qs[3], cs[3], b, m3)
			t3 = bound(cs[3])
		}
	}
}

// assignSIMD is assignGeneric for 8 codes at a time: the centres' words
// are spread across lanes once, so that the loop over centres only loads.
func assignSIMD(h *Hamming, centres [][]uint64, assign []uint8, dist []uint16) {
	w := h.words
	if w > 8 || len(centres) > 256 {
		assignGeneric(h, centres, assign, dist)
		return
	}
	spread := make([]uint64, len(centres)*w*Lanes)
	for ci, c := range centres {
		for j, word := range c {
			for l := range Lanes {
				spread[(ci*w+j)*Lanes+l] = word
			}
		}
	}
	const part = 256 // blocks per task
	nb := h.numBlocks()
	parallel((nb+part-1)/part, func(p int) {
		var xv [8]archsimd.Uint64x8
		var best, arg [Lanes]uint64
		one := archsimd.BroadcastUint64x8(1)
		for b := p * part; b < min((p+1)*part, nb); b++ {
			for j := range w {
				xv[j] = archsimd.LoadUint64x8Slice(h.blocks[(b*w+j)*Lanes:])
			}
			bv := archsimd.BroadcastUint64x8(math.MaxUint64)
			av := archsimd.BroadcastUint64x8(0)
			civ := av
			for ci := range centres {
				c := spread[ci*w*Lanes : (ci+1)*w*Lanes]
				d := xv[0].Xor(archsimd.LoadUint64x8Slice(c)).OnesCount()
				for j := 1; j < w; j++ {
					d = d.Add(xv[j].Xor(archsimd.LoadUint64x8Slice(c[j*Lanes:])).OnesCount())
				}
				av = civ.Merge(av, d.Less(bv))
				bv = bv.Min(d)
				civ = civ.Add(one)
			}
			bv.Store(&best)
			av.Store(&arg)
			for l := range Lanes {
				if i := b*Lanes + l; i < h.n {
					assign[i], dist[i] = uint8(arg[l]), uint16(best[l])
				}
			}
		}
	})
}

//go:build goexperiment.simd && amd64

package index

import "simd/archsimd"

// The SIMD kernel needs AVX-512 with VPOPCNTQ: 8 distances per vector
// popcount.
func init() {
	if archsimd.X86.AVX512() && archsimd.X86.AVX512VPOPCNTDQ() {
		scanner = scanSIMD
	}
}

// scanSIMD is scanGeneric for 8 codes at a time, for codes of up to 512
// bits.
func scanSIMD(h *Hamming, q []uint64, b0, b1 int, c *collector) {
	w := h.words
	if w > 8 {
		scanGeneric(h, q, b0, b1, c)
		return
	}
	var qv [8]archsimd.Uint64x8
	for j := range q {
		qv[j] = archsimd.BroadcastUint64x8(q[j])
	}
	if c.t < 0 {
		return
	}
	var dist [Lanes]uint64
	t := archsimd.BroadcastUint64x8(uint64(c.t))
	blocks := h.blocks
	for b := b0; b < b1; b++ {
		base := b * Lanes * w
		acc := archsimd.LoadUint64x8Slice(blocks[base:]).Xor(qv[0]).OnesCount()
		for j := 1; j < w; j++ {
			acc = acc.Add(archsimd.LoadUint64x8Slice(blocks[base+j*Lanes:]).Xor(qv[j]).OnesCount())
		}
		mask := acc.LessEqual(t).ToBits()
		if mask == 0 {
			continue
		}
		acc.Store(&dist)
		for lane := 0; mask != 0; lane, mask = lane+1, mask>>1 {
			if mask&1 == 0 || int(dist[lane]) > c.t {
				continue
			}
			if id := b*Lanes + lane; id < h.n {
				c.add(id, int(dist[lane]))
			}
		}
		if c.t < 0 {
			return
		}
		t = archsimd.BroadcastUint64x8(uint64(c.t))
	}
}

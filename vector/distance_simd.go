//go:build goexperiment.simd && amd64

package vector

import (
	"math/bits"
	"simd/archsimd"
)

func init() {
	switch {
	case archsimd.X86.AVX512():
		dot, l2sq, dot4, l2sq4 = dot512, l2sq512, dot4x512, l2sq4x512
		flatKernel = flatKernel512
	case archsimd.X86.AVX2() && archsimd.X86.FMA():
		dot, l2sq = dot256, l2sq256
	}
}

// hsum16 adds the 16 lanes of x.
func hsum16(x archsimd.Float32x16) float32 {
	y := x.GetLo().Add(x.GetHi())
	z := y.GetLo().Add(y.GetHi())
	var a [4]float32
	z.Store(&a)
	// The scalar code after this is SSE: with the upper halves of the
	// vector registers dirty, every SSE instruction would wait on them.
	archsimd.ClearAVXUpperBits()
	return (a[0] + a[1]) + (a[2] + a[3])
}

// hsum4x16 stores the lane sums of a, b, c and d in out, with one
// transposing reduction and one clearing of the upper halves.
func hsum4x16(a, b, c, d archsimd.Float32x16, out *[4]float32) {
	ya, yb := a.GetLo().Add(a.GetHi()), b.GetLo().Add(b.GetHi())
	yc, yd := c.GetLo().Add(c.GetHi()), d.GetLo().Add(d.GetHi())
	r := ya.AddPairsGrouped(yb).AddPairsGrouped(yc.AddPairsGrouped(yd))
	r.GetLo().Add(r.GetHi()).Store(out)
	archsimd.ClearAVXUpperBits()
}

func load16(s []float32) archsimd.Float32x16 { return archsimd.LoadFloat32x16((*[16]float32)(s)) }

// dot512 is the inner product of a and b, len(a) a multiple of 16, in
// four independent accumulators so that the FMA latency is hidden.
func dot512(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 archsimd.Float32x16
	i := 0
	for ; i+64 <= len(a); i += 64 {
		s0 = load16(a[i:i+16]).MulAdd(load16(b[i:i+16]), s0)
		s1 = load16(a[i+16:i+32]).MulAdd(load16(b[i+16:i+32]), s1)
		s2 = load16(a[i+32:i+48]).MulAdd(load16(b[i+32:i+48]), s2)
		s3 = load16(a[i+48:i+64]).MulAdd(load16(b[i+48:i+64]), s3)
	}
	for ; i+16 <= len(a); i += 16 {
		s0 = load16(a[i:i+16]).MulAdd(load16(b[i:i+16]), s0)
	}
	return hsum16(s0.Add(s1).Add(s2.Add(s3)))
}

func l2sq512(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 archsimd.Float32x16
	i := 0
	for ; i+64 <= len(a); i += 64 {
		d0 := load16(a[i : i+16]).Sub(load16(b[i : i+16]))
		d1 := load16(a[i+16 : i+32]).Sub(load16(b[i+16 : i+32]))
		d2 := load16(a[i+32 : i+48]).Sub(load16(b[i+32 : i+48]))
		d3 := load16(a[i+48 : i+64]).Sub(load16(b[i+48 : i+64]))
		s0, s1, s2, s3 = d0.MulAdd(d0, s0), d1.MulAdd(d1, s1), d2.MulAdd(d2, s2), d3.MulAdd(d3, s3)
	}
	for ; i+16 <= len(a); i += 16 {
		d := load16(a[i : i+16]).Sub(load16(b[i : i+16]))
		s0 = d.MulAdd(d, s0)
	}
	return hsum16(s0.Add(s1).Add(s2.Add(s3)))
}

// dot4x512 computes four inner products with q at once: the four vectors'
// loads are independent, so their cache misses overlap, and each product
// has two accumulators so that the FMA latency is hidden.
func dot4x512(q, x0, x1, x2, x3 []float32, out *[4]float32) {
	n := len(q)
	x0, x1, x2, x3 = x0[:n], x1[:n], x2[:n], x3[:n]
	var s0, s1, s2, s3, t0, t1, t2, t3 archsimd.Float32x16
	i := 0
	for ; i+32 <= n; i += 32 {
		v := load16(q[i : i+16])
		w := load16(q[i+16 : i+32])
		s0 = load16(x0[i:i+16]).MulAdd(v, s0)
		s1 = load16(x1[i:i+16]).MulAdd(v, s1)
		s2 = load16(x2[i:i+16]).MulAdd(v, s2)
		s3 = load16(x3[i:i+16]).MulAdd(v, s3)
		t0 = load16(x0[i+16:i+32]).MulAdd(w, t0)
		t1 = load16(x1[i+16:i+32]).MulAdd(w, t1)
		t2 = load16(x2[i+16:i+32]).MulAdd(w, t2)
		t3 = load16(x3[i+16:i+32]).MulAdd(w, t3)
	}
	if i < n {
		v := load16(q[i : i+16])
		s0 = load16(x0[i:i+16]).MulAdd(v, s0)
		s1 = load16(x1[i:i+16]).MulAdd(v, s1)
		s2 = load16(x2[i:i+16]).MulAdd(v, s2)
		s3 = load16(x3[i:i+16]).MulAdd(v, s3)
	}
	hsum4x16(s0.Add(t0), s1.Add(t1), s2.Add(t2), s3.Add(t3), out)
}

func l2sq4x512(q, x0, x1, x2, x3 []float32, out *[4]float32) {
	n := len(q)
	x0, x1, x2, x3 = x0[:n], x1[:n], x2[:n], x3[:n]
	var s0, s1, s2, s3, t0, t1, t2, t3 archsimd.Float32x16
	i := 0
	for ; i+32 <= n; i += 32 {
		v := load16(q[i : i+16])
		w := load16(q[i+16 : i+32])
		d0 := load16(x0[i : i+16]).Sub(v)
		d1 := load16(x1[i : i+16]).Sub(v)
		d2 := load16(x2[i : i+16]).Sub(v)
		d3 := load16(x3[i : i+16]).Sub(v)
		s0, s1, s2, s3 = d0.MulAdd(d0, s0), d1.MulAdd(d1, s1), d2.MulAdd(d2, s2), d3.MulAdd(d3, s3)
		e0 := load16(x0[i+16 : i+32]).Sub(w)
		e1 := load16(x1[i+16 : i+32]).Sub(w)
		e2 := load16(x2[i+16 : i+32]).Sub(w)
		e3 := load16(x3[i+16 : i+32]).Sub(w)
		t0, t1, t2, t3 = e0.MulAdd(e0, t0), e1.MulAdd(e1, t1), e2.MulAdd(e2, t2), e3.MulAdd(e3, t3)
	}
	if i < n {
		v := load16(q[i : i+16])
		d0 := load16(x0[i : i+16]).Sub(v)
		d1 := load16(x1[i : i+16]).Sub(v)
		d2 := load16(x2[i : i+16]).Sub(v)
		d3 := load16(x3[i : i+16]).Sub(v)
		s0, s1, s2, s3 = d0.MulAdd(d0, s0), d1.MulAdd(d1, s1), d2.MulAdd(d2, s2), d3.MulAdd(d3, s3)
	}
	hsum4x16(s0.Add(t0), s1.Add(t1), s2.Add(t2), s3.Add(t3), out)
}

func load8(s []float32) archsimd.Float32x8 { return archsimd.LoadFloat32x8((*[8]float32)(s)) }

func hsum8(x archsimd.Float32x8) float32 {
	z := x.GetLo().Add(x.GetHi())
	var a [4]float32
	z.Store(&a)
	return (a[0] + a[1]) + (a[2] + a[3])
}

func dot256(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1 archsimd.Float32x8
	for i := 0; i+16 <= len(a); i += 16 {
		s0 = load8(a[i:i+8]).MulAdd(load8(b[i:i+8]), s0)
		s1 = load8(a[i+8:i+16]).MulAdd(load8(b[i+8:i+16]), s1)
	}
	return hsum8(s0.Add(s1))
}

func l2sq256(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1 archsimd.Float32x8
	for i := 0; i+16 <= len(a); i += 16 {
		d0 := load8(a[i : i+8]).Sub(load8(b[i : i+8]))
		d1 := load8(a[i+8 : i+16]).Sub(load8(b[i+8 : i+16]))
		s0, s1 = d0.MulAdd(d0, s0), d1.MulAdd(d1, s1)
	}
	return hsum8(s0.Add(s1))
}

// flatKernel512 scores up to four queries against blocks [b0, b1) (a
// multiple of quad apart), four blocks at a time: for each dimension it
// loads the four blocks' rows once and multiplies them with the four
// queries' broadcast values into 16 accumulators.
func flatKernel512(f *Flat, qs [][]float32, tops []topk, b0, b1 int) {
	nq := len(qs)
	for len(qs) < 4 {
		qs = append(qs, qs[0])
	}
	q0, q1, q2, q3 := qs[0], qs[1], qs[2], qs[3]
	st := f.stride
	q1, q2, q3 = q1[:len(q0)], q2[:len(q0)], q3[:len(q0)]
	var sc [4][quad][16]float32
	for b := b0; b < b1; b += quad {
		blk := f.blocks[b*st*Lanes : (b+quad)*st*Lanes]
		r0, r1, r2, r3 := blk[:st*Lanes], blk[st*Lanes:2*st*Lanes], blk[2*st*Lanes:3*st*Lanes], blk[3*st*Lanes:]
		var a00, a01, a02, a03, a10, a11, a12, a13, a20, a21, a22, a23, a30, a31, a32, a33 archsimd.Float32x16
		for j := range q0 {
			o := j * Lanes
			x0, x1, x2, x3 := load16(r0[o:o+16]), load16(r1[o:o+16]), load16(r2[o:o+16]), load16(r3[o:o+16])
			v := archsimd.BroadcastFloat32x16(q0[j])
			a00, a01, a02, a03 = x0.MulAdd(v, a00), x1.MulAdd(v, a01), x2.MulAdd(v, a02), x3.MulAdd(v, a03)
			v = archsimd.BroadcastFloat32x16(q1[j])
			a10, a11, a12, a13 = x0.MulAdd(v, a10), x1.MulAdd(v, a11), x2.MulAdd(v, a12), x3.MulAdd(v, a13)
			v = archsimd.BroadcastFloat32x16(q2[j])
			a20, a21, a22, a23 = x0.MulAdd(v, a20), x1.MulAdd(v, a21), x2.MulAdd(v, a22), x3.MulAdd(v, a23)
			v = archsimd.BroadcastFloat32x16(q3[j])
			a30, a31, a32, a33 = x0.MulAdd(v, a30), x1.MulAdd(v, a31), x2.MulAdd(v, a32), x3.MulAdd(v, a33)
		}
		bias := f.bias[b*Lanes : (b+quad)*Lanes]
		acc := [4][quad]archsimd.Float32x16{{a00, a01, a02, a03}, {a10, a11, a12, a13}, {a20, a21, a22, a23}, {a30, a31, a32, a33}}
		var masks [4][quad]uint16
		any := false
		for i := range nq {
			t := archsimd.BroadcastFloat32x16(tops[i].t)
			for k := range quad {
				s := acc[i][k].Add(load16(bias[k*Lanes : k*Lanes+16]))
				if m := s.Greater(t).ToBits(); m != 0 {
					s.Store(&sc[i][k])
					masks[i][k], any = m, true
				}
			}
		}
		if !any {
			continue
		}
		archsimd.ClearAVXUpperBits() // the collectors' code is SSE
		for i := range nq {
			for k := range quad {
				for m := masks[i][k]; m != 0; m &= m - 1 {
					l := bits.TrailingZeros16(m)
					tops[i].add(sc[i][k][l], (b+k)*Lanes+l)
				}
			}
		}
	}
}

package vector

import "math"

// The distance kernels work on vectors whose length is a multiple of
// Lanes (stored vectors are padded with zeros, which change neither inner
// products nor Euclidean distances). The SIMD kernels (distance_simd.go)
// replace the portable ones when the CPU has AVX-512 or AVX2 with FMA.
var (
	dot   = dotGeneric
	l2sq  = l2sqGeneric
	dot4  = dot4Generic
	l2sq4 = l2sq4Generic
)

// Lanes is the padding unit of stored vectors: 16 float32 are one AVX-512
// register.
const Lanes = 16

// padded returns dim rounded up to a multiple of Lanes.
func padded(dim int) int { return (dim + Lanes - 1) &^ (Lanes - 1) }

func dotGeneric(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func l2sqGeneric(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		d0, d1, d2, d3 := a[i]-b[i], a[i+1]-b[i+1], a[i+2]-b[i+2], a[i+3]-b[i+3]
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < len(a); i++ {
		d := a[i] - b[i]
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

func dot4Generic(q, x0, x1, x2, x3 []float32, out *[4]float32) {
	out[0], out[1], out[2], out[3] = dotGeneric(q, x0), dotGeneric(q, x1), dotGeneric(q, x2), dotGeneric(q, x3)
}

func l2sq4Generic(q, x0, x1, x2, x3 []float32, out *[4]float32) {
	out[0], out[1], out[2], out[3] = l2sqGeneric(q, x0), l2sqGeneric(q, x1), l2sqGeneric(q, x2), l2sqGeneric(q, x3)
}

// norm returns the Euclidean norm of v.
func norm(v []float32) float32 { return float32(math.Sqrt(float64(dotGeneric(v, v)))) }

package vector

import (
	"math"
	"testing"
)

// TestKernels checks the kernels in use (SIMD where the CPU has it)
// against float64 sums, and that the portable ones give the same
// searches.
func TestKernels(t *testing.T) {
	for _, dim := range []int{16, 48, 256, 272} {
		v := clustered(13, 5, dim, 2, false)
		q, xs := v[:dim], v[dim:]
		var want4, wantL4 [4]float64
		for i := range 4 {
			for j := range dim {
				x := float64(xs[i*dim+j])
				want4[i] += float64(q[j]) * x
				wantL4[i] += (float64(q[j]) - x) * (float64(q[j]) - x)
			}
		}
		var got4, gotL4 [4]float32
		dot4(q, xs[:dim], xs[dim:2*dim], xs[2*dim:3*dim], xs[3*dim:], &got4)
		l2sq4(q, xs[:dim], xs[dim:2*dim], xs[2*dim:3*dim], xs[3*dim:], &gotL4)
		for i := range 4 {
			x := xs[i*dim : (i+1)*dim]
			for name, got := range map[string][2]float64{
				"dot":   {float64(dot(q, x)), want4[i]},
				"dot4":  {float64(got4[i]), want4[i]},
				"l2sq":  {float64(l2sq(q, x)), wantL4[i]},
				"l2sq4": {float64(gotL4[i]), wantL4[i]},
			} {
				if math.Abs(got[0]-got[1]) > 1e-4*(1+math.Abs(got[1])) {
					t.Errorf("dim %d vector %d: %s = %g, want %g", dim, i, name, got[0], got[1])
				}
			}
		}
	}
}

// TestKernels_Portable runs the searches on the portable kernels (those
// of CPUs without AVX2): the flat ranking agrees with brute force, the
// graph finds the neighbours.
func TestKernels_Portable(t *testing.T) {
	saved := [...]any{dot, l2sq, dot4, l2sq4, flatKernel}
	dot, l2sq, dot4, l2sq4, flatKernel = dotGeneric, l2sqGeneric, dot4Generic, l2sq4Generic, flatKernelGeneric
	defer func() {
		dot, l2sq = saved[0].(func(a, b []float32) float32), saved[1].(func(a, b []float32) float32)
		dot4 = saved[2].(func(q, x0, x1, x2, x3 []float32, out *[4]float32))
		l2sq4 = saved[3].(func(q, x0, x1, x2, x3 []float32, out *[4]float32))
		flatKernel = saved[4].(func(f *Flat, qs [][]float32, tops []topk, b0, b1 int))
	}()
	for _, m := range []Metric{InnerProduct, L2} {
		db, qs := split(clustered(14, 2020, 40, 3, false), 2000, 40)
		f := NewFlat(40, m)
		f.Add(db)
		flat := f.SearchBatch(qs, 10)
		truth := make([][]Result, len(flat))
		for i := range flat {
			truth[i] = bruteForce(db, 40, m, qs[i*40:(i+1)*40])
			checkRanking(t, flat[i], truth[i], 10, m)
		}
		h := BuildHNSW(db, 40, HNSWConfig{Metric: m, Seed: 2})
		if r := recallAt(h.SearchBatch(qs, 10), truth, 10); r < 0.95 {
			t.Errorf("%v: HNSW recall@10 %.3f on the portable kernels", m, r)
		}
	}
}

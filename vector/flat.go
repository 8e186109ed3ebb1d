package vector

import (
	"fmt"
	"math"
	"runtime"
	"slices"
)

// Flat is an exact index: every search scores every stored vector.
//
// Vectors are stored in blocks of Lanes, dimension-major within a block
// (block b, dimension j, lane l at blocks[(b*stride+j)*Lanes+l]), so that
// one SIMD register holds dimension j of 16 vectors and a query needs no
// horizontal sums. The kernel scores four queries against four blocks at
// a time (16 accumulators: each block row loaded serves four queries), a
// worker per core scans its share of the blocks a cache-sized chunk at a
// time for all the queries of a batch, and the workers' top-k lists are
// merged at the end.
type Flat struct {
	metric      Metric
	dim, stride int
	n           int
	blocks      []float32
	// bias is added to each lane's score: 0, or -|x|^2 under L2 (whose
	// score is 2q.x - |x|^2, ranked like -|q-x|^2), and -Inf on the
	// padding lanes past n.
	bias []float32
	// Workers is the number of goroutines a search uses. Default
	// runtime.GOMAXPROCS(0).
	Workers int
}

// quad is the blocks the kernel scores at once; the block count is kept a
// multiple of it.
const quad = 4

// NewFlat returns an empty exact index for vectors of dim dimensions.
func NewFlat(dim int, m Metric) *Flat {
	if dim < 1 || !m.valid() {
		panic(fmt.Sprintf("vector: bad flat index parameters: dim %d, metric %v", dim, m))
	}
	return &Flat{metric: m, dim: dim, stride: padded(dim), Workers: runtime.GOMAXPROCS(0)}
}

// Len returns the number of vectors.
func (f *Flat) Len() int { return f.n }

// Dim returns the vectors' dimension.
func (f *Flat) Dim() int { return f.dim }

// Metric returns the metric vectors are compared with.
func (f *Flat) Metric() Metric { return f.metric }

// Bytes returns the memory the index holds.
func (f *Flat) Bytes() int { return 4 * (len(f.blocks) + len(f.bias)) }

// Add appends vectors (len a multiple of Dim()).
func (f *Flat) Add(vectors []float32) {
	if len(vectors)%f.dim != 0 {
		panic(fmt.Sprintf("vector: %d values are not a whole number of %d-dimensional vectors", len(vectors), f.dim))
	}
	add := len(vectors) / f.dim
	nb := (f.n + add + Lanes - 1) / Lanes
	nb = (nb + quad - 1) / quad * quad
	if grow := nb*Lanes - len(f.bias); grow > 0 {
		f.blocks = append(f.blocks, make([]float32, grow*f.stride)...)
		for range grow {
			f.bias = append(f.bias, float32(math.Inf(-1)))
		}
	}
	v := make([]float32, f.stride)
	for i := range add {
		f.metric.prepare(v, vectors[i*f.dim:(i+1)*f.dim])
		id := f.n + i
		b, lane := id/Lanes, id%Lanes
		for j, x := range v {
			f.blocks[(b*f.stride+j)*Lanes+lane] = x
		}
		f.bias[id] = 0
		if f.metric == L2 {
			f.bias[id] = -dotGeneric(v, v)
		}
	}
	f.n += add
}

// Vector returns a copy of stored vector i (unit length under Cosine).
func (f *Flat) Vector(i int) []float32 {
	v := make([]float32, f.dim)
	b, lane := i/Lanes, i%Lanes
	for j := range v {
		v[j] = f.blocks[(b*f.stride+j)*Lanes+lane]
	}
	return v
}

// Search returns the k stored vectors nearest q, best first (ties by ID).
func (f *Flat) Search(q []float32, k int) []Result { return f.SearchBatch(q, k)[0] }

// SearchBatch searches every query of qs (len a multiple of Dim()).
func (f *Flat) SearchBatch(qs []float32, k int) [][]Result {
	if len(qs)%f.dim != 0 || len(qs) == 0 {
		panic(fmt.Sprintf("vector: %d values are not a whole number of %d-dimensional queries", len(qs), f.dim))
	}
	nq := len(qs) / f.dim
	// The queries as the kernel takes them: padded, unit length under
	// Cosine, doubled under L2.
	pq := make([]float32, nq*f.stride)
	qnorm := make([]float32, nq)
	for i := range nq {
		p := pq[i*f.stride : (i+1)*f.stride]
		f.metric.prepare(p, qs[i*f.dim:(i+1)*f.dim])
		if f.metric == L2 {
			qnorm[i] = dotGeneric(p, p)
			for j := range p {
				p[j] *= 2
			}
		}
	}
	out := make([][]Result, nq)
	if f.n == 0 || k <= 0 {
		return out
	}
	quads := len(f.bias) / (quad * Lanes)
	workers := max(1, min(f.Workers, quads))
	tops := make([][]topk, workers)
	parallel(workers, func(w int) {
		tops[w] = f.scan(pq, k, quads*w/workers, quads*(w+1)/workers)
	})
	for i := range out {
		var all []cand
		for w := range tops {
			all = append(all, tops[w][i].h...)
		}
		slices.SortFunc(all, candCmp)
		all = all[:min(k, len(all))]
		out[i] = make([]Result, len(all))
		for j, c := range all {
			s := -c.d
			if f.metric == L2 {
				s = max(0, qnorm[i]-s)
			}
			out[i][j] = Result{ID: int(c.id), Score: s}
		}
	}
	return out
}

// chunkBytes is the share of a core's L2 cache one chunk of blocks takes:
// all the queries of a batch are scored against a chunk before the next.
const chunkBytes = 256 << 10

// scan scores all queries pq (each stride long) against quads [q0, q1).
func (f *Flat) scan(pq []float32, k, q0, q1 int) []topk {
	nq := len(pq) / f.stride
	tops := make([]topk, nq)
	for i := range tops {
		tops[i] = topk{k: k, t: float32(math.Inf(-1))}
	}
	chunk := max(1, chunkBytes/(quad*Lanes*f.stride*4))
	qs := make([][]float32, nq)
	for i := range qs {
		qs[i] = pq[i*f.stride : (i+1)*f.stride]
	}
	for c0 := q0; c0 < q1; c0 += chunk {
		c1 := min(q1, c0+chunk)
		for i := 0; i < nq; i += 4 {
			flatKernel(f, qs[i:min(nq, i+4)], tops[i:min(nq, i+4)], c0*quad, c1*quad)
		}
	}
	return tops
}

// topk keeps the k highest scores it is offered, as a heap of cands (d
// the negated score) whose root is the worst kept. Candidates arrive in
// increasing ID order, so the strict test keeps the lower ID of a tie.
type topk struct {
	k int
	t float32 // a score must exceed t to enter: -Inf until k are kept
	h []cand
}

func (c *topk) add(score float32, id int) {
	if score <= c.t {
		return
	}
	x := cand{-score, uint32(id)}
	if len(c.h) < c.k {
		c.h = pushMax(c.h, x)
	} else {
		c.h[0] = x
		fixMax(c.h)
	}
	if len(c.h) == c.k {
		c.t = -c.h[0].d
	}
}

var flatKernel = flatKernelGeneric

// flatKernelGeneric scores up to four queries against blocks [b0, b1).
func flatKernelGeneric(f *Flat, qs [][]float32, tops []topk, b0, b1 int) {
	var acc [Lanes]float32
	for i, q := range qs {
		for b := b0; b < b1; b++ {
			copy(acc[:], f.bias[b*Lanes:])
			blk := f.blocks[b*f.stride*Lanes : (b+1)*f.stride*Lanes]
			for j, x := range q {
				row := blk[j*Lanes : j*Lanes+Lanes]
				for l := range acc {
					acc[l] += x * row[l]
				}
			}
			for l, s := range acc {
				tops[i].add(s, b*Lanes+l)
			}
		}
	}
}

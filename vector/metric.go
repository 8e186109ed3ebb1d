package vector

import (
	"fmt"
	"slices"
)

// Metric says how vectors are compared.
type Metric uint8

const (
	// InnerProduct ranks by inner product, larger first (maximum inner
	// product search). A Result's Score is the inner product.
	InnerProduct Metric = iota
	// Cosine ranks by cosine similarity: vectors and queries are scaled
	// to unit length on the way in, then compared by inner product. A
	// Result's Score is the cosine similarity.
	Cosine
	// L2 ranks by Euclidean distance, nearest first. A Result's Score is
	// the squared distance.
	L2
)

var metricNames = [...]string{InnerProduct: "ip", Cosine: "cosine", L2: "l2"}

func (m Metric) String() string {
	if int(m) < len(metricNames) {
		return metricNames[m]
	}
	return fmt.Sprintf("Metric(%d)", uint8(m))
}

// ParseMetric returns the metric named s: "ip", "cosine" or "l2".
func ParseMetric(s string) (Metric, error) {
	if i := slices.Index(metricNames[:], s); i >= 0 {
		return Metric(i), nil
	}
	return 0, fmt.Errorf("vector: unknown metric %q (want ip, cosine or l2)", s)
}

func (m Metric) valid() bool { return m <= L2 }

// Result is one search hit: the position of a stored vector and its score
// under the metric (inner product, cosine similarity, or squared
// Euclidean distance for L2). Results come best first, ties by ID.
type Result struct {
	ID    int
	Score float32
}

// distance is the metric as a quantity to minimise: the negated inner
// product, or the squared Euclidean distance. Cosine vectors are unit
// length by then, so it is the inner product's.
func (m Metric) distance(a, b []float32) float32 {
	if m == L2 {
		return l2sq(a, b)
	}
	return -dot(a, b)
}

// score turns an internal distance back into a Result's Score.
func (m Metric) score(d float32) float32 {
	if m == L2 {
		return d
	}
	return -d
}

// prepare copies v into dst (len padded(len(v)), zero padded), scaled to
// unit length for Cosine. A zero vector stays zero.
func (m Metric) prepare(dst, v []float32) {
	copy(dst, v)
	clear(dst[len(v):])
	if m == Cosine {
		if n := norm(v); n > 0 {
			inv := 1 / n
			for i := range v {
				dst[i] *= inv
			}
		}
	}
}

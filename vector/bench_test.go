package vector

import (
	"sync"
	"testing"
)

var sink float32

func BenchmarkDot(b *testing.B) {
	x := clustered(1, 2, 256, 2, true)
	for range b.N {
		sink += dot(x[:256], x[256:])
	}
}

func BenchmarkDot4(b *testing.B) {
	x := clustered(1, 5, 256, 2, true)
	var out [4]float32
	for range b.N {
		dot4(x[:256], x[256:512], x[512:768], x[768:1024], x[1024:], &out)
	}
}

// benchSet is 20,000 database vectors and 1,000 queries of the bench ann
// workload's shape.
var benchSet = sync.OnceValues(func() ([]float32, []float32) {
	return split(clustered(21, 21000, 256, 200, true), 20000, 256)
})

func BenchmarkFlat_SearchBatch(b *testing.B) {
	db, qs := benchSet()
	f := NewFlat(256, InnerProduct)
	f.Add(db)
	b.ResetTimer()
	for range b.N {
		f.SearchBatch(qs, 10)
	}
	b.ReportMetric(float64(b.N*len(qs)/256)/b.Elapsed().Seconds(), "queries/s")
}

func BenchmarkHNSW_SearchBatch(b *testing.B) {
	db, qs := benchSet()
	h := BuildHNSW(db, 256, DefaultHNSWConfig())
	h.EfSearch = 32
	b.ResetTimer()
	for range b.N {
		h.SearchBatch(qs, 10)
	}
	b.ReportMetric(float64(b.N*len(qs)/256)/b.Elapsed().Seconds(), "queries/s")
}

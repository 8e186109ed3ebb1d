package training

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/lookalike/lookalike/dataset"
	"github.com/lookalike/lookalike/hashing"
)

// BenchmarkTrain_Reference times training steps of DSH on the reference
// network (batch 128, 48 bits) over random 28x28 images, and reports
// images/s. 'lookalike bench train' runs the same on Fashion-MNIST next to
// the PyTorch reference.
func BenchmarkTrain_Reference(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	s := &dataset.Set{Height: 28, Width: 28, Channels: 1}
	for i := 0; i < 1024; i++ {
		for j := 0; j < 784; j++ {
			s.Pixels = append(s.Pixels, rng.Float32())
		}
		s.Labels = append(s.Labels, int32(i%10))
	}
	m, _ := hashing.Lookup("dsh")
	c := NewConfig(m.(hashing.Deep), 48)
	steps := 0
	c.Epochs = 1000
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.OnStep = func(step, _ int) {
		switch {
		case step == 1:
			b.ResetTimer() // the first step compiles the graph
		case step > b.N:
			cancel()
		default:
			steps++ // 1024 images: every batch is full
		}
	}
	Train(ctx, c, s)
	b.StopTimer()
	b.ReportMetric(float64(steps*c.BatchSize)/b.Elapsed().Seconds(), "images/s")
}

package album

import (
	"context"
	"fmt"
	"image"
	"runtime"
	"sync"

	"github.com/lookalike/lookalike/backbone"
	"github.com/lookalike/lookalike/descriptor"
	"github.com/lookalike/lookalike/imageio"
)

// Head is a learned pooling (package learned): feature maps in,
// L2-normalized descriptors out.
type Head interface {
	Describe(maps []descriptor.Map) ([][]float32, error)
}

// Extractor turns image files into descriptors: decode, resize to each
// scale, run the backbone, pool, L2-normalize, average the scales and
// normalize again.
type Extractor struct {
	Backbone *backbone.Backbone
	Pooling  descriptor.Pooling
	// Head, when set, pools instead of Pooling (which then names the
	// head's method, as Settings.Pooling records it).
	Head Head
	// Sizes are the input sides of the scales (default: the backbone's).
	Sizes  []int
	Limits imageio.Limits
	// Workers decode images in parallel (default: one per core); Batch
	// images go through the network at once (default 16).
	Workers, Batch int
}

func (x *Extractor) sizes() []int {
	if len(x.Sizes) > 0 {
		return x.Sizes
	}
	return []int{x.Backbone.Config.Size}
}

// Image describes one decoded image.
func (x *Extractor) Image(img image.Image) ([]float32, error) {
	scaled := make([][]float32, len(x.sizes()))
	for s, size := range x.sizes() {
		scaled[s] = imageio.Square(img, size, x.Backbone.Config.Fit)
	}
	vecs, err := x.describe([][][]float32{scaled})
	if err != nil {
		return nil, err
	}
	return vecs[0], nil
}

// describe runs a batch: images[i][s] is image i at scale s.
func (x *Extractor) describe(images [][][]float32) ([][]float32, error) {
	if x.Head == nil {
		if _, err := descriptor.ParsePooling(string(x.Pooling)); err != nil {
			return nil, fmt.Errorf("album: pooling %q needs its learned head (Extractor.Head)", x.Pooling)
		}
	}
	out := make([][]float32, len(images))
	for s, size := range x.sizes() {
		batch := make([][]float32, len(images))
		for i := range images {
			batch[i] = images[i][s]
		}
		maps, err := x.Backbone.Maps(batch, size)
		if err != nil {
			return nil, err
		}
		vecs := make([][]float32, len(maps))
		if x.Head != nil {
			if vecs, err = x.Head.Describe(maps); err != nil {
				return nil, err
			}
			if len(vecs) != len(maps) {
				return nil, fmt.Errorf("album: the head described %d of %d maps", len(vecs), len(maps))
			}
		} else {
			for i, m := range maps {
				vecs[i] = descriptor.Pool(x.Pooling, m)
			}
		}
		for i, v := range vecs {
			descriptor.Normalize(v)
			if out[i] == nil {
				out[i] = v
				continue
			}
			for j := range v {
				out[i][j] += v[j]
			}
		}
	}
	for _, v := range out {
		descriptor.Normalize(v)
	}
	return out, nil
}

// Files describes the files at paths, calling emit (from one goroutine)
// with each file's index and descriptor, or the error that stopped it; a
// file that cannot be read or decoded does not stop the others. Decoding
// runs on Workers goroutines while the network runs the previous batch.
func (x *Extractor) Files(ctx context.Context, paths []string, emit func(i int, vec []float32, err error)) error {
	workers := x.Workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	batchSize := x.Batch
	if batchSize <= 0 {
		batchSize = 16
	}
	type decoded struct {
		i      int
		scaled [][]float32
		err    error
	}
	jobs := make(chan int)
	results := make(chan decoded, 2*batchSize)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				img, err := imageio.Decode(paths[i], x.Limits)
				d := decoded{i: i, err: err}
				if err == nil {
					for _, size := range x.sizes() {
						d.scaled = append(d.scaled, imageio.Square(img, size, x.Backbone.Config.Fit))
					}
				}
				select {
				case results <- d:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		defer close(jobs)
		for i := range paths {
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()

	var batch []decoded
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		images := make([][][]float32, len(batch))
		for i, d := range batch {
			images[i] = d.scaled
		}
		vecs, err := x.describe(images)
		if err != nil {
			return fmt.Errorf("album: %w", err)
		}
		for i, d := range batch {
			emit(d.i, vecs[i], nil)
		}
		batch = batch[:0]
		return nil
	}
	for d := range results {
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.err != nil {
			emit(d.i, nil, d.err)
			continue
		}
		batch = append(batch, d)
		// Run a full batch, or a partial one when no decoded image is
		// waiting, so that the network never waits on a slow decode.
		if len(batch) == batchSize || len(results) == 0 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	return ctx.Err()
}

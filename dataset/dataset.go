// Package dataset reads labelled image collections into memory and defines
// the evaluation protocols (which images are queries, training images and
// the database) that every reported figure names.
package dataset

import (
	"errors"
	"fmt"
)

// ErrNotFound is returned when a dataset's files are missing.
var ErrNotFound = errors.New("dataset: not found")

// Set is a labelled set of images in one flat float32 buffer, each image
// Height x Width x Channels values in [0, 1], row-major with the channel
// last (the layout the encoder networks take).
type Set struct {
	Height, Width, Channels int
	// Pixels holds Len() images back to back.
	Pixels []float32
	// Labels holds one class label per image; -1 where unknown.
	Labels []int32
}

// Len returns the number of images.
func (s *Set) Len() int { return len(s.Labels) }

// ImageSize returns the number of float32 values of one image.
func (s *Set) ImageSize() int { return s.Height * s.Width * s.Channels }

// Image returns the pixels of image i, sharing storage with the set.
func (s *Set) Image(i int) []float32 {
	n := s.ImageSize()
	return s.Pixels[i*n : (i+1)*n]
}

// Subset returns a new set holding copies of the images at the given
// positions, in that order.
func (s *Set) Subset(positions []int) (*Set, error) {
	n := s.ImageSize()
	out := &Set{Height: s.Height, Width: s.Width, Channels: s.Channels,
		Pixels: make([]float32, 0, len(positions)*n), Labels: make([]int32, 0, len(positions))}
	for _, p := range positions {
		if p < 0 || p >= s.Len() {
			return nil, fmt.Errorf("dataset: position %d out of range [0, %d)", p, s.Len())
		}
		out.Pixels = append(out.Pixels, s.Image(p)...)
		out.Labels = append(out.Labels, s.Labels[p])
	}
	return out, nil
}

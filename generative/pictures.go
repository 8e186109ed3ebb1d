package generative

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"

	"github.com/lookalike/lookalike/codes"
	"github.com/lookalike/lookalike/eval"
)

// GridColumns is the number of images on a row of the samples grid.
const GridColumns = 8

// Grid lays out n real images above each other's generated counterpart:
// rows of GridColumns real images alternate with the rows of the
// generated images at the same positions (the reconstructions, or the
// samples for the same labels), with a 1-pixel grey border between
// cells. Both slices hold n images of height x width x channels values in
// [0, 1] (channels 1 or 3); values outside are clipped.
func Grid(real, generated []float32, n, height, width, channels int) (*image.RGBA, error) {
	size := height * width * channels
	switch {
	case n < 1 || height < 1 || width < 1:
		return nil, fmt.Errorf("generative: grid of %d images of %dx%d", n, height, width)
	case channels != 1 && channels != 3:
		return nil, fmt.Errorf("generative: grid of %d-channel images (1 or 3)", channels)
	case len(real) != n*size || len(generated) != n*size:
		return nil, fmt.Errorf("generative: grid of %d images of %d values from %d real and %d generated values", n, size, len(real), len(generated))
	}
	cols := min(n, GridColumns)
	bands := (n + cols - 1) / cols
	img := image.NewRGBA(image.Rect(0, 0, cols*(width+1)+1, 2*bands*(height+1)+1))
	grey := color.RGBA{128, 128, 128, 255}
	for y := range img.Bounds().Dy() {
		for x := range img.Bounds().Dx() {
			img.SetRGBA(x, y, grey)
		}
	}
	for i := range n {
		col, band := i%cols, i/cols
		x0 := 1 + col*(width+1)
		for k, src := range [][]float32{real, generated} {
			y0 := 1 + (2*band+k)*(height+1)
			drawImage(img, src[i*size:(i+1)*size], x0, y0, height, width, channels)
		}
	}
	return img, nil
}

func drawImage(img *image.RGBA, px []float32, x0, y0, height, width, channels int) {
	for y := range height {
		for x := range width {
			var rgb [3]uint8
			for ch := range 3 {
				rgb[ch] = level(px[(y*width+x)*channels+min(ch, channels-1)])
			}
			img.SetRGBA(x0+x, y0+y, color.RGBA{rgb[0], rgb[1], rgb[2], 255})
		}
	}
}

// level maps [0, 1] to 0..255, clipping outside and mapping NaN to 0.
func level(v float32) uint8 {
	if !(v > 0) {
		return 0
	}
	if v >= 1 {
		return 255
	}
	return uint8(v*255 + 0.5)
}

// WriteGrid writes Grid's image to path as PNG.
func WriteGrid(path string, real, generated []float32, n, height, width, channels int) error {
	img, err := Grid(real, generated, n, height, width, channels)
	if err != nil {
		return err
	}
	return codes.AtomicWrite(path, func(w io.Writer) error { return png.Encode(w, img) })
}

// CurvePoints is the most points a curve of WriteCurves draws: longer
// runs are averaged over windows of consecutive steps, which also smooths
// the noise of single mini-batches.
const CurvePoints = 300

// Curves returns the line plot of the scalars of each step: values[s][k]
// is scalar names[k] at step s+1. The plot's axis runs from 0 to 1, so
// each curve is rescaled from its own [min, max], written in its label;
// what the picture shows is the shape of each curve (a discriminator loss
// falling to 0, a generator loss climbing), not their relative sizes.
func Curves(title string, names []string, values [][]float64) (eval.LinePlot, error) {
	if len(names) == 0 || len(values) == 0 {
		return eval.LinePlot{}, errors.New("generative: no curves to plot")
	}
	for s, v := range values {
		if len(v) != len(names) {
			return eval.LinePlot{}, fmt.Errorf("generative: step %d has %d values for %d curves", s+1, len(v), len(names))
		}
	}
	window := (len(values) + CurvePoints - 1) / CurvePoints
	p := eval.LinePlot{Title: title, XLabel: "step", YLabel: "scaled", XMin: 0, XMax: float64(len(values))}
	for k, name := range names {
		var xs, ys []float64
		lo, hi := math.Inf(1), math.Inf(-1)
		for start := 0; start < len(values); start += window {
			end := min(start+window, len(values))
			sum, count := 0.0, 0
			for _, v := range values[start:end] {
				if !math.IsNaN(v[k]) && !math.IsInf(v[k], 0) {
					sum += v[k]
					count++
				}
			}
			if count == 0 {
				continue
			}
			y := sum / float64(count)
			xs, ys = append(xs, float64(end)), append(ys, y)
			lo, hi = min(lo, y), max(hi, y)
		}
		for i := range ys {
			if hi > lo {
				ys[i] = (ys[i] - lo) / (hi - lo)
			} else {
				ys[i] = 0.5
			}
		}
		label := fmt.Sprintf("%s (%.4g .. %.4g)", name, lo, hi)
		if len(ys) == 0 {
			label = name + " (no finite value)"
		}
		p.Series = append(p.Series, eval.Series{Label: label, X: xs, Y: ys})
	}
	return p, nil
}

// WriteCurves writes Curves' plot to path, as PNG or SVG by its extension.
func WriteCurves(path, title string, names []string, values [][]float64) error {
	p, err := Curves(title, names, values)
	if err != nil {
		return err
	}
	return p.Write(path)
}

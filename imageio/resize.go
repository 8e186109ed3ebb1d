package imageio

import (
	"image"
	"image/color"
)

// RGB returns img's pixels as float32 red, green, blue in [0, 1], row by
// row (height x width x 3). Transparent pixels are composited over white,
// the background a viewer shows them on. The common decoder outputs
// (YCbCr JPEGs, RGBA and NRGBA PNGs, gray images) take loops without
// per-pixel interface calls.
func RGB(img image.Image) (pix []float32, width, height int) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	pix = make([]float32, 0, w*h*3)
	const s = 1.0 / 255
	switch m := img.(type) {
	case *image.YCbCr:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				yi, ci := m.YOffset(x, y), m.COffset(x, y)
				r, g, bl := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
				pix = append(pix, float32(r)*s, float32(g)*s, float32(bl)*s)
			}
		}
	case *image.Gray:
		for y := 0; y < h; y++ {
			for _, v := range m.Pix[y*m.Stride : y*m.Stride+w] {
				pix = append(pix, float32(v)*s, float32(v)*s, float32(v)*s)
			}
		}
	case *image.RGBA: // premultiplied
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			for i := 0; i < len(row); i += 4 {
				white := float32(255-row[i+3]) * s
				pix = append(pix, float32(row[i])*s+white, float32(row[i+1])*s+white, float32(row[i+2])*s+white)
			}
		}
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			for i := 0; i < len(row); i += 4 {
				a := float32(row[i+3]) * s
				pix = append(pix, float32(row[i])*s*a+1-a, float32(row[i+1])*s*a+1-a, float32(row[i+2])*s*a+1-a)
			}
		}
	default:
		const s16 = 1.0 / 0xffff
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl, a := img.At(x, y).RGBA() // premultiplied
				white := float32(0xffff-a) * s16
				pix = append(pix, float32(r)*s16+white, float32(g)*s16+white, float32(bl)*s16+white)
			}
		}
	}
	return pix, w, h
}

// Fit says how an image takes a square network input.
type Fit int

const (
	// Squash resizes the whole image to the square, changing its aspect
	// ratio; nothing is cut off, which suits near-duplicate search.
	Squash Fit = iota
	// CenterCrop resizes the shorter side to the square's and cuts the
	// centre out of the longer one, as ImageNet evaluation does.
	CenterCrop
)

// Square returns img as a size x size x 3 RGB array in [0, 1].
func Square(img image.Image, size int, fit Fit) []float32 {
	pix, w, h := RGB(img)
	if fit == CenterCrop && w != h {
		side := min(w, h)
		x0, y0 := (w-side)/2, (h-side)/2
		cropped := make([]float32, 0, side*side*3)
		for y := y0; y < y0+side; y++ {
			cropped = append(cropped, pix[(y*w+x0)*3:(y*w+x0+side)*3]...)
		}
		pix, w, h = cropped, side, side
	}
	return Resize(pix, w, h, size, size)
}

// Resize resamples an RGB array (height x width x 3) to outH x outW by
// area averaging: each output pixel is the mean of the source area it
// covers, with fractional weights at its edges. Shrinking is thereby
// antialiased; enlarging repeats source pixels.
func Resize(pix []float32, w, h, outW, outH int) []float32 {
	if w == outW && h == outH {
		return pix
	}
	cols := areaWeights(w, outW)
	rows := areaWeights(h, outH)
	// Horizontal pass: h x outW x 3.
	tmp := make([]float32, h*outW*3)
	for y := 0; y < h; y++ {
		src := pix[y*w*3 : (y+1)*w*3]
		dst := tmp[y*outW*3 : (y+1)*outW*3]
		for x, taps := range cols {
			var r, g, b float32
			for _, t := range taps {
				p := src[t.index*3:]
				r, g, b = r+t.weight*p[0], g+t.weight*p[1], b+t.weight*p[2]
			}
			dst[x*3], dst[x*3+1], dst[x*3+2] = r, g, b
		}
	}
	// Vertical pass.
	out := make([]float32, outH*outW*3)
	for y, taps := range rows {
		dst := out[y*outW*3 : (y+1)*outW*3]
		for _, t := range taps {
			src := tmp[t.index*outW*3 : (t.index+1)*outW*3]
			for i, v := range src {
				dst[i] += t.weight * v
			}
		}
	}
	return out
}

type tap struct {
	index  int
	weight float32
}

// areaWeights returns, for each of the n output cells along an axis of
// size src, the source cells it covers and their weights (summing to 1).
func areaWeights(src, n int) [][]tap {
	out := make([][]tap, n)
	scale := float64(src) / float64(n)
	for i := range out {
		lo, hi := float64(i)*scale, float64(i+1)*scale
		if scale < 1 { // enlarging: the source cell under the centre
			out[i] = []tap{{index: min(int((lo+hi)/2), src-1), weight: 1}}
			continue
		}
		for j := int(lo); j < src && float64(j) < hi; j++ {
			cover := min(hi, float64(j+1)) - max(lo, float64(j))
			if cover > 1e-9 {
				out[i] = append(out[i], tap{index: j, weight: float32(cover / scale)})
			}
		}
	}
	return out
}

// Package descriptor turns the convolutional feature maps of a pretrained
// CNN into global image descriptors: the poolings of the off-the-shelf
// and neural-code literature (MAC, SPoC, GeM, R-MAC), L2 normalization and
// PCA whitening with dimension reduction.
package descriptor

import (
	"fmt"
	"math"
)

// Map is one image's feature map: C channels of H x W activations,
// channel-major (the NCHW layout of one image).
type Map struct {
	C, H, W int
	Data    []float32
}

func (m Map) at(c, y, x int) float32 { return m.Data[(c*m.H+y)*m.W+x] }

// Pooling names a way of pooling a feature map into a vector of C values.
type Pooling string

// The poolings.
const (
	// MAC is the maximum of each channel (Tolias, Sicre, Jégou, "Particular
	// object retrieval with integral max-pooling of CNN activations", ICLR
	// 2016; Razavian et al.'s spatial max pooling).
	MAC Pooling = "mac"
	// SPoC is the mean of each channel (Babenko and Lempitsky, "Aggregating
	// local deep features for image retrieval", ICCV 2015, without the
	// centre prior).
	SPoC Pooling = "spoc"
	// GeM is the generalized mean (mean x^p)^(1/p) with p = 3 (Radenović,
	// Tolias, Chum, "Fine-tuning CNN image retrieval with no human
	// annotation", TPAMI 2018): between SPoC (p = 1) and MAC (p -> inf).
	GeM Pooling = "gem"
	// RMAC is regional MAC (Tolias et al. 2016, as Gordo et al. 2016 use
	// it): the MACs of square regions at three scales, each L2-normalized,
	// summed with the global MAC.
	RMAC Pooling = "rmac"
)

// Poolings lists every pooling.
var Poolings = []Pooling{MAC, SPoC, GeM, RMAC}

// ParsePooling returns the pooling named s.
func ParsePooling(s string) (Pooling, error) {
	for _, p := range Poolings {
		if string(p) == s {
			return p, nil
		}
	}
	return "", fmt.Errorf("unknown pooling %q (want mac, spoc, gem or rmac)", s)
}

// GeMPower is GeM's p.
const GeMPower = 3

// Pool pools m with p; the result is not normalized.
func Pool(p Pooling, m Map) []float32 {
	switch p {
	case MAC:
		return RegionMAC(m, 0, 0, m.H, m.W)
	case SPoC:
		out := make([]float32, m.C)
		for c := range out {
			var s float64
			for _, v := range m.Data[c*m.H*m.W : (c+1)*m.H*m.W] {
				s += float64(v)
			}
			out[c] = float32(s / float64(m.H*m.W))
		}
		return out
	case GeM:
		out := make([]float32, m.C)
		for c := range out {
			var s float64
			for _, v := range m.Data[c*m.H*m.W : (c+1)*m.H*m.W] {
				s += math.Pow(math.Max(float64(v), 1e-6), GeMPower)
			}
			out[c] = float32(math.Pow(s/float64(m.H*m.W), 1.0/GeMPower))
		}
		return out
	case RMAC:
		return rmac(m)
	}
	panic(fmt.Sprintf("descriptor: unknown pooling %q", p))
}

// RegionMAC returns the channel maxima over rows [y0, y0+h) and columns
// [x0, x0+w), not normalized.
func RegionMAC(m Map, y0, x0, h, w int) []float32 {
	out := make([]float32, m.C)
	for c := range out {
		best := float32(math.Inf(-1))
		for y := y0; y < y0+h; y++ {
			for x := x0; x < x0+w; x++ {
				best = max(best, m.at(c, y, x))
			}
		}
		out[c] = best
	}
	return out
}

// Regions returns the R-MAC regions of an h x w map as (y, x, side)
// squares: at level l = 1..3 squares of side floor(2 min(h,w) / (l+1)),
// l (plus the extra count chosen for the longer side) per axis, evenly
// spaced, consecutive ones overlapping by about 40%. This follows the
// region sampling of Tolias et al.'s code as Radenović et al.'s
// cnnimageretrieval-pytorch writes it.
func Regions(h, w int) [][3]int {
	const levels = 3
	const overlap = 0.4
	side := min(h, w)
	// Extra regions along the longer side: the count among 1..6 whose
	// overlap is nearest 40%.
	extra := 0
	if h != w {
		best := math.Inf(1)
		for i, steps := range []float64{2, 3, 4, 5, 6, 7} {
			b := float64(max(h, w)-side) / (steps - 1)
			d := math.Abs((float64(side*side)-float64(side)*b)/float64(side*side) - overlap)
			if d < best {
				best, extra = d, i+1
			}
		}
	}
	extraW, extraH := 0, 0
	if h < w {
		extraW = extra
	} else if h > w {
		extraH = extra
	}
	var out [][3]int
	for l := 1; l <= levels; l++ {
		wl := 2 * side / (l + 1)
		if wl == 0 {
			continue
		}
		half := math.Floor(float64(wl)/2 - 1)
		starts := func(size, extra int) []int {
			n := l + extra
			b := 0.0
			if n > 1 {
				b = float64(size-wl) / float64(n-1)
			}
			s := make([]int, n)
			for i := range s {
				s[i] = int(math.Floor(half+float64(i)*b) - half)
			}
			return s
		}
		for _, y := range starts(h, extraH) {
			for _, x := range starts(w, extraW) {
				out = append(out, [3]int{y, x, wl})
			}
		}
	}
	return out
}

// rmac sums the L2-normalized global MAC and regional MACs.
func rmac(m Map) []float32 {
	sum := RegionMAC(m, 0, 0, m.H, m.W)
	Normalize(sum)
	for _, r := range Regions(m.H, m.W) {
		v := RegionMAC(m, r[0], r[1], r[2], r[2])
		Normalize(v)
		for i := range sum {
			sum[i] += v[i]
		}
	}
	return sum
}

// Normalize scales v to unit L2 norm in place (a zero vector stays zero).
func Normalize(v []float32) {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return
	}
	inv := float32(1 / math.Sqrt(s))
	for i := range v {
		v[i] *= inv
	}
}

package album

import (
	"image"
	"image/color"
	"math"
	"strings"
	"testing"

	"github.com/lookalike/lookalike/backbone"
	"github.com/lookalike/lookalike/descriptor"
)

// sumHead is a learned pooling for tests: each map's total activation
// and its size.
type sumHead struct{ calls int }

func (h *sumHead) Describe(maps []descriptor.Map) ([][]float32, error) {
	h.calls++
	out := make([][]float32, len(maps))
	for i, m := range maps {
		var s float32
		for _, v := range m.Data {
			s += v
		}
		out[i] = []float32{s, float32(m.H * m.W)}
	}
	return out, nil
}

// TestExtractor_Head: a head pools in place of Pooling, once per scale,
// and its vectors are normalized and averaged like pooled ones; a
// learned pooling without its head is an error.
func TestExtractor_Head(t *testing.T) {
	bb, err := backbone.Default("", 0)
	if err != nil {
		t.Skip(err)
	}
	defer bb.Close()
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	img.Set(0, 0, color.White)
	h := &sumHead{}
	x := &Extractor{Backbone: bb, Pooling: "gordo", Sizes: []int{224, 256}, Head: h}
	v, err := x.Image(img)
	if err != nil {
		t.Fatal(err)
	}
	if h.calls != 2 || len(v) != 2 || math.Abs(float64(v[0]*v[0]+v[1]*v[1])-1) > 1e-5 {
		t.Errorf("%d calls, descriptor %v", h.calls, v)
	}
	x.Head = nil
	if _, err := x.Image(img); err == nil || !strings.Contains(err.Error(), "needs its learned head") {
		t.Errorf("no head: %v", err)
	}
}

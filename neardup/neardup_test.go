package neardup

import (
	"image"
	"image/color"
	"math/rand/v2"
	"testing"
)

func testImage() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, 120, 80))
	for y := 0; y < 80; y++ {
		for x := 0; x < 120; x++ {
			img.Set(x, y, color.RGBA{uint8(2 * x), uint8(3 * y), uint8(x ^ y), 255})
		}
	}
	return img
}

func TestBuild(t *testing.T) {
	orig := []image.Image{testImage(), testImage()}
	a, err := Build(orig, 7)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 2*len(Edits) || a[len(Edits)].Original != 1 || a[0].Edit != "crop" {
		t.Fatalf("%d copies, second original's first %+v", len(a), a[len(Edits)])
	}
	// The same seed gives the same copies.
	b, _ := Build(orig, 7)
	for i := range a {
		if string(a[i].Image.Pix) != string(b[i].Image.Pix) {
			t.Fatalf("copy %d (%s) differs between runs", i, a[i].Edit)
		}
	}
	for _, c := range a {
		w, h := c.Image.Bounds().Dx(), c.Image.Bounds().Dy()
		switch c.Edit {
		case "crop":
			if f := float64(w*h) / (120 * 80); f < 0.15 || f > 0.95 {
				t.Errorf("crop keeps %.2f of the area, want 0.2-0.9", f)
			}
		case "scale":
			if w < 36 || w > 84 || h < 24 || h > 56 {
				t.Errorf("scaled to %dx%d, want 30-70%% of 120x80", w, h)
			}
		default:
			if w != 120 || h != 80 {
				t.Errorf("%s changed the size to %dx%d", c.Edit, w, h)
			}
		}
	}
}

func TestFlip(t *testing.T) {
	img := testImage()
	f, _ := flip(img, nil)
	if f.RGBAAt(0, 5) != img.RGBAAt(119, 5) || f.RGBAAt(119, 7) != img.RGBAAt(0, 7) {
		t.Error("flip is not a left-right mirror")
	}
}

func TestTextChangesPixels(t *testing.T) {
	img := testImage()
	out, _ := overlayText(img, rand.New(rand.NewPCG(1, 2)))
	changed := 0
	for i := range img.Pix {
		if img.Pix[i] != out.Pix[i] {
			changed++
		}
	}
	if changed == 0 {
		t.Error("no pixel changed")
	}
}

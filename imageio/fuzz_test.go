package imageio

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

// FuzzDecodeReader feeds arbitrary bytes to the decoder behind every
// upload and folder scan: it must return an image within the limits or an
// error, never panic, and never decode past the pixel limit.
func FuzzDecodeReader(f *testing.F) {
	img := image.NewRGBA(image.Rect(0, 0, 3, 2))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 37)
	}
	encoders := []func(*bytes.Buffer) error{
		func(b *bytes.Buffer) error { return png.Encode(b, img) },
		func(b *bytes.Buffer) error { return jpeg.Encode(b, img, nil) },
		func(b *bytes.Buffer) error {
			return gif.Encode(b, image.NewPaletted(img.Rect, color.Palette{color.Black, color.White}), nil)
		},
		func(b *bytes.Buffer) error { return bmp.Encode(b, img) },
		func(b *bytes.Buffer) error { return tiff.Encode(b, img, nil) },
	}
	for _, enc := range encoders {
		var b bytes.Buffer
		if err := enc(&b); err != nil {
			f.Fatal(err)
		}
		f.Add(b.Bytes())
	}
	f.Add([]byte("PK\x03\x04 a zip renamed .png"))
	f.Add([]byte("RIFF\x00\x00\x00\x00WEBPVP8 "))
	lim := Limits{MaxBytes: 1 << 20, MaxPixels: 1 << 16}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := DecodeReader(bytes.NewReader(data), lim)
		if err != nil {
			if got != nil {
				t.Fatalf("an image and an error: %v", err)
			}
			return
		}
		b := got.Bounds()
		if b.Dx() < 1 || b.Dy() < 1 {
			t.Fatalf("decoded an empty image %v without error", b)
		}
		if int64(b.Dx())*int64(b.Dy()) > lim.MaxPixels && !errors.Is(err, ErrTooLarge) {
			t.Fatalf("decoded %v, over the %d-pixel limit", b, lim.MaxPixels)
		}
	})
}

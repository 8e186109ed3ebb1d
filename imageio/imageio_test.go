package imageio

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

func TestAreaWeights(t *testing.T) {
	// Three source cells into two: [0, 1.5) and [1.5, 3).
	got := areaWeights(3, 2)
	want := [][]tap{{{0, 2.0 / 3}, {1, 1.0 / 3}}, {{1, 1.0 / 3}, {2, 2.0 / 3}}}
	for i := range want {
		for j := range want[i] {
			if got[i][j].index != want[i][j].index || math.Abs(float64(got[i][j].weight-want[i][j].weight)) > 1e-6 {
				t.Fatalf("areaWeights(3, 2) = %v, want %v", got, want)
			}
		}
	}
}

func TestResize(t *testing.T) {
	// 2x2 pixels, one channel value each (repeated in r, g, b): shrunk to
	// 1x1 they average to 2.5; a 1x2 row [1 3] enlarged to 1x4 repeats.
	pix := []float32{1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4}
	if got := Resize(pix, 2, 2, 1, 1); got[0] != 2.5 {
		t.Errorf("2x2 -> 1x1 = %v, want 2.5", got)
	}
	got := Resize([]float32{1, 1, 1, 3, 3, 3}, 2, 1, 4, 1)
	if got[0] != 1 || got[3] != 1 || got[6] != 3 || got[9] != 3 {
		t.Errorf("[1 3] -> 4 wide = %v", got)
	}
}

func TestOrient(t *testing.T) {
	// A 2x1 image [red green]: turned 90 degrees clockwise (6) it is a
	// column, red on top; mirrored (2) it is [green red].
	img := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	red, green := color.NRGBA{255, 0, 0, 255}, color.NRGBA{0, 255, 0, 255}
	img.Set(0, 0, red)
	img.Set(1, 0, green)
	r := Orient(img, 6)
	if r.Bounds().Dx() != 1 || r.Bounds().Dy() != 2 || !same(r.At(0, 0), red) || !same(r.At(0, 1), green) {
		t.Errorf("orientation 6: %v, %v %v", r.Bounds(), r.At(0, 0), r.At(0, 1))
	}
	m := Orient(img, 2)
	if !same(m.At(0, 0), green) || !same(m.At(1, 0), red) {
		t.Errorf("orientation 2: %v %v", m.At(0, 0), m.At(1, 0))
	}
}

func same(a, b color.Color) bool {
	r1, g1, b1, a1 := a.RGBA()
	r2, g2, b2, a2 := b.RGBA()
	return r1 == r2 && g1 == g2 && b1 == b2 && a1 == a2
}

// withOrientation inserts an APP1 EXIF segment holding orientation o after
// a JPEG's start-of-image marker.
func withOrientation(jpg []byte, o uint16) []byte {
	tiffData := []byte("MM\x00\x2a\x00\x00\x00\x08") // big-endian, IFD at 8
	tiffData = binary.BigEndian.AppendUint16(tiffData, 1)
	tiffData = binary.BigEndian.AppendUint16(tiffData, 0x0112) // tag
	tiffData = binary.BigEndian.AppendUint16(tiffData, 3)      // SHORT
	tiffData = binary.BigEndian.AppendUint32(tiffData, 1)      // count
	tiffData = binary.BigEndian.AppendUint16(tiffData, o)
	tiffData = append(tiffData, 0, 0, 0, 0, 0, 0) // padding, next IFD 0
	seg := append([]byte("Exif\x00\x00"), tiffData...)
	app1 := []byte{0xff, 0xe1}
	app1 = binary.BigEndian.AppendUint16(app1, uint16(len(seg)+2))
	app1 = append(app1, seg...)
	return append(append(append([]byte{}, jpg[:2]...), app1...), jpg[2:]...)
}

func TestDecode(t *testing.T) {
	dir := t.TempDir()
	img := image.NewRGBA(image.Rect(0, 0, 4, 2))
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	encode := func(enc func(*bytes.Buffer) error) []byte {
		var b bytes.Buffer
		if err := enc(&b); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	jpg := encode(func(b *bytes.Buffer) error { return jpeg.Encode(b, img, nil) })
	pngData := encode(func(b *bytes.Buffer) error { return png.Encode(b, img) })

	// Decodable formats, and a JPEG whose EXIF says to turn it.
	for _, tc := range []struct {
		name string
		data []byte
		w, h int
	}{
		{"a.jpg", jpg, 4, 2},
		{"a.png", pngData, 4, 2},
		{"a.bmp", encode(func(b *bytes.Buffer) error { return bmp.Encode(b, img) }), 4, 2},
		{"a.tif", encode(func(b *bytes.Buffer) error { return tiff.Encode(b, img, nil) }), 4, 2},
		{"turned.jpg", withOrientation(jpg, 6), 2, 4},
		// x/image has no WebP encoder: the 1x1 lossless and lossy images
		// that browsers' feature tests (Modernizr) decode.
		{"lossless.webp", mustBase64(t, "UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA=="), 1, 1},
		{"lossy.webp", mustBase64(t, "UklGRiIAAABXRUJQVlA4IBYAAAAwAQCdASoBAAEADsD+JaQAA3AAAAAA"), 1, 1},
	} {
		got, err := Decode(write(tc.name, tc.data), DefaultLimits)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if b := got.Bounds(); b.Dx() != tc.w || b.Dy() != tc.h {
			t.Errorf("%s: %dx%d, want %dx%d", tc.name, b.Dx(), b.Dy(), tc.w, tc.h)
		}
	}

	// A PNG whose header declares 30000x30000 pixels is refused from the
	// header (its pixel data is absent).
	bomb := append([]byte{}, pngData...)
	binary.BigEndian.PutUint32(bomb[16:], 30000)
	binary.BigEndian.PutUint32(bomb[20:], 30000)
	binary.BigEndian.PutUint32(bomb[29:], crc32.ChecksumIEEE(bomb[12:29]))
	if _, err := Decode(write("bomb.png", bomb), DefaultLimits); !errors.Is(err, ErrTooLarge) {
		t.Errorf("30000x30000 PNG: err = %v, want ErrTooLarge", err)
	}
	// So is a file over the byte limit.
	if _, err := Decode(write("big.png", pngData), Limits{MaxBytes: 10}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("byte limit: err = %v", err)
	}
	// Text named .jpg, a truncated JPEG and a directory are errors.
	for name, data := range map[string][]byte{"text.jpg": []byte("hello"), "cut.jpg": jpg[:len(jpg)/2]} {
		if _, err := Decode(write(name, data), DefaultLimits); err == nil {
			t.Errorf("%s decoded", name)
		}
	}
	if _, err := Decode(dir, DefaultLimits); err == nil || !strings.Contains(err.Error(), "regular") {
		t.Errorf("directory: err = %v", err)
	}
}

func mustBase64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRGBTransparency(t *testing.T) {
	// A fully transparent pixel is white; an opaque one keeps its colour.
	img := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	img.Set(1, 0, color.NRGBA{0, 0, 255, 255})
	pix, _, _ := RGB(img)
	want := []float32{1, 1, 1, 0, 0, 1}
	for i := range want {
		if pix[i] != want[i] {
			t.Fatalf("RGB = %v, want %v", pix, want)
		}
	}
}

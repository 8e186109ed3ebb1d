package dataset

import (
	"bytes"
	"compress/gzip"
	"errors"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// idxBytes builds an idx file of unsigned bytes.
func idxBytes(dims []int, data []byte) []byte {
	b := []byte{0, 0, 0x08, byte(len(dims))}
	for _, d := range dims {
		b = append(b, byte(d>>24), byte(d>>16), byte(d>>8), byte(d))
	}
	return append(b, data...)
}

func writeGz(t *testing.T, path string, b []byte) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReadIdx(t *testing.T) {
	dir := t.TempDir()
	img, lab := filepath.Join(dir, "i.gz"), filepath.Join(dir, "l.gz")
	writeGz(t, img, idxBytes([]int{2, 1, 2}, []byte{0, 255, 51, 102}))
	writeGz(t, lab, idxBytes([]int{2}, []byte{7, 3}))
	s, err := ReadIdx(img, lab)
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 2 || s.Height != 1 || s.Width != 2 || s.Labels[0] != 7 || s.Labels[1] != 3 {
		t.Fatalf("got %+v", s)
	}
	if want := []float32{0, 1, 0.2, 0.4}; s.Pixels[1] != want[1] || s.Pixels[2] != want[2] || s.Pixels[3] != want[3] {
		t.Fatalf("pixels %v, want %v", s.Pixels, want)
	}
}

func TestReadIdx_Bad(t *testing.T) {
	dir := t.TempDir()
	good := idxBytes([]int{2, 1, 2}, []byte{0, 1, 2, 3})
	labels := filepath.Join(dir, "l")
	os.WriteFile(labels, idxBytes([]int{2}, []byte{0, 1}), 0o644)
	tests := []struct {
		name string
		data []byte
		gz   bool
	}{
		{"wrong magic", append([]byte{1, 2, 3, 4}, good[4:]...), false},
		{"float type", append([]byte{0, 0, 0x0D, 3}, good[4:]...), false},
		{"short header", good[:6], false},
		{"truncated data", good[:len(good)-1], false},
		{"not gzip", good, true},
		{"empty", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "x")
			if tc.gz {
				path += ".gz"
			}
			os.WriteFile(path, tc.data, 0o644)
			_, err := ReadIdx(path, labels)
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a FormatError", err)
			}
		})
	}
	if _, err := ReadIdx(filepath.Join(dir, "missing"), labels); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing file: %v, want ErrNotFound", err)
	}
}

func TestFirstPerClass(t *testing.T) {
	labels := []int32{1, 0, 1, 1, 2, 0, 0}
	got := FirstPerClass(labels, 2)
	want := []int{1, 5, 0, 2, 4}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

func TestReadFolder(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []string{"b_cats", "a_dogs"} {
		os.MkdirAll(filepath.Join(dir, c, "sub"), 0o755)
	}
	// A 4x4 image, white on the left half: resized to 2x2 gray it is [1 0; 1 0].
	img := image.NewGray(image.Rect(0, 0, 4, 4))
	for y := 0; y < 4; y++ {
		img.SetGray(0, y, color.Gray{255})
		img.SetGray(1, y, color.Gray{255})
	}
	var buf bytes.Buffer
	png.Encode(&buf, img)
	os.WriteFile(filepath.Join(dir, "a_dogs", "sub", "d.png"), buf.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, "b_cats", "c.png"), buf.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, "b_cats", "notes.jpg"), []byte("not an image"), 0o644)
	os.WriteFile(filepath.Join(dir, "b_cats", "cut.png"), buf.Bytes()[:40], 0o644)
	f, err := ReadFolder(dir, 2, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if f.Len() != 2 || f.Labels[0] != 0 || f.Labels[1] != 1 || f.Classes[0] != "a_dogs" {
		t.Fatalf("got %d images, labels %v, classes %v", f.Len(), f.Labels, f.Classes)
	}
	if len(f.Skipped) != 2 {
		t.Fatalf("skipped %v, want the text file and the truncated PNG", f.Skipped)
	}
	if p := f.Image(0); p[0] != 1 || p[1] != 0 || p[2] != 1 || p[3] != 0 {
		t.Fatalf("resized pixels %v, want [1 0 1 0]", p)
	}
	if _, err := ReadFolder(filepath.Join(dir, "none"), 2, 2, 1); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing folder: %v", err)
	}
}

func TestLoadImage_TooLarge(t *testing.T) {
	// A PNG header claiming 30000x30000 pixels is refused before decoding.
	img := image.NewGray(image.Rect(0, 0, 1, 1))
	var buf bytes.Buffer
	png.Encode(&buf, img)
	b := buf.Bytes()
	// IHDR width and height live at bytes 16..24; the CRC no longer
	// matches, but DecodeConfig reads the size first.
	for i, v := range []byte{0, 0, 0x75, 0x30, 0, 0, 0x75, 0x30} {
		b[16+i] = v
	}
	path := filepath.Join(t.TempDir(), "huge.png")
	os.WriteFile(path, b, 0o644)
	if _, err := LoadImage(path, 28, 28, 1); err == nil {
		t.Fatal("huge image accepted")
	}
}

package learned

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/lookalike/lookalike/backbone"
)

// noise is a w x h image of seeded random colours: two such images are
// far apart by the thumbnail rule.
func noise(seed uint64, w, h int) *image.RGBA {
	rng := rand.New(rand.NewPCG(seed, 9))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(rng.IntN(256))
	}
	for i := 3; i < len(img.Pix); i += 4 {
		img.Pix[i] = 255
	}
	return img
}

func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	var b bytes.Buffer
	png.Encode(&b, img)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestPick: images are taken in turn from each folder; small images,
// near-duplicates of earlier picks and of excluded images are skipped.
func TestPick(t *testing.T) {
	dir := t.TempDir()
	writePNG(t, filepath.Join(dir, "animals", "a1.png"), noise(1, 80, 80))
	writePNG(t, filepath.Join(dir, "animals", "a2.png"), noise(2, 80, 80))
	writePNG(t, filepath.Join(dir, "animals", "tiny.png"), noise(3, 40, 80))
	writePNG(t, filepath.Join(dir, "food", "f1.png"), noise(4, 90, 70))
	writePNG(t, filepath.Join(dir, "food", "f1copy.png"), noise(4, 90, 70))
	writePNG(t, filepath.Join(dir, "food", "excluded.png"), noise(5, 64, 64))
	os.WriteFile(filepath.Join(dir, "food", "notes.txt"), []byte("x"), 0o644)
	got, err := Pick(dir, 10, 1, []image.Image{noise(5, 64, 64)})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, p := range got {
		names[filepath.Base(p)] = true
	}
	if len(got) != 3 || !names["a1.png"] || !names["a2.png"] || names["tiny.png"] || names["excluded.png"] ||
		!(names["f1.png"] != names["f1copy.png"]) {
		t.Errorf("picked %v", got)
	}
	// Round-robin: the first two picks come from different folders.
	if two, _ := Pick(dir, 2, 1, nil); len(two) != 2 || filepath.Dir(two[0]) == filepath.Dir(two[1]) {
		t.Errorf("first two picks %v", two)
	}
	if _, err := Pick(filepath.Join(dir, "none"), 3, 1, nil); err == nil {
		t.Error("a missing folder gave no error")
	}
}

// TestBuildSet describes two images and two edited copies of each with the
// default backbone: six maps, two groups, the originals as queries.
func TestBuildSet(t *testing.T) {
	bb, err := backbone.Default("", 0)
	if err != nil {
		t.Skip(err)
	}
	defer bb.Close()
	dir := t.TempDir()
	// A large transparent image is reduced and flattened on white.
	big := image.NewNRGBA(image.Rect(0, 0, 1200, 700))
	for i := 0; i < 1200*700; i++ {
		big.Set(i%1200, i/1200, color.NRGBA{uint8(i), 90, 40, uint8(i / 1200)})
	}
	writePNG(t, filepath.Join(dir, "big.png"), big)
	writePNG(t, filepath.Join(dir, "small.png"), noise(7, 96, 80))
	set, err := BuildSet(context.Background(), bb, []string{filepath.Join(dir, "big.png"), filepath.Join(dir, "small.png")}, 2, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Maps) != 6 || !reflect.DeepEqual(set.Groups, []int{0, 0, 0, 1, 1, 1}) || !reflect.DeepEqual(set.Queries, []int{0, 3}) {
		t.Fatalf("%d maps, groups %v, queries %v", len(set.Maps), set.Groups, set.Queries)
	}
	if m := set.Maps[0]; m.C != 1792 || m.H != 7 || m.W != 7 || set.Backbone != backbone.DefaultName {
		t.Errorf("map %dx%dx%d of %s", m.C, m.H, m.W, set.Backbone)
	}
	if _, err := BuildSet(context.Background(), bb, []string{filepath.Join(dir, "none.png")}, 2, 3, nil); err == nil {
		t.Error("a missing file gave no error")
	}
	if _, err := BuildSet(context.Background(), bb, nil, 9, 3, nil); err == nil {
		t.Error("9 edits per image accepted")
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lookalike/lookalike/album"
	"github.com/lookalike/lookalike/backbone"
	"github.com/lookalike/lookalike/descriptor"
	"github.com/lookalike/lookalike/learned"
)

// The benchmark's learned heads train, in tests, on a few of
// python3-skimage's photos (disjoint from the generated originals the
// tests benchmark) for one epoch, in seconds.
func init() {
	benchHeadTraining = headTraining{Images: DefaultPhotos, Originals: 6, Edits: 1, Seed: 1, Dim: 8, Epochs: 1}
}

// gordoHead is an untrained Gordo head of dim outputs for the default
// backbone's 1792 channels.
func gordoHead(dim int) *learned.Head {
	rng := rand.New(rand.NewPCG(1, 1))
	proj := make([]float32, 1792*dim)
	for i := range proj {
		proj[i] = float32(rng.NormFloat64())
	}
	return &learned.Head{Method: learned.Gordo, Backbone: backbone.DefaultName, Channels: 1792, Dim: dim,
		Vars: []learned.Var{{Name: "shift", Dims: []int{1792}, Data: make([]float32, 1792)}, {Name: "projection", Dims: []int{1792, dim}, Data: proj}}}
}

func writePhoto(t *testing.T, path string, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 2))
	img := image.NewRGBA(image.Rect(0, 0, 80, 64))
	for y := 0; y < 64; y++ {
		for x := 0; x < 80; x++ {
			img.Set(x, y, color.RGBA{uint8(rng.IntN(256)), uint8(x * 3), uint8(y * int(seed+1)), 255})
		}
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRun_PhotosLearned indexes photos with a learned pooling and a given
// head file, searches them, and checks the errors: a head of another
// method, no training images, a damaged head.
func TestRun_PhotosLearned(t *testing.T) {
	dir := t.TempDir()
	photos := filepath.Join(dir, "photos")
	os.MkdirAll(photos, 0o755)
	for i, name := range []string{"a.png", "b.png", "c.png"} {
		writePhoto(t, filepath.Join(photos, name), uint64(i))
	}
	headPath := filepath.Join(dir, "gordo.lkh")
	if err := gordoHead(8).Save(headPath); err != nil {
		t.Fatal(err)
	}
	idx := filepath.Join(dir, "photos.idx")
	code, _, stderr := runCLI(t, "index", "--index", idx, "--pooling", "gordo", "--head", headPath, photos)
	if code != 0 || !strings.Contains(stderr, "3 images indexed") || !strings.Contains(stderr, "8-d gordo descriptors") {
		t.Fatalf("index: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(idx, headFile)); err != nil {
		t.Errorf("the head is not in the index: %v", err)
	}
	code, out, stderr := runCLI(t, "search", "--index", idx, "--k", "3", "--json", filepath.Join(photos, "b.png"))
	var res struct {
		Pooling string        `json:"pooling"`
		Results []photoResult `json:"results"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || len(res.Results) != 3 || res.Pooling != "gordo" ||
		!strings.HasSuffix(res.Results[0].Path, "b.png") || res.Results[0].Score < 0.999 {
		t.Fatalf("search: exit %d, %s %s", code, out, stderr)
	}
	// A rerun without --head keeps the index's head and reads nothing.
	if code, _, stderr := runCLI(t, "index", "--index", idx, "--pooling", "gordo", photos); code != 0 || !strings.Contains(stderr, "3 unchanged") {
		t.Errorf("rerun: exit %d: %s", code, stderr)
	}

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"head of another method", []string{"index", "--index", filepath.Join(dir, "s.idx"), "--pooling", "solar", "--head", headPath, photos}, "holds a gordo head"},
		{"head without learned pooling", []string{"index", "--index", filepath.Join(dir, "g.idx"), "--head", headPath, photos}, "--head goes with"},
		{"no training images", []string{"index", "--index", filepath.Join(dir, "n.idx"), "--pooling", "solar", "--head-images", filepath.Join(dir, "none"), photos}, "openclipart-png"},
		{"unknown pooling", []string{"index", "--index", filepath.Join(dir, "u.idx"), "--pooling", "netvlad", photos}, "gordo, solar"},
	}
	for _, tc := range tests {
		if code, _, stderr := runCLI(t, tc.args...); code != exitBadInput || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: exit %d, %s", tc.name, code, stderr)
		}
	}
	// A damaged head in the index: search says which file.
	raw, _ := os.ReadFile(filepath.Join(idx, headFile))
	raw[len(raw)/2] ^= 1
	os.WriteFile(filepath.Join(idx, headFile), raw, 0o644)
	if code, _, stderr := runCLI(t, "search", "--index", idx, filepath.Join(photos, "a.png")); code != exitBadInput || !strings.Contains(stderr, "damaged") {
		t.Errorf("damaged head: exit %d, %s", code, stderr)
	}
	// Another valid head in its place: refused, the index was made with
	// the first.
	gordoHead(4).Save(filepath.Join(idx, headFile))
	if code, _, stderr := runCLI(t, "search", "--index", idx, filepath.Join(photos, "a.png")); code != exitBadInput || !strings.Contains(stderr, "not the head") {
		t.Errorf("replaced head: exit %d, %s", code, stderr)
	}
}

// TestLearnedRows trains the benchmark's two heads on the test's small
// training set and checks that each adds its row.
func TestLearnedRows(t *testing.T) {
	bb, err := backbone.Default("", 0)
	if err != nil {
		t.Skip(err)
	}
	defer bb.Close()
	if !learned.Exists(benchHeadTraining.Images) {
		t.Skip("no python3-skimage photos")
	}
	var imgs []image.Image
	for i := 0; i < 2; i++ {
		p := filepath.Join(t.TempDir(), "x.png")
		writePhoto(t, p, uint64(10+i))
		f, _ := os.Open(p)
		img, _ := png.Decode(f)
		f.Close()
		imgs = append(imgs, img)
	}
	var names []string
	add := func(name string, q, db []float32, dim int) error {
		if len(q) != 2*dim || len(db) != 2*dim {
			t.Errorf("%s: %d and %d values of dimension %d", name, len(q), len(db), dim)
		}
		names = append(names, name)
		return nil
	}
	note, set, err := learnedRows(context.Background(), bb, imgs, imgs, 0, add, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 2 || !strings.HasPrefix(names[0], "Gordo") || !strings.HasPrefix(names[1], "SOLAR") || !strings.Contains(note, "6 images of") {
		t.Errorf("rows %q, note %q", names, note)
	}

	// Codes learned on the same images' R-MAC descriptors.
	x := &album.Extractor{Backbone: bb, Pooling: descriptor.RMAC}
	var desc []float32
	for _, img := range imgs {
		v, err := x.Image(img)
		if err != nil {
			t.Fatal(err)
		}
		desc = append(desc, v...)
	}
	var rows []photoRow
	o := benchOptions{Methods: "lsh,dsh,rnnhash"}
	vnote, err := vectorCodeRows(context.Background(), o, set, desc, desc, len(desc)/2, []int32{0, 1}, []int32{0, 1}, &rows, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	// Six labels are too few to hold any out: no epochs kept.
	if len(rows) != 3 || !strings.Contains(rows[1].Name, "DSH 64-bit") || !strings.Contains(rows[2].Name, "RNNHASH 64-bit") ||
		strings.Contains(vnote, "Not measured") || strings.Contains(vnote, "Epochs kept") {
		t.Errorf("code rows %+v, note %q", rows, vnote)
	}
	for _, r := range rows {
		if r.Report.MAPAll <= 0 || r.Report.MAPAll > 1 {
			t.Errorf("%s: mAP %v", r.Name, r.Report.MAPAll)
		}
	}
}

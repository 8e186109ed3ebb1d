package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRun_Photos indexes a folder of photos with the default backbone,
// among them a truncated JPEG, a text file named .jpg and a PNG that
// declares 30000x30000 pixels, searches it, and reindexes it after a
// change.
func TestRun_Photos(t *testing.T) {
	dir := t.TempDir()
	photos := filepath.Join(dir, "photos")
	os.MkdirAll(filepath.Join(photos, "trip"), 0o755)
	encode := func(name string, shade uint8, asJPEG bool) []byte {
		img := image.NewRGBA(image.Rect(0, 0, 80, 60))
		for y := 0; y < 60; y++ {
			for x := 0; x < 80; x++ {
				img.Set(x, y, color.RGBA{shade, uint8(3 * x), uint8((x * y) % 256), 255})
			}
		}
		var b bytes.Buffer
		if asJPEG {
			jpeg.Encode(&b, img, nil)
		} else {
			png.Encode(&b, img)
		}
		if err := os.WriteFile(filepath.Join(photos, name), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	jpg := encode("trip/beach.jpg", 200, true)
	encode("trip/forest.jpg", 20, true)
	bomb := encode("city.png", 90, false)
	os.WriteFile(filepath.Join(photos, "cut.jpg"), jpg[:len(jpg)/3], 0o644)
	os.WriteFile(filepath.Join(photos, "notes.jpg"), []byte("shopping list"), 0o644)
	binary.BigEndian.PutUint32(bomb[16:], 30000)
	binary.BigEndian.PutUint32(bomb[20:], 30000)
	binary.BigEndian.PutUint32(bomb[29:], crc32.ChecksumIEEE(bomb[12:29]))
	os.WriteFile(filepath.Join(photos, "huge.png"), bomb, 0o644)

	idx := filepath.Join(dir, "photos.idx")
	code, _, stderr := runCLI(t, "index", "--index", idx, photos)
	if code != 0 {
		t.Fatalf("index: exit %d: %s", code, stderr)
	}
	for _, bad := range []string{"cut.jpg", "notes.jpg", "huge.png: image is 30000x30000"} {
		if !strings.Contains(stderr, bad) {
			t.Errorf("%s not reported: %s", bad, stderr)
		}
	}
	if !strings.Contains(stderr, "3 images indexed") {
		t.Errorf("summary: %s", stderr)
	}

	var res struct {
		Results []photoResult `json:"results"`
	}
	code, out, stderr := runCLI(t, "search", "--index", idx, "--k", "2", "--json", filepath.Join(photos, "trip", "beach.jpg"))
	if code != 0 {
		t.Fatalf("search: exit %d: %s", code, stderr)
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Results) != 2 {
		t.Fatalf("search output %q: %v", out, err)
	}
	if top := res.Results[0]; !strings.HasSuffix(top.Path, filepath.Join("trip", "beach.jpg")) || top.Score < 0.999 {
		t.Errorf("top hit %+v, want beach.jpg itself", top)
	}
	if res.Results[1].Score > res.Results[0].Score {
		t.Errorf("results out of order: %+v", res.Results)
	}

	// Hashed to 2-bit ITQ codes (3 photos are enough for 2 bits): hits
	// carry their Hamming distance, the query itself at 0.
	hashed := filepath.Join(dir, "hashed.idx")
	if code, _, stderr := runCLI(t, "index", "--index", hashed, "--hash", "itq", "--code-bits", "2", photos); code != 0 {
		t.Fatalf("hashed index: exit %d: %s", code, stderr)
	}
	code, out, _ = runCLI(t, "search", "--index", hashed, "--k", "3", "--json", filepath.Join(photos, "city.png"))
	var hres struct {
		Results []struct {
			Path     string
			Distance *int
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &hres); err != nil || code != 0 || len(hres.Results) != 3 ||
		hres.Results[0].Distance == nil || *hres.Results[0].Distance != 0 || !strings.HasSuffix(hres.Results[0].Path, "city.png") {
		t.Errorf("hashed search: exit %d, %s", code, out)
	}

	// The load benchmark drives a server over the index.
	if code, out, stderr := runCLI(t, "bench", "serve", "--index", idx, "--clients", "2", "--duration", "300ms"); code != 0 ||
		!strings.Contains(out, "requests/s") || !strings.Contains(out, "errors      0") {
		t.Errorf("bench serve: exit %d, %s %s", code, out, stderr)
	}

	// Remove a photo: the rerun reads nothing new and drops it.
	os.Remove(filepath.Join(photos, "city.png"))
	code, _, stderr = runCLI(t, "index", "--index", idx, photos)
	if code != 0 || !strings.Contains(stderr, "2 images indexed") || !strings.Contains(stderr, "1 removed, 2 unchanged") {
		t.Errorf("reindex: exit %d: %s", code, stderr)
	}
	// Bad input: a missing folder, --id on a photo index, a text query.
	if code, _, _ := runCLI(t, "index", "--index", idx, filepath.Join(dir, "none")); code != exitBadInput {
		t.Errorf("missing folder: exit %d", code)
	}
	if code, _, _ := runCLI(t, "search", "--index", idx, "--id", "0"); code != exitBadInput {
		t.Errorf("--id on photos: exit %d", code)
	}
	if code, _, stderr := runCLI(t, "search", "--index", idx, filepath.Join(photos, "notes.jpg")); code != exitBadInput || !strings.Contains(stderr, "notes.jpg") {
		t.Errorf("text query: exit %d, %s", code, stderr)
	}
	// A damaged album is an error that says what to do.
	album := filepath.Join(idx, albumFile)
	raw, _ := os.ReadFile(album)
	raw[len(raw)/2] ^= 1
	os.WriteFile(album, raw, 0o644)
	if code, _, stderr := runCLI(t, "index", "--index", idx, photos); code != exitBadInput || !strings.Contains(stderr, "damaged") {
		t.Errorf("damaged album: exit %d, %s", code, stderr)
	}
}

// TestRun_BenchPhotos runs the near-duplicate benchmark on three generated
// images, without PyTorch, and checks its table.
func TestRun_BenchPhotos(t *testing.T) {
	dir := t.TempDir()
	for i, shade := range []uint8{0, 90, 180} {
		img := image.NewRGBA(image.Rect(0, 0, 96, 72))
		for y := 0; y < 72; y++ {
			for x := 0; x < 96; x++ {
				img.Set(x, y, color.RGBA{shade, uint8((x * (i + 1) * 5) % 256), uint8((y * y * (i + 2)) % 256), 255})
			}
		}
		var b bytes.Buffer
		png.Encode(&b, img)
		os.WriteFile(filepath.Join(dir, string(rune('a'+i))+".png"), b.Bytes(), 0o644)
	}
	report := filepath.Join(t.TempDir(), "nd.md")
	code, out, stderr := runCLI(t, "bench", "photos", "--photos", dir, "--report", report, "--python", "/nonexistent/python3")
	if code != 0 {
		t.Fatalf("bench photos: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"3 originals x 8 edits", "raw pixels", "R-MAC", "index throughput: lookalike", "not measured"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	page, err := os.ReadFile(report)
	if err != nil || !strings.HasPrefix(string(page), "<!-- generated by: lookalike bench photos") {
		t.Errorf("report: %v %.80q", err, page)
	}
	if code, _, _ := runCLI(t, "bench", "photos", "--photos", filepath.Join(dir, "none")); code != exitBadInput {
		t.Errorf("missing folder: exit %d", code)
	}
}

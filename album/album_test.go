package album

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/lookalike/lookalike/backbone"
	"github.com/lookalike/lookalike/descriptor"
	"github.com/lookalike/lookalike/imageio"
)

// TestHashed: an album hashed to 2 bits (by ITQ, a linear hasher, and by
// SH, stored as model-file variables) ranks by Hamming distance first,
// keeps its hash through a save and load, and drops it when there are too
// few descriptors to learn it.
func TestHashed(t *testing.T) {
	var entries []Entry
	for i, v := range [][]float32{{1, 0, 0}, {0.9, 0.1, 0}, {0, 1, 0}, {0, 0.9, 0.1}, {0, 0, 1}, {-1, 0, 0}} {
		entries = append(entries, Entry{Path: string(rune('a' + i)), Vector: v})
	}
	for _, method := range []string{"itq", "sh"} {
		t.Run(method, func(t *testing.T) {
			a := &Album{Dim: 3, Settings: Settings{Hash: method, Bits: 2}, Entries: entries}
			if err := a.Learn(); err != nil {
				t.Fatal(err)
			}
			if a.Hasher == nil || a.Hasher.Outputs() != 2 {
				t.Fatalf("hasher %+v", a.Hasher)
			}
			hits, err := a.Search([]float32{1, 0, 0}, 6)
			if err != nil {
				t.Fatal(err)
			}
			if hits[0].Entry.Path != "a" || hits[0].Distance != 0 {
				t.Errorf("top hit %s at distance %d, want a at 0", hits[0].Entry.Path, hits[0].Distance)
			}
			for i := 1; i < len(hits); i++ {
				if hits[i].Distance < hits[i-1].Distance {
					t.Fatalf("hits not ordered by distance: %+v", hits)
				}
			}
			path := filepath.Join(t.TempDir(), "h.lka")
			if err := a.Save(path); err != nil {
				t.Fatal(err)
			}
			b, err := Load(path)
			if err != nil || b.Hasher == nil || b.Hasher.Inputs() != 3 || fmt.Sprintf("%T", b.Hasher) != fmt.Sprintf("%T", a.Hasher) {
				t.Fatalf("loaded hasher %+v, %v", b.Hasher, err)
			}
			x := []float32{1, 2, 3, -1, 0.5, 0}
			want, _ := a.Hasher.Encode(x, 2)
			if got, err := b.Hasher.Encode(x, 2); err != nil || !slices.Equal(got, want) {
				t.Errorf("loaded hasher encodes %v (%v), want %v", got, err, want)
			}
		})
	}
	few := &Album{Dim: 3, Settings: Settings{Hash: "itq", Bits: 8}, Entries: entries}
	if err := few.Learn(); err != nil || few.Hasher != nil {
		t.Errorf("8 bits from 6 descriptors: hasher %v, err %v", few.Hasher, err)
	}
	for _, method := range []string{"dsh", "sdh"} {
		if bad := (&Album{Dim: 3, Settings: Settings{Hash: method, Bits: 2}, Entries: entries}); bad.Learn() == nil {
			t.Errorf("%s was accepted for an album's descriptors", method)
		}
	}
}

// TestLoad_Version1: a version 1 file (linear hashers only) still loads;
// a version 1 file that claims another hasher kind does not.
func TestLoad_Version1(t *testing.T) {
	a := &Album{Dim: 3, Settings: Settings{Hash: "sh", Bits: 2}}
	for i, v := range [][]float32{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {-1, 0, 0}} {
		a.Entries = append(a.Entries, Entry{Path: string(rune('a' + i)), Vector: v})
	}
	for _, method := range []string{"pcah", "sh"} {
		a.Settings.Hash = method
		if err := a.Learn(); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "v1.lka")
		if err := a.Save(path); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		body := bytes.Replace(data[:len(data)-4], []byte(`"version":2`), []byte(`"version":1`), 1)
		data = binary.LittleEndian.AppendUint32(body, crc32.Checksum(body, castagnoli))
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = Load(path)
		if method == "pcah" && err != nil {
			t.Errorf("version 1 linear album: %v", err)
		}
		if method == "sh" && !errors.Is(err, ErrFormat) {
			t.Errorf("version 1 album with a spectral hasher: err = %v, want %v", err, ErrFormat)
		}
	}
}

func TestSaveLoad(t *testing.T) {
	a := &Album{
		Root: "/photos", Dim: 2,
		Settings: Settings{Backbone: "b", Pooling: descriptor.GeM, Sizes: []int{224}, Whiten: 2},
		Entries: []Entry{
			{Path: "a.jpg", Size: 10, ModTime: 5, Vector: []float32{1, 0}},
			{Path: "sub/b.png", Size: 20, ModTime: 6, Vector: []float32{0.6, 0.8}},
			{Path: "c.png", Size: 30, ModTime: 7, Vector: []float32{0, 1}},
		},
	}
	if err := a.Learn(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "album.lka")
	if err := a.Save(path); err != nil {
		t.Fatal(err)
	}
	b, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if b.Root != a.Root || b.Settings.Pooling != descriptor.GeM || len(b.Entries) != 3 || b.Entries[1].Path != "sub/b.png" ||
		b.Entries[1].Vector[1] != 0.8 || b.Whitening == nil || b.Whitening.Out != 2 {
		t.Fatalf("loaded %+v", b)
	}
	// Every flipped byte is caught by the checksum or the structure.
	data, _ := os.ReadFile(path)
	for _, i := range []int{0, 10, len(data) / 2, len(data) - 1} {
		bad := append([]byte{}, data...)
		bad[i] ^= 0x40
		os.WriteFile(path, bad, 0o644)
		if _, err := Load(path); !errors.Is(err, ErrFormat) {
			t.Errorf("byte %d flipped: err = %v", i, err)
		}
	}
	os.WriteFile(path, data[:len(data)-9], 0o644)
	if _, err := Load(path); !errors.Is(err, ErrFormat) {
		t.Errorf("truncated: err = %v", err)
	}
}

func TestSearchOrder(t *testing.T) {
	a := &Album{Dim: 2, Entries: []Entry{
		{Path: "b", Vector: []float32{1, 0}},
		{Path: "a", Vector: []float32{1, 0}},
		{Path: "c", Vector: []float32{0.6, 0.8}},
	}}
	hits, err := a.Search([]float32{0.8, 0.6}, 2)
	if err != nil {
		t.Fatal(err)
	}
	// Scores: a and b 0.8, c 0.96.
	if len(hits) != 2 || hits[0].Entry.Path != "c" || hits[1].Entry.Path != "a" {
		t.Fatalf("hits %v %v", hits[0].Entry.Path, hits[1].Entry.Path)
	}
}

func writePNG(t *testing.T, path string, shade uint8) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for y := 0; y < 48; y++ {
		for x := 0; x < 64; x++ {
			img.Set(x, y, color.RGBA{shade, uint8(x * 4), uint8(y * 5), 255})
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

// TestUpdate indexes a folder with the default backbone, then changes,
// removes and adds files and checks that only those are described again.
func TestUpdate(t *testing.T) {
	bb, err := backbone.Default("", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	x := &Extractor{Backbone: bb, Pooling: descriptor.GeM, Limits: imageio.DefaultLimits}
	root := t.TempDir()
	os.Mkdir(filepath.Join(root, "sub"), 0o755)
	writePNG(t, filepath.Join(root, "a.png"), 0)
	writePNG(t, filepath.Join(root, "sub", "b.png"), 128)
	os.WriteFile(filepath.Join(root, "notes.jpg"), []byte("a text file named .jpg"), 0o644)
	os.WriteFile(filepath.Join(root, "readme.txt"), []byte("not an image name"), 0o644)

	a := &Album{Root: root, Settings: Settings{Pooling: descriptor.GeM}}
	saves := 0
	save := func(*Album) error { saves++; return nil }
	rep, err := Update(context.Background(), a, x, save, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Added != 3 || len(rep.Failed) != 1 || len(a.Entries) != 2 || a.Dim != 1792 || saves != 1 {
		t.Fatalf("first run: report %+v, %d entries, dim %d, %d saves", rep, len(a.Entries), a.Dim, saves)
	}
	if rep.Failed[0].Path != filepath.Join(root, "notes.jpg") {
		t.Errorf("failed %v", rep.Failed[0])
	}
	// The indexed file finds itself first.
	q, err := imageio.Decode(filepath.Join(root, "a.png"), imageio.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	v, err := x.Image(q)
	if err != nil {
		t.Fatal(err)
	}
	if hits, err := a.Search(v, 1); err != nil || hits[0].Entry.Path != "a.png" || hits[0].Score < 0.999 {
		t.Errorf("a.png finds %s (%v)", hits[0].Entry.Path, hits[0].Score)
	}

	// Change b (new content and time), remove a, add c.
	writePNG(t, filepath.Join(root, "sub", "b.png"), 255)
	later := time.Now().Add(time.Minute)
	os.Chtimes(filepath.Join(root, "sub", "b.png"), later, later)
	os.Remove(filepath.Join(root, "a.png"))
	writePNG(t, filepath.Join(root, "c.png"), 60)
	rep, err = Update(context.Background(), a, x, nil, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Added != 2 || rep.Changed != 1 || rep.Removed != 1 || rep.Kept != 0 || len(a.Entries) != 2 ||
		a.Entries[0].Path != "c.png" || a.Entries[1].Path != "sub/b.png" {
		t.Fatalf("second run: report %+v, entries %v %v", rep, a.Entries[0].Path, a.Entries[1].Path)
	}
	// Nothing changed: everything is kept without reading files.
	rep, err = Update(context.Background(), a, x, nil, time.Hour, nil)
	if err != nil || rep.Kept != 2 || rep.Added != 1 {
		t.Fatalf("third run: %+v %v (the text file is retried as new)", rep, err)
	}
}

// FuzzLoad: no album file, however damaged, panics the reader or loads
// with entries that disagree with its dimension.
func FuzzLoad(f *testing.F) {
	a := &Album{Root: "/p", Dim: 2, Settings: Settings{Pooling: descriptor.MAC},
		Entries: []Entry{{Path: "a.jpg", Size: 1, ModTime: 2, Vector: []float32{1, 0}}}}
	dir := f.TempDir()
	good := filepath.Join(dir, "good.lka")
	if err := a.Save(good); err != nil {
		f.Fatal(err)
	}
	data, _ := os.ReadFile(good)
	f.Add(data)
	f.Add([]byte(magic))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "f.lka")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		b, err := Load(path)
		if err != nil {
			return
		}
		for _, e := range b.Entries {
			if len(e.Vector) != b.Dim {
				t.Fatalf("entry %s has %d values, dimension %d", e.Path, len(e.Vector), b.Dim)
			}
		}
	})
}

// TestUpdateInterrupted cancels an update after its first checkpoint: the
// saved album keeps the described images, and the next run describes only
// the rest.
func TestUpdateInterrupted(t *testing.T) {
	bb, err := backbone.Default("", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	x := &Extractor{Backbone: bb, Pooling: descriptor.MAC, Limits: imageio.DefaultLimits, Workers: 1, Batch: 1}
	root := t.TempDir()
	for i := 0; i < 6; i++ {
		writePNG(t, filepath.Join(root, string(rune('a'+i))+".png"), uint8(40*i))
	}
	path := filepath.Join(t.TempDir(), "album.lka")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	save := func(a *Album) error {
		cancel() // the process is killed right after its first checkpoint
		return a.Save(path)
	}
	a := &Album{Root: root, Settings: Settings{Pooling: descriptor.MAC}}
	if _, err := Update(ctx, a, x, save, 0, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted update: err = %v", err)
	}
	saved, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	n := len(saved.Entries)
	if n < 1 || n >= 6 {
		t.Fatalf("saved album holds %d entries, want some of 6", n)
	}
	rep, err := Update(context.Background(), saved, x, nil, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Kept != n || rep.Added != 6-n || len(saved.Entries) != 6 {
		t.Fatalf("resumed after %d: report %+v, %d entries", n, rep, len(saved.Entries))
	}
}

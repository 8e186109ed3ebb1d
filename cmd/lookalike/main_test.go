package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lookalike/lookalike/dataset"
	"github.com/lookalike/lookalike/hashing"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestRun_BadInput(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "bad.lkm")
	os.WriteFile(corrupt, []byte("LKMODEL\x00\x01\x00\x00\x00garbage"), 0o644)
	textModel := filepath.Join(dir, "text.lkm")
	os.WriteFile(textModel, []byte("hello"), 0o644)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"unknown command", []string{"frobnicate"}, exitBadInput, "unknown command"},
		{"unknown flag", []string{"train", "--nope"}, exitBadInput, "flag provided but not defined"},
		{"zero bits", []string{"train", "--bits", "0"}, exitBadInput, "outside the supported range"},
		{"too many bits", []string{"train", "--bits", "5000"}, exitBadInput, "outside the supported range"},
		{"unknown method", []string{"train", "--method", "nope"}, exitBadInput, "unknown method"},
		{"unknown optimizer", []string{"train", "--optimizer", "lbfgs"}, exitBadInput, `--optimizer: unknown optimizer "lbfgs"`},
		{"unknown protocol", []string{"train", "--protocol", "cifar"}, exitBadInput, "unknown protocol"},
		{"missing dataset", []string{"train", "--data", dir}, exitBadInput, "apt-get install -y dataset-fashion-mnist"},
		{"no model", []string{"eval"}, exitBadInput, "--model is required"},
		{"truncated model", []string{"eval", "--model", corrupt}, exitBadInput, "truncated"},
		{"not a model", []string{"eval", "--model", textModel}, exitBadInput, "not a Lookalike model file"},
		{"missing model", []string{"eval", "--model", filepath.Join(dir, "none")}, exitBadInput, "no such file"},
		{"k zero", []string{"search", "--index", dir, "--k", "0", "--id", "1"}, exitBadInput, "--k must be at least 1"},
		{"no query", []string{"search", "--index", dir}, exitBadInput, "IMAGE argument or --id"},
		{"not an index", []string{"search", "--index", dir, "--id", "1"}, exitBadInput, "not an index directory"},
		{"bad filters", []string{"train", "--filters", "3,x"}, exitBadInput, "not a positive integer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tc.args...)
			if code != tc.wantCode || !strings.Contains(stderr, tc.wantErr) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", code, stderr, tc.wantCode, tc.wantErr)
			}
			if strings.Contains(stderr, "goroutine") {
				t.Fatalf("stack trace printed: %s", stderr)
			}
		})
	}
}

func TestRun_Help(t *testing.T) {
	for _, name := range []string{"train", "encode", "index", "search", "eval", "methods", "bench"} {
		code, out, _ := runCLI(t, name, "--help")
		if code != 0 || !strings.Contains(out, "Usage: lookalike "+name) || !strings.Contains(out, "Example") {
			t.Errorf("%s --help: exit %d, %q", name, code, out)
		}
	}
	if code, out, _ := runCLI(t, "methods"); code != 0 || !strings.Contains(out, "Liu") {
		t.Errorf("methods: exit %d, %q", code, out)
	}
}

// writeShapes makes a folder of 28x28 images in two classes: a bright
// square in the top-left corner, or a bright bar at the bottom.
func writeShapes(t *testing.T, dir string, perClass int) {
	t.Helper()
	for c, name := range []string{"bars", "squares"} {
		os.MkdirAll(filepath.Join(dir, name), 0o755)
		for i := 0; i < perClass; i++ {
			img := image.NewGray(image.Rect(0, 0, 28, 28))
			for y := 0; y < 28; y++ {
				for x := 0; x < 28; x++ {
					on := (c == 1 && x < 12+i%3 && y < 12) || (c == 0 && y > 20-i%3)
					if on {
						img.SetGray(x, y, color.Gray{uint8(200 + i)})
					}
				}
			}
			f, _ := os.Create(filepath.Join(dir, name, string(rune('a'+i))+".png"))
			png.Encode(f, img)
			f.Close()
		}
	}
}

// TestRun_FolderEndToEnd trains on a folder of images, indexes it and
// searches by position and by image file.
func TestRun_FolderEndToEnd(t *testing.T) {
	dir := t.TempDir()
	photos := filepath.Join(dir, "photos")
	writeShapes(t, photos, 16)
	os.WriteFile(filepath.Join(photos, "bars", "broken.png"), []byte("no"), 0o644)
	model := filepath.Join(dir, "m.lkm")
	code, _, stderr := runCLI(t, "train", "--images", photos, "--bits", "16", "--filters", "4", "--hidden", "16",
		"--epochs", "3", "--batch", "8", "--out", model, "--quiet")
	if code != 0 {
		t.Fatalf("train: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "broken.png") {
		t.Errorf("the broken file was not reported: %s", stderr)
	}
	if _, err := os.Stat(model + ".ckpt"); !os.IsNotExist(err) {
		t.Errorf("checkpoint left behind: %v", err)
	}
	raw, _ := os.ReadFile(model)
	raw[len(raw)/2] ^= 1
	flipped := filepath.Join(dir, "flipped.lkm")
	os.WriteFile(flipped, raw, 0o644)
	if code, _, stderr := runCLI(t, "eval", "--model", flipped); code != exitBadInput || !strings.Contains(stderr, "checksum mismatch") {
		t.Errorf("flipped model byte: exit %d, %q", code, stderr)
	}
	idx := filepath.Join(dir, "idx")
	if code, _, stderr := runCLI(t, "index", "--model", model, "--images", photos, "--index", idx); code != 0 {
		t.Fatalf("index: exit %d: %s", code, stderr)
	}
	var res struct {
		Results []searchResult `json:"results"`
	}
	code, out, stderr := runCLI(t, "search", "--index", idx, "--k", "5", "--json", filepath.Join(photos, "squares", "a.png"))
	if code != 0 {
		t.Fatalf("search: exit %d: %s", code, stderr)
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Results) != 5 {
		t.Fatalf("search output %q: %v", out, err)
	}
	if top := res.Results[0]; top.Distance != 0 || !strings.HasSuffix(top.Path, filepath.Join("squares", "a.png")) {
		t.Errorf("searching an indexed image: top hit %+v, want itself at distance 0", top)
	}
	code, out, _ = runCLI(t, "search", "--index", idx, "--id", "0", "--k", "3")
	if code != 0 || !strings.Contains(out, "RANK") {
		t.Errorf("search --id: exit %d, %q", code, out)
	}
	if code, _, _ := runCLI(t, "search", "--index", idx, "--id", "99"); code != exitBadInput {
		t.Errorf("--id out of range: exit %d", code)
	}
	text := filepath.Join(dir, "notes.png")
	os.WriteFile(text, []byte("hello"), 0o644)
	if code, _, stderr := runCLI(t, "search", "--index", idx, text); code != exitBadInput || !strings.Contains(stderr, "notes.png") {
		t.Errorf("text file as image: exit %d, %q", code, stderr)
	}
}

// TestRun_FashionMNIST trains a small model for one epoch on fmnist-1k and
// checks the evaluation JSON. Skipped without the Debian dataset.
func TestRun_FashionMNIST(t *testing.T) {
	if _, err := os.Stat(filepath.Join(dataset.DefaultFashionMNIST, "train-images-idx3-ubyte.gz")); err != nil {
		t.Skip("Fashion-MNIST not installed: " + dataset.InstallHint)
	}
	if testing.Short() {
		t.Skip("short mode")
	}
	dir := t.TempDir()
	model := filepath.Join(dir, "m.lkm")
	code, _, stderr := runCLI(t, "train", "--bits", "16", "--lr-schedule", "constant", "--filters", "8,16", "--hidden", "64",
		"--epochs", "1", "--out", model, "--quiet")
	if code != 0 {
		t.Fatalf("train: exit %d: %s", code, stderr)
	}
	code, out, stderr := runCLI(t, "eval", "--model", model, "--protocol", "fmnist-1k", "--json", "--plot", filepath.Join(dir, "pr.svg"))
	if code != 0 {
		t.Fatalf("eval: exit %d: %s", code, stderr)
	}
	var r map[string]any
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"protocol", "method", "bits", "map_all", "map_at_1000", "p_r2"} {
		if _, ok := r[key]; !ok {
			t.Errorf("JSON lacks %q", key)
		}
	}
	if r["protocol"] != "fmnist-1k" || r["method"] != "dsh" || r["bits"] != 16.0 {
		t.Errorf("report %v", r)
	}
	// One epoch of a small network is far above chance (0.1).
	if m := r["map_all"].(float64); m < 0.4 {
		t.Errorf("mAP@all after one epoch = %v, want > 0.4", m)
	}
	// Evaluating through an index of the database gives the same figures.
	idx := filepath.Join(dir, "idx")
	if code, _, stderr := runCLI(t, "index", "--model", model, "--index", idx); code != 0 {
		t.Fatalf("index: exit %d: %s", code, stderr)
	}
	report := filepath.Join(dir, "report.json")
	if code, _, stderr := runCLI(t, "eval", "--index", idx, "--report", report); code != 0 {
		t.Fatalf("eval --index: exit %d: %s", code, stderr)
	}
	raw, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var r2 map[string]any
	if err := json.Unmarshal(raw, &r2); err != nil {
		t.Fatal(err)
	}
	if r2["map_all"] != r["map_all"] || r2["p_r2"] != r["p_r2"] {
		t.Errorf("through the index: %v / %v, directly: %v / %v", r2["map_all"], r2["p_r2"], r["map_all"], r["p_r2"])
	}
	if code, _, _ := runCLI(t, "eval", "--index", idx, "--protocol", "fmnist-full"); code != exitBadInput {
		t.Errorf("index of another protocol's database accepted: exit %d", code)
	}
}

func TestRun_BenchIndex(t *testing.T) {
	code, out, stderr := runCLI(t, "bench", "index", "--n", "3000", "--queries", "20", "--k", "10", "--no-faiss", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r map[string]any
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	// Memory limit of the index: 1.5x the 8 code bytes plus 8 per item.
	if r["recall"] != 1.0 || r["qps"].(float64) <= 0 || r["bytes_per_item"].(float64) > 1.5*8+8 {
		t.Errorf("report %v", r)
	}
	if code, _, _ := runCLI(t, "bench", "index", "--bits", "12"); code != exitBadInput {
		t.Errorf("12 bits: exit %d", code)
	}
}

// TestRun_Shallow fits each shallow method on a folder and searches its
// index: an indexed image finds itself first.
func TestRun_Shallow(t *testing.T) {
	dir := t.TempDir()
	photos := filepath.Join(dir, "photos")
	writeShapes(t, photos, 8)
	for _, method := range []string{"lsh", "pcah", "itq", "sh", "sdh"} {
		model := filepath.Join(dir, method+".lkm")
		if code, _, stderr := runCLI(t, "train", "--method", method, "--images", photos, "--bits", "8", "--out", model); code != 0 {
			t.Fatalf("%s: train: exit %d: %s", method, code, stderr)
		}
		idx := filepath.Join(dir, method+".idx")
		if code, _, stderr := runCLI(t, "index", "--model", model, "--images", photos, "--index", idx); code != 0 {
			t.Fatalf("%s: index: exit %d: %s", method, code, stderr)
		}
		code, out, stderr := runCLI(t, "search", "--index", idx, "--json", "--k", "3", filepath.Join(photos, "bars", "c.png"))
		if code != 0 || !strings.Contains(out, `"distance":0`) {
			t.Errorf("%s: search: exit %d, %s %s", method, code, out, stderr)
		}
	}
	// PCA-based methods cannot give more bits than input dimensions.
	if code, _, stderr := runCLI(t, "train", "--method", "pcah", "--images", photos, "--bits", "1000", "--out", filepath.Join(dir, "x.lkm")); code != exitBadInput {
		t.Errorf("pcah with 1000 bits: exit %d, %s", code, stderr)
	}
}

// TestRun_BenchQuality is the CI smoke version of the results table: two
// shallow methods at two lengths on fmnist-1k.
func TestRun_BenchQuality(t *testing.T) {
	if _, err := os.Stat(filepath.Join(dataset.DefaultFashionMNIST, "train-images-idx3-ubyte.gz")); err != nil {
		t.Skip("Fashion-MNIST not installed: " + dataset.InstallHint)
	}
	if testing.Short() {
		t.Skip("short mode")
	}
	out := filepath.Join(t.TempDir(), "docs", "results.md")
	code, stdout, stderr := runCLI(t, "bench", "quality", "--methods", "lsh,itq", "--bits", "16,48", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| lsh | 16 |", "| itq | 48 |", "bench quality --protocol fmnist-1k --methods lsh,itq --bits 16,48", "pr-48.png"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("results page lacks %q:\n%s", want, page)
		}
	}
	for _, plot := range []string{"pr-48.png", "map-bits.png"} {
		if _, err := os.Stat(filepath.Join(filepath.Dir(out), plot)); err != nil {
			t.Error(err)
		}
	}
	_ = stdout
	if code, _, _ := runCLI(t, "bench", "quality", "--methods", "nope"); code != exitBadInput {
		t.Errorf("unknown method: exit %d", code)
	}

	// Trained models join the page without training again, beside the
	// rows of the first run; scarce labels make a row of their own.
	dir := t.TempDir()
	full, scarce := filepath.Join(dir, "full.lkm"), filepath.Join(dir, "scarce.lkm")
	for _, args := range [][]string{{"--out", full}, {"--out", scarce, "--labelled", "500"}} {
		args = append([]string{"train", "--method", "hashnet", "--bits", "16", "--epochs", "1", "--filters", "4", "--hidden", "16", "--quiet"}, args...)
		if code, _, stderr := runCLI(t, args...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
	}
	if code, _, stderr := runCLI(t, "bench", "quality", "--models", full+","+scarce, "--out", out); code != 0 {
		t.Fatalf("bench quality --models: exit %d: %s", code, stderr)
	}
	page, err = os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| lsh | 16 |", "| hashnet | 16 |", "| hashnet (500 labels) | 16 |",
		"`lookalike train --method hashnet --bits 16 --protocol fmnist-1k --epochs 1 --seed 0 --filters 4 --hidden 16, then lookalike bench quality --models`",
		"`lookalike train --method hashnet --bits 16 --protocol fmnist-1k --epochs 1 --seed 0 --labelled 500 --filters 4 --hidden 16, then"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("results page lacks %q:\n%s", want, page)
		}
	}
	if code, _, _ := runCLI(t, "bench", "quality", "--models", filepath.Join(dir, "missing.lkm"), "--out", out); code != exitBadInput {
		t.Errorf("missing model: exit %d, want %d", code, exitBadInput)
	}
}

// TestRun_DeepMethods is the smoke test of every registered deep method:
// each trains from the command line on a small folder and evaluates.
func TestRun_DeepMethods(t *testing.T) {
	dir := t.TempDir()
	photos := filepath.Join(dir, "photos")
	writeShapes(t, photos, 16)
	for _, m := range hashing.All() {
		if _, ok := m.(hashing.Deep); !ok {
			continue
		}
		name := m.Info().Name
		t.Run(name, func(t *testing.T) {
			model := filepath.Join(dir, name+".lkm")
			code, _, stderr := runCLI(t, "train", "--method", name, "--images", photos, "--bits", "16", "--filters", "4,4",
				"--hidden", "16", "--epochs", "2", "--batch", "8", "--out", model, "--quiet")
			if code != 0 {
				t.Fatalf("train: exit %d: %s", code, stderr)
			}
			code, out, stderr := runCLI(t, "eval", "--model", model, "--images", photos, "--json")
			if code != 0 {
				t.Fatalf("eval: exit %d: %s", code, stderr)
			}
			var r struct {
				Method string  `json:"method"`
				Bits   int     `json:"bits"`
				MAP    float64 `json:"map_all"`
			}
			err := json.Unmarshal([]byte(out), &r)
			// A method that prunes bits (DRDH) keeps some of the 16.
			_, prunes := m.(hashing.Pruner)
			bitsOK := r.Bits == 16 || prunes && r.Bits >= 1 && r.Bits <= 16
			if err != nil || r.Method != name || !bitsOK || r.MAP <= 0 || r.MAP > 1 {
				t.Errorf("eval output %+v (%v): %s", r, err, out)
			}
		})
	}
}

func TestDefaultEpochs(t *testing.T) {
	for _, c := range []struct{ n, want int }{
		{5000, 30},  // fmnist-1k: the reference's 30 epochs
		{60000, 2},  // fmnist-full: 150,000 / 60,000 rounded down
		{100, 30},   // a small folder: capped
		{200000, 1}, // more images than the budget: one pass
		{0, 30},     // no images (rejected later): the cap
		{7500, 20},  // 150,000 / 7,500
	} {
		if got := defaultEpochs(c.n); got != c.want {
			t.Errorf("defaultEpochs(%d) = %d, want %d", c.n, got, c.want)
		}
	}
	// A method with its own budget of images seen (hashing.Budgeted).
	for _, c := range []struct {
		method string
		n      int
		want   int
	}{
		{"dsh", 5000, 30},
		{"deepbit", 5000, 10}, // 50,000 images seen
		{"dbdmq", 5000, 10},
		{"deepbit", 60000, 1},
	} {
		m, err := hashing.Lookup(c.method)
		if err != nil {
			t.Fatal(err)
		}
		if got := methodEpochs(m, c.n); got != c.want {
			t.Errorf("methodEpochs(%s, %d) = %d, want %d", c.method, c.n, got, c.want)
		}
	}
}

package main

import (
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var curveRow = regexp.MustCompile(`(?m)^\s+(\d+)\s+(\d+)\s+([0-9.]+)\s+([0-9.]+)$`)

// TestBenchCurve trains two methods for 2 epochs of 4 steps on a small
// folder (32 images, batch 8), evaluating after each epoch: two rows, at
// steps 4 and 8, with an mAP in (0, 1] per method, then the race summary
// against dsh's final mAP, which dsh itself reaches at the latest at its
// last row; --out writes the same rows to a page with its plot beside it.
func TestBenchCurve(t *testing.T) {
	dir := t.TempDir()
	photos := filepath.Join(dir, "photos")
	writeShapes(t, photos, 16)
	page := filepath.Join(dir, "docs", "curve.md")
	code, out, stderr := runCLI(t, "bench", "curve", "--methods", "gah,dsh", "--images", photos, "--bits", "8",
		"--epochs", "2", "--every", "1", "--batch", "8", "--out", page)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	rows := curveRow.FindAllStringSubmatch(out, -1)
	if len(rows) != 2 {
		t.Fatalf("%d table rows, want 2:\n%s", len(rows), out)
	}
	for i, r := range rows {
		if step, epoch := r[1], r[2]; step != strconv.Itoa(4*(i+1)) || epoch != strconv.Itoa(i+1) {
			t.Errorf("row %d: step %s epoch %s, want %d and %d", i, step, epoch, 4*(i+1), i+1)
		}
		for _, v := range r[3:] {
			if f, err := strconv.ParseFloat(v, 64); err != nil || f <= 0 || f > 1 {
				t.Errorf("row %d: mAP %q not in (0, 1]", i, v)
			}
		}
	}
	for _, want := range []string{"base dsh final mAP@all " + rows[1][4], "dsh reaches it at step"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "gah reaches it at step") && !strings.Contains(out, "gah does not reach it") {
		t.Errorf("output lacks gah's race result:\n%s", out)
	}
	md, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	if want := "| 8 | 2 | " + rows[1][3] + " | " + rows[1][4] + " |"; !strings.Contains(string(md), want) {
		t.Errorf("page lacks the last row %q:\n%s", want, md)
	}
	if _, err := os.Stat(filepath.Join(dir, "docs", "curve.png")); err != nil {
		t.Errorf("no plot beside the page: %v", err)
	}
}

// TestWriteCurvePage writes two hand-made curves: gah reaches dsh's final
// 0.80 at its second point (step 20), dsh only at its last (step 30), and a
// third method never does.
func TestWriteCurvePage(t *testing.T) {
	out := filepath.Join(t.TempDir(), "docs", "curve.md")
	o := benchOptions{Methods: "gah,dsh,slow", Bits: 48, Epochs: 3, Every: 1, BatchSize: 128, Seed: 7, Out: out}
	o.Protocol = "fmnist-1k"
	curves := []curve{
		{Method: "gah", Optimizer: "adam", Rate: 1e-3, Points: []curvePoint{{1, 10, 0.5}, {2, 20, 0.81}, {3, 30, 0.82}}},
		{Method: "dsh", Optimizer: "adam", Rate: 1e-3, Points: []curvePoint{{1, 10, 0.4}, {2, 20, 0.7}, {3, 30, 0.8}}},
		{Method: "slow", Optimizer: "adam", Rate: 1e-3, Points: []curvePoint{{1, 10, 0.1}, {2, 20, 0.2}, {3, 30, 0.3}}},
	}
	plot, err := writeCurvePage(o, "fmnist-1k", 10, "dsh", curves)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(filepath.Dir(out), "curve.png"); plot != want {
		t.Errorf("plot %s, want %s", plot, want)
	}
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"`lookalike bench curve --protocol fmnist-1k --methods gah,dsh,slow --base dsh --bits 48 --epochs 3 --every 1 --batch 128 --seed 7 --out " + out + "`",
		"Protocol fmnist-1k, 48 bits, seed 7, 3 epochs of 10 steps (batch 128, Adam at learning rate 0.001, cosine schedule)",
		"| step | epoch | gah | dsh | slow |\n|---:|---:|---:|---:|---:|\n",
		"| 10 | 1 | 0.5000 | 0.4000 | 0.1000 |\n",
		"| 30 | 3 | 0.8200 | 0.8000 | 0.3000 |\n",
		"## Steps to reach dsh's final mAP@all (0.8000)",
		"| gah | 20 | 2 |\n| dsh | 30 | 3 |\n| slow | not within 30 | |\n",
		"![mAP@all against step](curve.png)",
	} {
		if !strings.Contains(string(page), want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
	f, err := os.Open(plot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Errorf("plot is not a PNG: %v", err)
	}

	// With SGD the command line and the page name the optimizer and rate;
	// methods trained otherwise are named one by one.
	o.Optimizer, o.LearningRate = "sgd", 0.02
	for i := range curves[:2] {
		curves[i].Optimizer, curves[i].Rate = "sgd", 0.02
	}
	if _, err := writeCurvePage(o, "fmnist-1k", 10, "dsh", curves); err != nil {
		t.Fatal(err)
	}
	if page, err = os.ReadFile(out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"--batch 128 --optimizer sgd --lr 0.02 --seed 7 --out ",
		"(batch 128, gah SGD with momentum 0.9 at learning rate 0.02, dsh SGD with momentum 0.9 at learning rate 0.02, slow Adam at learning rate 0.001, cosine schedule)",
	} {
		if !strings.Contains(string(page), want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
}

func TestBenchCurve_BadInput(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no methods", []string{"bench", "curve"}, "needs --methods"},
		{"every zero", []string{"bench", "curve", "--methods", "dsh", "--every", "0"}, "--every must be at least 1"},
		{"batch one", []string{"bench", "curve", "--methods", "dsh", "--batch", "1"}, "--batch must be at least 2"},
		{"shallow method", []string{"bench", "curve", "--methods", "lsh"}, "not one"},
		{"unknown optimizer", []string{"bench", "curve", "--methods", "dsh", "--optimizer", "lbfgs"}, `--optimizer: unknown optimizer "lbfgs"`},
		{"negative lr", []string{"bench", "curve", "--methods", "dsh", "--lr", "-1"}, "--lr -1 must be positive"},
		{"unknown method", []string{"bench", "curve", "--methods", "nope"}, "unknown method"},
	}
	for _, tc := range tests {
		code, _, stderr := runCLI(t, tc.args...)
		if code != exitBadInput || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit %d and %q", tc.name, code, stderr, exitBadInput, tc.want)
		}
	}
}

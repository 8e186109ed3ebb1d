package main

import (
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lookalike/lookalike/dataset"
	"github.com/lookalike/lookalike/modelfile"
)

// TestRun_GANPictures: training a generative method writes, next to the
// model, the samples grid (32 images of 28x28 in rows of 8: 4 bands of a
// real and a generated row, 8 x 29 + 1 = 233 wide, 8 x 29 + 1 high) and
// the loss curves; a method that generates nothing writes neither.
func TestRun_GANPictures(t *testing.T) {
	dir := t.TempDir()
	photos := filepath.Join(dir, "photos")
	writeShapes(t, photos, 16)
	for _, tc := range []struct {
		method   string
		pictures bool
	}{{"bgan", true}, {"uadh", true}, {"dsh", false}} {
		model := filepath.Join(dir, tc.method+".lkm")
		code, _, stderr := runCLI(t, "train", "--method", tc.method, "--images", photos, "--bits", "16", "--filters", "4,4",
			"--hidden", "16", "--epochs", "1", "--batch", "8", "--out", model, "--quiet")
		if code != 0 {
			t.Fatalf("%s: train: exit %d: %s", tc.method, code, stderr)
		}
		samples, losses := model+".samples.png", model+".losses.png"
		if !tc.pictures {
			for _, p := range []string{samples, losses} {
				if _, err := os.Stat(p); err == nil {
					t.Errorf("%s: wrote %s", tc.method, p)
				}
			}
			continue
		}
		if !strings.Contains(stderr, "wrote "+samples) || !strings.Contains(stderr, "wrote "+losses) {
			t.Errorf("%s: pictures not announced: %s", tc.method, stderr)
		}
		for _, want := range []struct {
			path string
			w, h int
		}{{samples, 233, 233}, {losses, 640, 480}} {
			f, err := os.Open(want.path)
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(f)
			f.Close()
			if err != nil {
				t.Fatalf("%s: %v", want.path, err)
			}
			if b := img.Bounds(); b.Dx() != want.w || b.Dy() != want.h {
				t.Errorf("%s is %dx%d, want %dx%d", want.path, b.Dx(), b.Dy(), want.w, want.h)
			}
		}
	}
}

// TestFirstPerClass: 7 images of classes 0 1 0 2 1 0 2; keeping 6 keeps 2
// of each class, in file order grouped by class: positions 0 2, 1 4, 3 6.
// Fewer than one per class, or more than all, is refused.
func TestFirstPerClass(t *testing.T) {
	set := &dataset.Set{Height: 1, Width: 1, Channels: 1,
		Pixels: []float32{0, 1, 2, 3, 4, 5, 6}, Labels: []int32{0, 1, 0, 2, 1, 0, 2}}
	tests := []struct {
		n    int
		want []float32
	}{
		{6, []float32{0, 2, 1, 4, 3, 6}},
		{7, []float32{0, 2, 1, 4, 3, 6}},
		{3, []float32{0, 1, 3}},
		{2, nil},
		{8, nil},
	}
	for _, tc := range tests {
		got, err := firstPerClass(set, tc.n)
		if tc.want == nil {
			if err == nil {
				t.Errorf("n = %d: accepted", tc.n)
			}
			continue
		}
		if err != nil || !slices.Equal(got.Pixels, tc.want) {
			t.Errorf("n = %d: %v (%v), want %v", tc.n, got, err, tc.want)
		}
	}
}

// TestRun_Labelled: --labelled 8 trains on the first 4 images of each of
// the 2 classes, recorded in the model, and refuses a count below one
// per class.
func TestRun_Labelled(t *testing.T) {
	dir := t.TempDir()
	photos := filepath.Join(dir, "photos")
	writeShapes(t, photos, 16)
	model := filepath.Join(dir, "m.lkm")
	args := []string{"train", "--method", "dsh", "--images", photos, "--bits", "16", "--filters", "4,4",
		"--hidden", "16", "--epochs", "1", "--batch", "8", "--out", model, "--quiet", "--labelled"}
	if code, _, stderr := runCLI(t, append(args, "8")...); code != 0 {
		t.Fatalf("train: exit %d: %s", code, stderr)
	}
	m, err := modelfile.ReadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	if tr := m.Header.Training; tr.Images != 8 || !strings.HasSuffix(tr.Protocol, "/labelled-8") {
		t.Errorf("model trained on %d images of %q", tr.Images, tr.Protocol)
	}
	if code, _, stderr := runCLI(t, append(args, "1")...); code == 0 || !strings.Contains(stderr, "--labelled 1") {
		t.Errorf("--labelled 1: exit %d: %s", code, stderr)
	}
}

// TestRun_HashGANCao: HashGAN (Cao et al.) trains with scarce labels
// (--labelled 16 of 32 images: 10 pretraining steps of its GAN, then 2
// steps of 8 for the network, the synthesized pairs joining at the
// second), reports its critic's and its pair losses on the progress
// line, writes its pictures, and its model file encodes with the trained
// network alone.
func TestRun_HashGANCao(t *testing.T) {
	dir := t.TempDir()
	photos := filepath.Join(dir, "photos")
	writeShapes(t, photos, 16)
	model := filepath.Join(dir, "hashgan-cao.lkm")
	code, _, stderr := runCLI(t, "train", "--method", "hashgan-cao", "--images", photos, "--labelled", "16", "--bits", "16",
		"--filters", "4,4", "--hidden", "16", "--epochs", "1", "--batch", "8", "--out", model)
	if code != 0 {
		t.Fatalf("train: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"pretraining hashgan-cao: 10 steps", "d_loss", "gp", "synthetic", "wrote " + model + ".samples.png", "wrote " + model + ".losses.png"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("train output lacks %q: %s", want, stderr)
		}
	}
	m, err := modelfile.ReadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	if tr := m.Header.Training; m.Header.Method != "hashgan-cao" || tr.Images != 16 || !strings.HasSuffix(tr.Protocol, "/labelled-16") {
		t.Errorf("model of %s trained on %d images of %q", m.Header.Method, tr.Images, tr.Protocol)
	}
	codes := filepath.Join(dir, "codes")
	if code, _, stderr := runCLI(t, "encode", "--model", model, "--images", photos, "--out", codes); code != 0 {
		t.Errorf("encode: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(codes); err != nil {
		t.Error(err)
	}
}

// TestRun_HashGAN: HashGAN (Dizaji et al.) trains its discriminator on the
// hashing network itself (4 steps of 8 images and their rotated copies,
// the hashing terms on after the first step), reports the
// game and the hashing terms on the progress line, writes its pictures,
// and its model file holds a 16-bit network that encodes alone.
func TestRun_HashGAN(t *testing.T) {
	dir := t.TempDir()
	photos := filepath.Join(dir, "photos")
	writeShapes(t, photos, 16)
	model := filepath.Join(dir, "hashgan.lkm")
	code, _, stderr := runCLI(t, "train", "--method", "hashgan", "--images", photos, "--bits", "16",
		"--filters", "4,4", "--hidden", "16", "--epochs", "1", "--batch", "8", "--out", model)
	if code != 0 {
		t.Fatalf("train: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"d_loss", "d_fake", "g_match", "collaborative", "consistent", "uniform",
		"wrote " + model + ".samples.png", "wrote " + model + ".losses.png"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("train output lacks %q: %s", want, stderr)
		}
	}
	m, err := modelfile.ReadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Method != "hashgan" || m.Header.Bits != 16 || m.Header.Network.Outputs != 16 {
		t.Errorf("model of %s, %d bits, %d outputs", m.Header.Method, m.Header.Bits, m.Header.Network.Outputs)
	}
	codes := filepath.Join(dir, "codes")
	if code, _, stderr := runCLI(t, "encode", "--model", model, "--images", photos, "--out", codes); code != 0 {
		t.Errorf("encode: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(codes); err != nil {
		t.Error(err)
	}
}

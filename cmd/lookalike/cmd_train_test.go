package main

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/lookalike/lookalike/dataset"
	"github.com/lookalike/lookalike/encoder"
	"github.com/lookalike/lookalike/hashing"
	"github.com/lookalike/lookalike/modelfile"
)

func TestReadLabelEmbeddings(t *testing.T) {
	tests := []struct {
		name, text string
		want       [][]float32
		err        string
	}{
		{"numbers", "1 2 3\n4 5 6\n", [][]float32{{1, 2, 3}, {4, 5, 6}}, ""},
		{"word2vec text, blank lines", "shirt 0.5 -1\n\ncoat\t2,0.25\r\n", [][]float32{{0.5, -1}, {2, 0.25}}, ""},
		{"ragged", "1 2\n3\n", nil, "line 2: 1 numbers, the first row 2"},
		{"not a number", "1 2\n3 x\n", nil, `line 2: "x" is not a number`},
		{"word only", "shirt\n", nil, "line 1: a word and no numbers"},
		{"empty", "\n\n", nil, "no label embeddings"},
	}
	for _, tc := range tests {
		path := filepath.Join(t.TempDir(), "labels.txt")
		if err := os.WriteFile(path, []byte(tc.text), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := readLabelEmbeddings(path)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), path) {
				t.Errorf("%s: error %v, want one naming %s and %q", tc.name, err, path, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
}

// TestWithLabelEmbeddings: dvsq takes one row per class and makes z as
// long as the rows; too few rows, and a method without label embeddings,
// are refused by name.
func TestWithLabelEmbeddings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "labels.txt")
	if err := os.WriteFile(path, []byte("a 1 0 0 0\nb 0 1 0 0\nc 0 0 1 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	set := &dataset.Set{Labels: []int32{0, 2, 1}}
	dvsq, _ := hashing.Lookup("dvsq")
	m, err := withLabelEmbeddings(dvsq, path, set)
	if err != nil {
		t.Fatal(err)
	}
	if d := m.(hashing.DVSQ); d.Dim != 4 || len(d.Labels) != 12 || d.Labels[5] != 1 || d.Labels[10] != 1 {
		t.Errorf("dvsq with embeddings: dim %d, labels %v", d.Dim, d.Labels)
	}
	if _, err := withLabelEmbeddings(dvsq, path, &dataset.Set{Labels: []int32{3}}); err == nil || !strings.Contains(err.Error(), "3 rows for the 4 classes") {
		t.Errorf("3 rows, 4 classes: %v", err)
	}
	dsh, _ := hashing.Lookup("dsh")
	if _, err := withLabelEmbeddings(dsh, path, set); err == nil || !strings.Contains(err.Error(), "dsh takes no label embeddings") {
		t.Errorf("dsh: %v", err)
	}
}

func TestChooseOptimizer(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		rate     float64
		flag     string
		flagRate float64
		want     string
		wantRate float64
	}{
		{"adam method, no flags", "", 1e-3, "", 0, "adam", 1e-3},
		{"sgd method, no flags", "sgd", 0.01, "", 0, "sgd", 0.01},
		{"flag names the method's", "sgd", 0.01, "sgd", 0, "sgd", 0.01},
		{"flag overrides, its default rate", "sgd", 0.01, "adam", 0, "adam", 1e-3},
		{"flag to sgd", "", 1e-3, "sgd", 0, "sgd", 0.01},
		{"rate flag alone", "sgd", 0.01, "", 0.05, "sgd", 0.05},
		{"both flags", "", 1e-3, "sgd", 0.003, "sgd", 0.003},
	}
	for _, tc := range tests {
		got, rate := chooseOptimizer(tc.method, tc.rate, tc.flag, tc.flagRate)
		if got != tc.want || rate != tc.wantRate {
			t.Errorf("%s: %s at %g, want %s at %g", tc.name, got, rate, tc.want, tc.wantRate)
		}
	}
}

// TestMethodOptimizers: the help names the methods that train by SGD.
func TestMethodOptimizers(t *testing.T) {
	if got, want := methodOptimizers(), "adam, sgd for dhn and dvsq"; got != want {
		t.Errorf("methodOptimizers() = %q, want %q", got, want)
	}
}

// TestTrainCommand: a row's command names the optimizer and rate only
// where they differ from what train gives the method, so that it reruns
// the same training.
func TestTrainCommand(t *testing.T) {
	const base = "lookalike train --method %s --bits 48 --protocol fmnist-1k --epochs 30 --seed 0"
	tests := []struct {
		method, optimizer string
		rate              float64
		want              string
	}{
		{"dsh", "", 1e-3, ""},
		{"dsh", "adam", 1e-3, ""},
		{"dsh", "sgd", 0.01, " --optimizer sgd"},
		{"dsh", "adam", 2e-3, " --lr 0.002"},
		{"dvsq", "sgd", 0.01, ""},
		{"dvsq", "adam", 1e-3, " --optimizer adam"},
		{"dvsq", "", 1e-3, " --optimizer adam"},
		{"dvsq", "sgd", 0.05, " --lr 0.05"},
	}
	for _, tc := range tests {
		h := modelfile.Header{Method: tc.method, Bits: 48, Network: encoder.CNN{Filters: []int{32, 64}, Hidden: []int{512}}}
		h.Training = modelfile.Training{Protocol: "fmnist-1k", Epochs: 30, Optimizer: tc.optimizer, LearningRate: tc.rate, Schedule: "cosine"}
		if got, want := trainCommand(h), fmt.Sprintf(base, tc.method)+tc.want; got != want {
			t.Errorf("%s %s %g: %q, want %q", tc.method, tc.optimizer, tc.rate, got, want)
		}
	}
}

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lookalike/lookalike/dataset"
)

// TestRun_BenchIndexModel runs the index benchmark on real codes: an LSH
// model's codes of fmnist-1k's database and queries.
func TestRun_BenchIndexModel(t *testing.T) {
	if _, err := os.Stat(filepath.Join(dataset.DefaultFashionMNIST, "train-images-idx3-ubyte.gz")); err != nil {
		t.Skip("Fashion-MNIST not installed: " + dataset.InstallHint)
	}
	model := filepath.Join(t.TempDir(), "lsh.lkm")
	if code, _, stderr := runCLI(t, "train", "--method", "lsh", "--bits", "32", "--protocol", "fmnist-1k", "--out", model); code != 0 {
		t.Fatalf("train: exit %d: %s", code, stderr)
	}
	code, out, stderr := runCLI(t, "bench", "index", "--model", model, "--protocol", "fmnist-1k", "--k", "10", "--no-faiss", "--json")
	if code != 0 {
		t.Fatalf("bench index --model: exit %d: %s", code, stderr)
	}
	var r indexBenchReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(r.Workload, "real: lsh.lkm") || r.N != 60000 || r.Queries != 1000 || r.Bits != 32 || r.Recall != 1 || r.QPS <= 0 {
		t.Errorf("report %+v", r)
	}
	if code, _, _ := runCLI(t, "bench", "index", "--model", filepath.Join(t.TempDir(), "none.lkm")); code != exitBadInput {
		t.Errorf("a missing model: exit %d, want %d", code, exitBadInput)
	}
}

package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestTrain_ArchitectNetworks trains the methods that change the network
// with block counts their layers accept or reject: a rejected network must
// end in an error that names the problem, not a panic.
func TestTrain_ArchitectNetworks(t *testing.T) {
	dir := t.TempDir()
	photos := filepath.Join(dir, "photos")
	writeShapes(t, photos, 8)
	tests := []struct {
		method, filters string
		fail            string // a fragment of the error; empty when training must succeed
	}{
		// One block leaves a 14x14 map, 196 steps in raster order.
		{"lstmsiamese", "4", "196 steps"},
		{"lstmsiamese", "4,4", ""},
		// The fused pyramid needs two blocks; rows of 14 steps are fine.
		{"rnnhash", "4", "at least 2 convolutional blocks"},
		{"rnnhash", "4,4,4", ""},
		{"saliency", "4", ""},
	}
	for _, tc := range tests {
		t.Run(tc.method+"/"+tc.filters, func(t *testing.T) {
			model := filepath.Join(dir, tc.method+tc.filters+".lkm")
			code, _, stderr := runCLI(t, "train", "--method", tc.method, "--images", photos, "--bits", "8",
				"--filters", tc.filters, "--hidden", "8", "--epochs", "1", "--batch", "8", "--out", model, "--quiet")
			switch {
			case tc.fail == "" && code != 0:
				t.Fatalf("train: exit %d: %s", code, stderr)
			case tc.fail != "" && (code == 0 || !strings.Contains(stderr, tc.fail)):
				t.Fatalf("train: exit %d, stderr %q, want an error about %q", code, stderr, tc.fail)
			}
		})
	}
}

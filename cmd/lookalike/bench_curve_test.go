package main

import (
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
// last row.
func TestBenchCurve(t *testing.T) {
	dir := t.TempDir()
	photos := filepath.Join(dir, "photos")
	writeShapes(t, photos, 16)
	code, out, stderr := runCLI(t, "bench", "curve", "--methods", "gah,dsh", "--images", photos, "--bits", "8",
		"--epochs", "2", "--every", "1", "--batch", "8")
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
		{"unknown method", []string{"bench", "curve", "--methods", "nope"}, "unknown method"},
	}
	for _, tc := range tests {
		code, _, stderr := runCLI(t, tc.args...)
		if code != exitBadInput || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit %d and %q", tc.name, code, stderr, exitBadInput, tc.want)
		}
	}
}

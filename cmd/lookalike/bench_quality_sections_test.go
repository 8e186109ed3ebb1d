package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lookalike/lookalike/eval"
)

// TestWriteResults_Sections: the results page puts the methods trained
// without labels, shallow before deep, in one table with the real-valued
// reference, and the supervised ones with the PyTorch rows in another.
func TestWriteResults_Sections(t *testing.T) {
	report := func(m float64) *eval.Report {
		return &eval.Report{MAPAll: m, MAPAt1000: m, PR: []eval.PRPoint{{Radius: 0, Recall: 1, Precision: m}}}
	}
	rows := []qualityRow{
		{Method: "euclidean (pixels, real-valued)", Report: report(0.4465), Note: "reference"},
		{Method: "deepbit", Bits: 32, Report: report(0.41)},
		{Method: "dsh", Bits: 32, Report: report(0.81)},
		{Method: "lsh", Bits: 32, Report: report(0.37)},
		{Method: "sadh", Bits: 32, Report: report(0.52)},
	}
	torch := []qualityRow{{Method: "dsh (PyTorch reference)", Bits: 32, Note: "not measured: no python"}}
	tests := []struct {
		name        string
		rows, torch []qualityRow
		order       []string
		absent      []string
	}{
		{"both", rows, torch, []string{
			"## Unsupervised methods", "| euclidean (pixels, real-valued) |", "| lsh | 32 | 0.3700 |", "| deepbit | 32 | 0.4100 |", "| sadh | 32 | 0.5200 |",
			"## Supervised methods", "| dsh | 32 | 0.8100 |", "| dsh (PyTorch reference) | 32 | not measured",
		}, nil},
		{"supervised only", []qualityRow{rows[0], rows[2]}, nil, []string{
			"## Supervised methods", "| euclidean (pixels, real-valued) |", "| dsh | 32 | 0.8100 |",
		}, []string{"## Unsupervised methods"}},
		{"unsupervised only", []qualityRow{rows[0], rows[4], rows[3]}, nil, []string{
			"## Unsupervised methods", "| euclidean (pixels, real-valued) |", "| lsh | 32 |", "| sadh | 32 |",
		}, []string{"## Supervised methods"}},
	}
	for _, tc := range tests {
		out := filepath.Join(t.TempDir(), "results.md")
		o := benchOptions{Out: out, BitsList: intList{32}}
		if err := writeResults(o, "fmnist-1k", tc.rows, tc.torch, io.Discard); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		page := string(data)
		at := 0
		for _, want := range tc.order {
			i := strings.Index(page[at:], want)
			if i < 0 {
				t.Errorf("%s: %q missing or out of order in:\n%s", tc.name, want, page)
				break
			}
			at += i + len(want)
		}
		for _, no := range tc.absent {
			if strings.Contains(page, no) {
				t.Errorf("%s: page has %q:\n%s", tc.name, no, page)
			}
		}
	}
}

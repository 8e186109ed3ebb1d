package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lookalike/lookalike/eval"
)

func TestMergeRows(t *testing.T) {
	row := func(method string, bits int, m float64, cmd string) qualityRow {
		return qualityRow{Method: method, Bits: bits, Report: &eval.Report{MAPAll: m}, Command: cmd}
	}
	ref := func(m float64, cmd string) qualityRow {
		r := row("euclidean (pixels, real-valued)", 0, m, cmd)
		r.Note = "reference"
		return r
	}
	torch := row("dsh (PyTorch reference)", 48, 0.8, "b")
	torch.Torch = true
	scarce := row("dsh", 48, 0.5, "c")
	scarce.Labelled = 500
	tests := []struct {
		name        string
		kept, fresh []qualityRow
		want        []string // method/bits/mAP/command of each row, in order
	}{
		{"empty", nil, []qualityRow{row("itq", 32, 0.4, "a"), ref(0.44, "a")},
			[]string{"euclidean (pixels, real-valued)/0/0.44/a", "itq/32/0.4/a"}},
		{"replace same method and bits, keep others",
			[]qualityRow{ref(0.44, "a"), row("lsh", 16, 0.2, "a"), row("dsh", 48, 0.7, "a"), row("dsh", 16, 0.6, "a")},
			[]qualityRow{row("dsh", 48, 0.84, "b"), ref(0.44, "b"), torch},
			[]string{"euclidean (pixels, real-valued)/0/0.44/b", "dsh/16/0.6/a", "dsh/48/0.84/b", "dsh (PyTorch reference)/48/0.8/b", "lsh/16/0.2/a"}},
		{"scarce labels are a row of their own, after all labels",
			[]qualityRow{row("dsh", 48, 0.84, "b")},
			[]qualityRow{scarce},
			[]string{"dsh/48/0.84/b", "dsh/48/0.5/c"}},
	}
	for _, tc := range tests {
		var got []string
		for _, r := range mergeRows(tc.kept, tc.fresh) {
			got = append(got, fmt.Sprintf("%s/%d/%g/%s", r.Method, r.Bits, r.Report.MAPAll, r.Command))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s:\n got %v\nwant %v", tc.name, got, tc.want)
		}
	}
}

// TestSaveResults: a second run updates the page with its rows and keeps
// the first run's others; --fresh drops them; another protocol is refused.
func TestSaveResults(t *testing.T) {
	out := filepath.Join(t.TempDir(), "docs", "results.md")
	o := benchOptions{Out: out}
	rep := func(m float64) *eval.Report {
		return &eval.Report{MAPAll: m, MAPAt1000: m, PR: []eval.PRPoint{{Radius: 0, Recall: 1, Precision: m}}}
	}
	first := []qualityRow{
		{Method: "lsh", Bits: 32, Report: rep(0.37), Command: "lookalike bench quality --methods lsh,dsh", Date: "2026-11-26", Cores: 2},
		{Method: "dsh", Bits: 32, Report: rep(0.80), Epochs: 5, Command: "lookalike bench quality --methods lsh,dsh", Date: "2026-11-26", Cores: 2},
	}
	second := []qualityRow{{Method: "dsh", Bits: 32, Report: rep(0.84), Epochs: 30, Command: "lookalike bench quality --methods dsh", Date: "2026-11-27", Cores: 2}}
	page := func() string {
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	if err := saveResults(o, "fmnist-1k", first, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := saveResults(o, "fmnist-1k", second, io.Discard); err != nil {
		t.Fatal(err)
	}
	p := page()
	for _, want := range []string{"| lsh | 32 | 0.3700 |", "| dsh | 32 | 0.8400 |", "| 30 |", "`lookalike bench quality --methods dsh` on 2026-11-27 (2 cores)", "`lookalike bench quality --methods lsh,dsh` on 2026-11-26"} {
		if !strings.Contains(p, want) {
			t.Errorf("page after two runs lacks %q:\n%s", want, p)
		}
	}
	if strings.Contains(p, "0.8000") {
		t.Errorf("page keeps the replaced dsh row:\n%s", p)
	}
	var f resultsFile
	data, err := os.ReadFile(resultsJSON(out))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &f); err != nil || f.Protocol != "fmnist-1k" || len(f.Rows) != 2 {
		t.Errorf("results.json: %v, protocol %q, %d rows, want fmnist-1k and 2", err, f.Protocol, len(f.Rows))
	}
	if err := saveResults(o, "fmnist-full", second, io.Discard); err == nil || !strings.Contains(err.Error(), "fmnist-1k") {
		t.Errorf("other protocol: err %v, want one naming fmnist-1k", err)
	}
	o.Fresh = true
	if err := saveResults(o, "fmnist-full", second, io.Discard); err != nil {
		t.Fatal(err)
	}
	if p := page(); strings.Contains(p, "| lsh |") || !strings.Contains(p, "fmnist-full") {
		t.Errorf("--fresh kept old rows or the protocol:\n%s", p)
	}
}

package main

import (
	"encoding/json"
	"testing"
)

func TestRun_BenchANN(t *testing.T) {
	code, out, stderr := runCLI(t, "bench", "ann", "--n", "3000", "--dim", "32", "--queries", "50",
		"--ef-search", "10,64,200", "--repeat", "1", "--no-faiss", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r annBenchReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.K != 10 || len(r.Sweep) != 3 || r.ExactQPS <= 0 || r.BuildSeconds <= 0 || r.EfSearch == 0 ||
		r.Recall < 0.95 || r.QPS <= 0 || r.BytesPerItem < 4*32 || r.FAISSSweep != nil {
		t.Errorf("report %+v", r)
	}
	tests := [][]string{
		{"--dim", "0"},
		{"--m", "1"},
		{"--k", "4000", "--n", "3000"},
		{"--target-recall", "1.5"},
		{"--ef-search", "0"},
	}
	for _, args := range tests {
		if code, _, _ := runCLI(t, append([]string{"bench", "ann", "--no-faiss"}, args...)...); code != exitBadInput {
			t.Errorf("%v: exit %d, want %d", args, code, exitBadInput)
		}
	}
}

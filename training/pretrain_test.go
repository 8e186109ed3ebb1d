package training

import (
	"math"
	"testing"
)

// TestTracePretraining: two pretraining steps that reported d_loss (and
// one of them gp) go before the run's two steps of loss and hash, matched
// by name: the pretraining-only names follow the run's, sorted, and a
// scalar a step did not report is NaN.
func TestTracePretraining(t *testing.T) {
	tr := &Trace{Names: []string{"loss", "hash"}, Steps: [][]float64{{1, 2}, {3, 4}}}
	tracePretraining(tr, []map[string]float64{
		{"pretrain_loss": 5, "d_loss": -1, "gp": 0.5},
		{"pretrain_loss": 6, "d_loss": -2},
	})
	nan := math.NaN()
	wantNames := []string{"loss", "hash", "d_loss", "gp", "pretrain_loss"}
	want := [][]float64{
		{nan, nan, -1, 0.5, 5},
		{nan, nan, -2, nan, 6},
		{1, 2, nan, nan, nan},
		{3, 4, nan, nan, nan},
	}
	if len(tr.Names) != len(wantNames) {
		t.Fatalf("names %v, want %v", tr.Names, wantNames)
	}
	for i := range wantNames {
		if tr.Names[i] != wantNames[i] {
			t.Fatalf("names %v, want %v", tr.Names, wantNames)
		}
	}
	if len(tr.Steps) != len(want) {
		t.Fatalf("%d steps, want %d", len(tr.Steps), len(want))
	}
	for s := range want {
		for k := range want[s] {
			got, w := tr.Steps[s][k], want[s][k]
			if got != w && !(math.IsNaN(got) && math.IsNaN(w)) {
				t.Errorf("step %d, %s: %v, want %v", s, wantNames[k], got, w)
			}
		}
	}
}

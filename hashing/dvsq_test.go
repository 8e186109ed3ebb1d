package hashing

import (
	"math"
	"reflect"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/lookalike/lookalike/encoder"
)

// TestDVSQ_Loss: label embeddings fixed to the axes of the plane, so the
// margins are delta = 1 between the two classes. z0 = (1, 0) of class 0
// has cosines (1, 0): hinge max(0, 1 - 1 + 0) = 0. z1 = (1, 1) of class 1
// has cosines (0.7071, 0.7071): max(0, 1 - 0.7071 + 0.7071) = 1. The sum
// 1 over 2 images x 2 classes is 0.25; the quantization term is off until
// the codebooks are fitted.
func TestDVSQ_Loss(t *testing.T) {
	m := DVSQ{Dim: 2, Codewords: 2, Lambda: 1, Every: 1, ICMSweeps: 2, Labels: []float32{1, 0, 0, 1}}
	backend, err := encoder.Backend()
	if err != nil {
		t.Fatal(err)
	}
	store := model.NewStore()
	exec, err := model.NewExec(backend, store, func(scope *model.Scope, u, labels *Node) *Node {
		return m.Loss(Batch{U: u, Labels: labels, Scope: scope, Bits: 1, Classes: 2})
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Exec(tensors.FromValue([][]float32{{1, 0}, {1, 1}}), tensors.FromValue([]int32{0, 1}))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := tensors.CopyFlatData[float32](out[0])
	if math.Abs(float64(got[0])-0.25) > 1e-6 {
		t.Errorf("loss = %v, want 0.25", got[0])
	}
}

// TestDVSQ_QuantLoss: one codebook {(1, 0), (0, 1)} in the identity
// metric. z0 = (1, 0) is a codeword (error 0); z1 = (1, 1) is at squared
// distance 1 from both (ICM takes the first). Mean 0.5.
func TestDVSQ_QuantLoss(t *testing.T) {
	m := DVSQ{Dim: 2, Codewords: 2, ICMSweeps: 2}
	b, _ := encoder.Backend()
	out, err := ExecOnce(b, func(z, v, books *Node) *Node { return m.quantLoss(z, v, books, 1) },
		tensors.FromValue([][]float32{{1, 0}, {1, 1}}), tensors.FromValue([][]float32{{1, 0}, {0, 1}}),
		tensors.FromValue([][]float32{{1, 0}, {0, 1}}))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := tensors.CopyFlatData[float32](out)
	if math.Abs(float64(got[0])-0.5) > 1e-6 {
		t.Errorf("quantization loss = %v, want 0.5", got[0])
	}
}

func TestDVSQ_Codebooks(t *testing.T) {
	m := DVSQ{Codewords: 256}
	for _, tc := range []struct {
		bits, want int
		ok         bool
	}{{48, 6, true}, {16, 2, true}, {64, 8, true}, {12, 0, false}} {
		got, err := m.Codebooks(tc.bits)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("Codebooks(%d) = %d, %v", tc.bits, got, err)
		}
	}
}

// TestDVSQ_Refit: the first refit initializes and fits the codebooks and
// turns quantization on; the fitted codebooks reconstruct two-cluster
// data better than zero codebooks do.
func TestDVSQ_Refit(t *testing.T) {
	m := DVSQ{Dim: 2, Codewords: 2, ICMSweeps: 3}
	vars := map[string][]float32{
		DVSQLabels:     {1, 0, 0, 1},
		DVSQCodebooks:  make([]float32, 2*2),
		DVSQQuantizing: {0},
	}
	x := []float32{1, 1, 1.1, 0.9, -1, -1, -0.9, -1.1}
	if err := m.Refit(vars, RefitData{Outputs: x, N: 4, Labels: []int32{0, 0, 1, 1}, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if vars[DVSQQuantizing][0] != 1 {
		t.Error("quantization not turned on")
	}
	// Two codewords near (1, 1) and (-1, -1).
	books := vars[DVSQCodebooks]
	near := func(a, b float32) bool { return math.Abs(float64(a-b)) < 0.2 }
	if !(near(books[0], -books[2]) && near(books[1], -books[3]) && near(float32(math.Abs(float64(books[0]))), 1)) {
		t.Errorf("codebooks %v, want about (1, 1) and (-1, -1)", books)
	}
}

// TestDVSQ_LabelsFixed: the label embeddings, given or drawn at random,
// are not trained (the paper's are fixed word vectors); random ones are
// drawn, not left at zero.
func TestDVSQ_LabelsFixed(t *testing.T) {
	backend, err := encoder.Backend()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		labels []float32
	}{
		{"given", []float32{1, 0, 0, 1}},
		{"random", nil},
	} {
		m := DVSQ{Dim: 2, Codewords: 2, Lambda: 1, Every: 1, ICMSweeps: 2, Labels: tc.labels}
		store := model.NewStore()
		exec, err := model.NewExec(backend, store, func(scope *model.Scope, u, labels *Node) *Node {
			return m.Loss(Batch{U: u, Labels: labels, Scope: scope, Bits: 1, Classes: 2})
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := exec.Exec(tensors.FromValue([][]float32{{1, 0}, {1, 1}}), tensors.FromValue([]int32{0, 1})); err != nil {
			t.Fatal(err)
		}
		v := store.RootScope().GetVariable(DVSQLabels)
		if v == nil {
			t.Fatalf("%s: no variable %s", tc.name, DVSQLabels)
		}
		if v.Trainable {
			t.Errorf("%s: label embeddings are trainable", tc.name)
		}
		val, err := v.Value()
		if err != nil {
			t.Fatal(err)
		}
		flat, _ := tensors.CopyFlatData[float32](val)
		norm := 0.0
		for _, x := range flat {
			norm += float64(x) * float64(x)
		}
		if norm == 0 {
			t.Errorf("%s: label embeddings are all zero", tc.name)
		}
	}
}

func TestDVSQ_WithLabelEmbeddings(t *testing.T) {
	inf := float32(math.Inf(1))
	tests := []struct {
		name string
		rows [][]float32
		err  string
	}{
		{"two classes", [][]float32{{1, 0, 0}, {0, 2, 0}}, ""},
		{"one class", [][]float32{{1, 0}}, "1 label embeddings"},
		{"ragged", [][]float32{{1, 0}, {1}}, "embedding 1 has 1 values, the first 2"},
		{"zero row", [][]float32{{1, 0}, {0, 0}}, "embedding 1 is all zeros"},
		{"infinite", [][]float32{{1, inf}, {0, 1}}, "embedding 0 holds +Inf"},
	}
	for _, tc := range tests {
		m, err := DVSQ{Dim: 300, Codewords: 256}.WithLabelEmbeddings(tc.rows)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: %v, want error %q", tc.name, err, tc.err)
			}
			continue
		}
		if d := m.(DVSQ); err != nil || d.Dim != 3 || !reflect.DeepEqual(d.Labels, []float32{1, 0, 0, 0, 2, 0}) || d.Codewords != 256 {
			t.Errorf("%s: %+v, %v", tc.name, m, err)
		}
	}
}

// TestSimplex: unit rows whose pairwise cosines are all -1/(n-1), the
// same for the same seed.
func TestSimplex(t *testing.T) {
	for _, tc := range []struct{ n, dim int }{{2, 2}, {3, 3}, {3, 7}, {10, 300}} {
		v := Simplex(tc.n, tc.dim, 7)
		if len(v) != tc.n*tc.dim {
			t.Fatalf("n %d dim %d: %d values", tc.n, tc.dim, len(v))
		}
		for i := range tc.n {
			for j := range tc.n {
				dot := 0.0
				for k := range tc.dim {
					dot += float64(v[i*tc.dim+k]) * float64(v[j*tc.dim+k])
				}
				want := -1 / float64(tc.n-1)
				if i == j {
					want = 1
				}
				if math.Abs(dot-want) > 1e-5 {
					t.Errorf("n %d dim %d: <v%d, v%d> = %v, want %v", tc.n, tc.dim, i, j, dot, want)
				}
			}
		}
		if !reflect.DeepEqual(v, Simplex(tc.n, tc.dim, 7)) || reflect.DeepEqual(v, Simplex(tc.n, tc.dim, 8)) {
			t.Errorf("n %d dim %d: not the same for seed 7 twice, or the same for seeds 7 and 8", tc.n, tc.dim)
		}
	}
}

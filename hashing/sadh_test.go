package hashing

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/lookalike/lookalike/encoder"
)

// TestSADH_Regression: codes [[1, -1], [-1, 1], [1, 1]]. Row 0 of u
// regresses code 0: (0.5 - 1)^2 + 0 = 0.25; u = (2, 2) against code 2
// costs 1 + 1 = 2, against code 1 9 + 1 = 10. Rows indexed outside the
// table (unlabelled -1, or past its end) count for nothing.
func TestSADH_Regression(t *testing.T) {
	codes := [][]float32{{1, -1}, {-1, 1}, {1, 1}}
	u := [][]float32{{0.5, -1}, {0, 0}, {2, 2}}
	tests := []struct {
		name  string
		index []int32
		want  float64
	}{
		{"unlabelled row", []int32{0, Unlabelled, 2}, (0.25 + 2) / 2},
		{"past the table", []int32{0, 5, 1}, (0.25 + 10) / 2},
		{"all rows", []int32{0, 1, 2}, (0.25 + 2 + 2) / 3},
	}
	b, err := encoder.Backend()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		out, err := ExecOnce(b, regression, tensors.FromValue(u), tensors.FromValue(codes), tensors.FromValue(tc.index))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := tensors.CopyFlatData[float32](out)
		if math.Abs(float64(got[0])-tc.want) > 1e-6 {
			t.Errorf("%s: loss = %v, want %v", tc.name, got[0], tc.want)
		}
	}
}

// TestSADH_LossOffUntilFitted: before the first refit the codes are zero
// and the loss is off.
func TestSADH_LossOffUntilFitted(t *testing.T) {
	m := SADH{Capacity: 4}
	backend, err := encoder.Backend()
	if err != nil {
		t.Fatal(err)
	}
	exec, err := model.NewExec(backend, model.NewStore(), func(scope *model.Scope, u, index *Node) *Node {
		return m.Loss(Batch{U: u, Index: index, Scope: scope, Bits: 2})
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Exec(tensors.FromValue([][]float32{{3, -1}, {2, 2}}), tensors.FromValue([]int32{0, 3}))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := tensors.CopyFlatData[float32](out[0]); got[0] != 0 {
		t.Errorf("loss before fitting = %v, want 0", got[0])
	}
}

// TestAnchorGraph: the points 0, 1, 3 are their own anchors (k-means
// leaves them) with s = 2. Squared distances to the two nearest: (0, 1),
// (0, 1) and (0, 4); t is their mean over the second, 2. The rows of Z
// are (1, e^-1/2)/(1 + e^-1/2) = (0.622459, 0.377541) on anchors 0 and 1,
// the same on 1 and 0, and (1, e^-2)/(1 + e^-2) = (0.880797, 0.119203) on
// anchors 3 and 1; Lambda = (1, 1.119203, 0.880797) and
// S_ij = sum_a Z_ia Z_ja / Lambda_a, e.g. S_00 = 0.622459^2 +
// 0.377541^2 / 1.119203 = 0.514811.
func TestAnchorGraph(t *testing.T) {
	g, err := newAnchorGraph([]float64{0, 1, 3}, 3, 1, 3, 2, 5, 7)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]float64{
		{0.514811, 0.444978, 0.040211},
		{0.444978, 0.488726, 0.066296},
		{0.040211, 0.066296, 0.893493},
	}
	for j := range 3 {
		e := make([]float64, 3)
		e[j] = 1
		col := make([]float64, 3)
		g.mul(col, e, 1)
		for i := range 3 {
			if math.Abs(col[i]-want[i][j]) > 1e-6 {
				t.Errorf("S[%d][%d] = %.6f, want %.6f", i, j, col[i], want[i][j])
			}
		}
	}
	for _, bad := range []struct{ n, m, s int }{{3, 4, 2}, {3, 2, 3}, {3, 0, 1}} {
		if _, err := newAnchorGraph(make([]float64, bad.n), bad.n, 1, bad.m, bad.s, 1, 0); err == nil {
			t.Errorf("anchor graph of %d anchors, %d nearest over %d points: no error", bad.m, bad.s, bad.n)
		}
	}
}

// TestSADH_ADMMStep: one iteration with S = [[0.5, 0.5], [0.5, 0.5]],
// nu = mu = rho = 1, from B = (0.5, -1) (r = 1). S B = (-0.25, -0.25);
// 1^T B = -0.5; B^T B = 1.25, so the gradient is
// (0.5, 0.5) + (-0.5, -0.5) + 1/2 (0.5, -1)(1.25 - 2) = (-0.1875, 0.375)
// and the curvature bound 2 + 2 + 3 * 1.25 / 2 = 5.875. With Z1 = Z2 = B
// and Y = 0 the step 1/(5.875 + 2) gives B = (0.523810, -1.047619); Z1
// clips it to (0.523810, -1); Z2 scales it to ||Z2||^2 = 2: (0.632456,
// -1.264911); Y1 = B - Z1, Y2 = B - Z2; rho doubles.
func TestSADH_ADMMStep(t *testing.T) {
	m := SADH{Balance: 1, Decorrelation: 1, Growth: 2, RhoMax: 10}
	mul := func(dst, x []float64, r int) {
		dst[0] = 0.5 * (x[0] + x[1])
		dst[1] = dst[0]
	}
	s := newADMM([]float64{0.5, -1}, 1)
	s.step(m, mul, 2, 1)
	tests := []struct {
		name      string
		got, want []float64
	}{
		{"B", s.b, []float64{0.523810, -1.047619}},
		{"Z1", s.z1, []float64{0.523810, -1}},
		{"Z2", s.z2, []float64{0.632456, -1.264911}},
		{"Y1", s.y1, []float64{0, -0.047619}},
		{"Y2", s.y2, []float64{-0.108646, 0.217292}},
		{"rho", []float64{s.rho}, []float64{2}},
	}
	for _, tc := range tests {
		for i := range tc.want {
			if math.Abs(tc.got[i]-tc.want[i]) > 1e-6 {
				t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
				break
			}
		}
	}
}

// TestSADH_Refit: two clusters of outputs around (2, 2) and (-2, -2). One
// point of the first, (2, -0.1), has the code (1, -1) by its signs; the
// graph ties it to its cluster, and the discrete update gives it the
// cluster's code, which also balances the second bit 4 to 4. The rows
// past the n images stay zero.
func TestSADH_Refit(t *testing.T) {
	outputs := []float32{
		2, 2, 2.2, 1.9, 1.9, 2.1, 2, -0.1,
		-2, -2, -2.1, -1.8, -1.9, -2.2, -2.1, -2,
	}
	m := SADH{Capacity: 10, Anchors: 2, Nearest: 1, KMeans: 5, Every: 1, Iterations: 100,
		Rho: 0.1, Growth: 1.05, RhoMax: 10, Balance: 1, Decorrelation: 1}
	vars := map[string][]float32{SADHCodes: make([]float32, 20), SADHFitted: {0}}
	if err := m.Refit(vars, RefitData{Outputs: outputs, N: 8}); err != nil {
		t.Fatal(err)
	}
	codes := vars[SADHCodes]
	for i := range 8 {
		want := []float32{1, 1}
		if i >= 4 {
			want = []float32{-1, -1}
		}
		if codes[2*i] != want[0] || codes[2*i+1] != want[1] {
			t.Errorf("code %d = %v, want %v", i, codes[2*i:2*i+2], want)
		}
	}
	for _, v := range codes[16:] {
		if v != 0 {
			t.Errorf("codes past the images: %v", codes[16:])
			break
		}
	}
	if vars[SADHFitted][0] != 1 {
		t.Error("not marked fitted")
	}
	bad := []struct {
		name string
		vars map[string][]float32
		n    int
	}{
		{"more images than capacity", map[string][]float32{SADHCodes: make([]float32, 20), SADHFitted: {0}}, 11},
		{"a table of another width", map[string][]float32{SADHCodes: make([]float32, 21), SADHFitted: {0}}, 8},
		{"a table of fewer rows", map[string][]float32{SADHCodes: make([]float32, 14), SADHFitted: {0}}, 8},
		{"no fitted flag", map[string][]float32{SADHCodes: make([]float32, 20)}, 8},
	}
	for _, tc := range bad {
		if err := m.Refit(tc.vars, RefitData{Outputs: outputs, N: tc.n}); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

// TestSADH_InputGraph: the outputs' signs mix two groups of images that
// the inputs separate. The first refit builds its graph from the inputs,
// so every image of a group gets the same code, and the balance penalty
// makes the two groups' codes opposite; once fitted, later refits build
// the graph from the outputs and ignore the inputs.
func TestSADH_InputGraph(t *testing.T) {
	outputs := []float32{
		0.3, 0.2, 0.2, -0.1, -0.2, 0.3, 0.1, 0.2,
		-0.2, -0.3, -0.1, 0.2, 0.3, -0.1, -0.3, -0.2,
	}
	inputs := []float32{
		0, 0.1, 0.1, 0, 0.05, 0.05, 0, 0,
		10, 10, 10.1, 9.9, 9.9, 10.1, 10, 10.05,
	}
	m := SADH{Capacity: 8, Anchors: 2, Nearest: 1, KMeans: 5, Every: 1, Iterations: 100,
		Rho: 0.1, Growth: 1.05, RhoMax: 10, Balance: 1, Decorrelation: 1, InputGraph: true}
	vars := map[string][]float32{SADHCodes: make([]float32, 16), SADHFitted: {0}}
	if err := m.Refit(vars, RefitData{Outputs: outputs, N: 8, Inputs: inputs}); err != nil {
		t.Fatal(err)
	}
	codes := vars[SADHCodes]
	for i := range 8 {
		group := i / 4 * 4
		if codes[2*i] != codes[2*group] || codes[2*i+1] != codes[2*group+1] {
			t.Errorf("code %d = %v, its group's first %v", i, codes[2*i:2*i+2], codes[2*group:2*group+2])
		}
	}
	if codes[0] != -codes[8] || codes[1] != -codes[9] {
		t.Errorf("group codes %v and %v are not opposite", codes[0:2], codes[8:10])
	}
	// Fitted: the graph now comes from the outputs, whatever the inputs.
	again := map[string][]float32{SADHCodes: make([]float32, 16), SADHFitted: {1}}
	if err := m.Refit(again, RefitData{Outputs: outputs, N: 8, Inputs: inputs}); err != nil {
		t.Fatal(err)
	}
	noInputs := map[string][]float32{SADHCodes: make([]float32, 16), SADHFitted: {1}}
	if err := m.Refit(noInputs, RefitData{Outputs: outputs, N: 8}); err != nil {
		t.Fatal(err)
	}
	for i := range again[SADHCodes] {
		if again[SADHCodes][i] != noInputs[SADHCodes][i] {
			t.Fatalf("a fitted refit read the inputs: %v, without them %v", again[SADHCodes], noInputs[SADHCodes])
		}
	}
	if err := m.Refit(map[string][]float32{SADHCodes: make([]float32, 16), SADHFitted: {0}},
		RefitData{Outputs: outputs, N: 8, Inputs: inputs[:15]}); err == nil {
		t.Error("15 input values for 8 images: no error")
	}
}

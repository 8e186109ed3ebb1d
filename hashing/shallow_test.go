package hashing

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/lookalike/lookalike/encoder"
)

// stretched returns n 2-D points spread along (1, 1) (std 3) and narrowly
// along (1, -1) (std 0.3), centred at (5, -2).
func stretched(n int) []float32 {
	rng := rand.New(rand.NewPCG(1, 1))
	x := make([]float32, 0, 2*n)
	for i := 0; i < n; i++ {
		a, b := 3*rng.NormFloat64(), 0.3*rng.NormFloat64()
		x = append(x, float32(5+(a+b)/math.Sqrt2), float32(-2+(a-b)/math.Sqrt2))
	}
	return x
}

// fitLinear fits m, which must learn a linear encoder.
func fitLinear(t *testing.T, m Shallow, x []float32, dim, bits int, seed int64) *encoder.Linear {
	t.Helper()
	e, err := m.Fit(x, dim, nil, bits, seed)
	if err != nil {
		t.Fatal(err)
	}
	l, ok := e.(*encoder.Linear)
	if !ok {
		t.Fatalf("%s learned a %T, want a linear encoder", m.Info().Name, e)
	}
	return l
}

func TestPCAH_Fit(t *testing.T) {
	l := fitLinear(t, PCAH{}, stretched(2000), 2, 1, 0)
	// Mean near (5, -2); the one direction near +-(1, 1)/sqrt 2.
	if math.Abs(float64(l.Mean[0])-5) > 0.2 || math.Abs(float64(l.Mean[1])+2) > 0.2 {
		t.Errorf("mean %v", l.Mean)
	}
	w0, w1 := float64(l.Projection[0]), float64(l.Projection[1])
	if math.Abs(math.Abs(w0)-1/math.Sqrt2) > 0.01 || math.Abs(w0-w1) > 0.02 {
		t.Errorf("principal direction (%v, %v), want +-(0.707, 0.707)", w0, w1)
	}
	if _, err := (PCAH{}).Fit(stretched(10), 2, nil, 3, 0); err == nil {
		t.Error("3 bits from 2 dimensions accepted")
	}
}

func TestLinear_Encode(t *testing.T) {
	// mean (1, 2), projection [[1, 0], [0, -1]]: x = (3, 1) -> (2, -1) -> (2, 1).
	l := linear([]float32{1, 2}, mat.NewDense(2, 2, []float64{1, 0, 0, -1}))
	out, err := l.Encode([]float32{3, 1, 1, 2}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{2, 1, 0, 0}; out[0] != want[0] || out[1] != want[1] || out[2] != want[2] || out[3] != want[3] {
		t.Errorf("Encode = %v, want %v", out, want)
	}
	if _, err := l.Encode([]float32{1}, 1); err == nil {
		t.Error("short input accepted")
	}
}

func TestLSH_Fit(t *testing.T) {
	x := stretched(100)
	a := fitLinear(t, LSH{}, x, 2, 16, 3)
	b := fitLinear(t, LSH{}, x, 2, 16, 3)
	c := fitLinear(t, LSH{}, x, 2, 16, 4)
	same, diff := true, false
	for i := range a.Projection {
		same = same && a.Projection[i] == b.Projection[i]
		diff = diff || a.Projection[i] != c.Projection[i]
	}
	if !same || !diff {
		t.Errorf("seeding: same seed equal %v, other seed different %v", same, diff)
	}
}

// TestITQ_Rotation: the learned rotation is orthogonal and its
// quantization loss is below that of the random rotation it starts from
// and of the identity (PCAH).
func TestITQ_Rotation(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	const n, c = 500, 8
	// Data in 8 dimensions with unequal variances, as PCA outputs are.
	v := mat.NewDense(n, c, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < c; j++ {
			v.Set(i, j, rng.NormFloat64()*float64(c-j))
		}
	}
	r, err := ITQ{Iterations: 50}.rotation(v, 9)
	if err != nil {
		t.Fatal(err)
	}
	var rtr mat.Dense
	rtr.Mul(r.T(), r)
	if !mat.EqualApprox(&rtr, eye(c), 1e-9) {
		t.Errorf("R^T R is not the identity:\n%v", mat.Formatted(&rtr))
	}
	learned := QuantizationLoss(v, r)
	start := QuantizationLoss(v, RandomRotation(c, 9))
	identity := QuantizationLoss(v, eye(c))
	if learned >= start || learned >= identity {
		t.Errorf("quantization loss: learned %v, random start %v, identity %v", learned, start, identity)
	}
}

func eye(c int) *mat.Dense {
	m := mat.NewDense(c, c, nil)
	for i := 0; i < c; i++ {
		m.Set(i, i, 1)
	}
	return m
}

// TestQuantizationLoss: V = [[0.5, -2]], R = I: sgn = [1, -1], loss
// (1-0.5)^2 + (-1+2)^2 = 1.25.
func TestQuantizationLoss(t *testing.T) {
	got := QuantizationLoss(mat.NewDense(1, 2, []float64{0.5, -2}), eye(2))
	if math.Abs(got-1.25) > 1e-12 {
		t.Errorf("loss = %v, want 1.25", got)
	}
}

package hashing

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

// TestDRDH_Reward: four images of two bits, labels 0, 0, 1, 1, codes
// 11, 10, 00, 01 (bit 0 first), every image a query.
//
//	both bits: q0 ranks 1 (d1), 3 (d1), 2 (d2): AP 1; q1 likewise 1;
//	           q2 ranks 1, 3, 0: its positive second, AP 1/2; q3 1/2: mAP 0.75
//	bit 0:     separates the classes: mAP 1
//	bit 1:     APs 1/2, 1/2, 1/3, 1/3: mAP 5/12
//	no bit:    all ties, ranked by position: APs 1, 1, 1/3, 1/3: mAP 2/3
//
// With penalty 0.1 the reward subtracts 0.1 x kept/2.
func TestDRDH_Reward(t *testing.T) {
	outputs := []float32{1, 1, 1, -1, -1, -1, -1, 1}
	env := newMaskedRetrieval(outputs, 4, 2, []int32{0, 0, 1, 1}, 4, 0)
	tests := []struct {
		name string
		mask []bool
		want float64
	}{
		{"both bits", []bool{true, true}, 0.75 - 0.1},
		{"bit 0", []bool{true, false}, 1 - 0.05},
		{"bit 1", []bool{false, true}, 5.0/12 - 0.05},
		{"no bit", []bool{false, false}, 2.0 / 3},
	}
	for _, tc := range tests {
		if got := env.reward(tc.mask, 0.1); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: reward = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestDRDH_Update: theta = 0 (keep probability 1/2), two rollouts, masks
// {bit 0} with reward 1 and {bits 0, 1} with reward 0.4. Leave-one-out
// advantages +0.6 and -0.6; the gradient is
//
//	bit 0: (0.6 (1 - 0.5) - 0.6 (1 - 0.5)) / 2 = 0
//	bit 1: (0.6 (0 - 0.5) - 0.6 (1 - 0.5)) / 2 = -0.3
//
// and Adam's first step moves each theta by lr x sign(gradient): bit 1's
// theta to -0.1 at lr 0.1, bit 0's stays (up to rounding).
func TestDRDH_Update(t *testing.T) {
	p := newKeepPolicy(2, 0.1)
	masks := [][]bool{{true, false}, {true, true}}
	rewards := []float64{1, 0.4}
	g := p.gradient(masks, rewards)
	if math.Abs(g[0]) > 1e-12 || math.Abs(g[1]+0.3) > 1e-12 {
		t.Errorf("gradient = %v, want [0 -0.3]", g)
	}
	p.update(masks, rewards)
	if math.Abs(p.theta[0]) > 1e-9 || math.Abs(p.theta[1]+0.1) > 1e-6 {
		t.Errorf("theta after one step = %v, want [0 -0.1]", p.theta)
	}
	p.theta = []float64{0.2, -0.1}
	if got := p.greedy(); !reflect.DeepEqual(got, []int{0}) {
		t.Errorf("greedy keeps %v, want [0] (the bits of theta > 0)", got)
	}
}

// TestDRDH_Prune: bits 0 and 1 spell the class of four; bits 2 to 5 are
// coin flips. The agent keeps exactly the two informative bits.
func TestDRDH_Prune(t *testing.T) {
	const n, nbits = 120, 6
	rng := rand.New(rand.NewPCG(7, 7))
	outputs := make([]float32, n*nbits)
	labels := make([]int32, n)
	for i := range n {
		labels[i] = int32(i % 4)
		for k := range nbits {
			v := float32(-1)
			switch {
			case k < 2 && labels[i]>>k&1 == 1:
				v = 1
			case k >= 2 && rng.IntN(2) == 1:
				v = 1
			}
			outputs[i*nbits+k] = v
		}
	}
	m := DRDH{Penalty: 0.05, Queries: 60, Episodes: 200, Rollouts: 8, LearningRate: 0.05}
	keep, err := m.Prune(outputs, n, nbits, labels, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(keep, []int{0, 1}) {
		t.Errorf("kept bits %v, want [0 1]", keep)
	}
}

func TestDRDH_PruneErrors(t *testing.T) {
	m := DRDH{Penalty: 0.05, Queries: 10, Episodes: 1, Rollouts: 2, LearningRate: 0.05}
	tests := []struct {
		name    string
		outputs []float32
		n, bits int
		labels  []int32
		m       DRDH
	}{
		{"outputs short", make([]float32, 3), 2, 2, []int32{0, 1}, m},
		{"labels short", make([]float32, 4), 2, 2, []int32{0}, m},
		{"one image", make([]float32, 2), 1, 2, []int32{0}, m},
		{"one rollout", make([]float32, 4), 2, 2, []int32{0, 1}, DRDH{Queries: 1, Episodes: 1, Rollouts: 1, LearningRate: 1}},
	}
	for _, tc := range tests {
		if _, err := tc.m.Prune(tc.outputs, tc.n, tc.bits, tc.labels, 0); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

// TestDRDH_FineTune: the registered DRDH is a FineTuner asking for 5
// epochs at the run's rate (0) after the cut, and FineTune reports the
// fields it is given, 0 epochs meaning none.
func TestDRDH_FineTune(t *testing.T) {
	reg, err := Lookup("drdh")
	if err != nil {
		t.Fatal(err)
	}
	f, ok := reg.(FineTuner)
	if !ok {
		t.Fatal("drdh is not a FineTuner")
	}
	tests := []struct {
		name   string
		m      FineTuner
		epochs int
		rate   float64
	}{
		{"registered", f, 5, 0},
		{"none", DRDH{}, 0, 0},
		{"fields", DRDH{FineTuneEpochs: 3, FineTuneRate: 2e-4}, 3, 2e-4},
	}
	for _, tc := range tests {
		if e, r := tc.m.FineTune(); e != tc.epochs || r != tc.rate {
			t.Errorf("%s: FineTune() = %d, %g; want %d, %g", tc.name, e, r, tc.epochs, tc.rate)
		}
	}
}

package learned

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/lookalike/lookalike/descriptor"
)

func randomMap(rng *rand.Rand, c, h, w int) descriptor.Map {
	m := descriptor.Map{C: c, H: h, W: w, Data: make([]float32, c*h*w)}
	for i := range m.Data {
		m.Data[i] = float32(max(rng.NormFloat64()+0.3, 0))
	}
	return m
}

func randomVar(rng *rand.Rand, name string, dims ...int) Var {
	v := Var{Name: name, Dims: dims}
	n := 1
	for _, d := range dims {
		n *= d
	}
	v.Data = make([]float32, n)
	for i := range v.Data {
		v.Data[i] = float32(rng.NormFloat64() * 0.5)
	}
	return v
}

// normalized is v / (|v| + 1e-6), as the heads normalize.
func normalized(v []float64) []float64 {
	var s float64
	for _, x := range v {
		s += x * x
	}
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = x / (math.Sqrt(s) + 1e-6)
	}
	return out
}

func closeTo(t *testing.T, what string, got []float32, want []float64) {
	t.Helper()
	for i := range want {
		if math.Abs(float64(got[i])-want[i]) > 1e-5 {
			t.Fatalf("%s = %v, want %v", what, got, want)
		}
	}
}

// TestGordo_Describe compares the learned R-MAC graph with the pipeline
// written out: region MACs, normalized, shifted, projected, normalized,
// summed, normalized.
func TestGordo_Describe(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const c, d = 3, 2
	h := &Head{Method: Gordo, Channels: c, Dim: d, Vars: []Var{
		randomVar(rng, gordoShift, c), randomVar(rng, gordoProjection, c, d)}}
	maps := []descriptor.Map{randomMap(rng, c, 3, 3), randomMap(rng, c, 3, 3), randomMap(rng, c, 4, 5)}
	got, err := h.Describe(maps)
	if err != nil {
		t.Fatal(err)
	}
	shift, proj := h.Vars[0].Data, h.Vars[1].Data
	for i, m := range maps {
		regions := [][3]int{{0, 0, max(m.H, m.W)}}
		regions = append(regions, descriptor.Regions(m.H, m.W)...)
		sum := make([]float64, d)
		for k, r := range regions {
			var mac []float32
			if k == 0 {
				mac = descriptor.RegionMAC(m, 0, 0, m.H, m.W)
			} else {
				mac = descriptor.RegionMAC(m, r[0], r[1], r[2], r[2])
			}
			v := make([]float64, c)
			for j, x := range mac {
				v[j] = float64(x)
			}
			v = normalized(v)
			y := make([]float64, d)
			for o := 0; o < d; o++ {
				for j := 0; j < c; j++ {
					y[o] += (v[j] + float64(shift[j])) * float64(proj[j*d+o])
				}
			}
			for o, x := range normalized(y) {
				sum[o] += x
			}
		}
		closeTo(t, "descriptor", got[i], normalized(sum))
	}
	if _, err := h.Describe([]descriptor.Map{randomMap(rng, c+1, 3, 3)}); err == nil {
		t.Error("a map of another channel count was described")
	}
}

// TestSOLAR_Describe compares the SOLAR graph with the second-order
// attention block, GeM and whitening written out, on a 2x2 map of 4
// channels with non-zero weights everywhere.
func TestSOLAR_Describe(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const c, mid, d = 4, 2, 3
	h := &Head{Method: SOLAR, Channels: c, Dim: d, Vars: []Var{
		randomVar(rng, solarF, c, mid), randomVar(rng, solarFBias, mid),
		randomVar(rng, solarG, c, mid), randomVar(rng, solarGBias, mid),
		randomVar(rng, solarH, c, mid), randomVar(rng, solarHBias, mid),
		randomVar(rng, solarV, mid, c), randomVar(rng, solarVBias, c),
		randomVar(rng, solarWhiten, c, d), randomVar(rng, solarWhitenBias, d),
	}}
	if err := h.check(); err != nil {
		t.Fatal(err)
	}
	w := map[string][]float32{}
	for _, v := range h.Vars {
		w[v.Name] = v.Data
	}
	affine := func(x []float64, m, b []float32, out int, relu bool) []float64 {
		y := make([]float64, out)
		for o := range y {
			y[o] = float64(b[o])
			for j, v := range x {
				y[o] += v * float64(m[j*out+o])
			}
			if relu {
				y[o] = math.Max(y[o], 0)
			}
		}
		return y
	}
	m := randomMap(rng, c, 2, 2)
	got, err := h.Describe([]descriptor.Map{m})
	if err != nil {
		t.Fatal(err)
	}
	const n = 4
	x := make([][]float64, n)
	var f, g, hv [n][]float64
	for i := range x {
		x[i] = make([]float64, c)
		for ch := 0; ch < c; ch++ {
			x[i][ch] = float64(m.Data[ch*n+i])
		}
		f[i] = affine(x[i], w[solarF], w[solarFBias], mid, true)
		g[i] = affine(x[i], w[solarG], w[solarGBias], mid, true)
		hv[i] = affine(x[i], w[solarH], w[solarHBias], mid, false)
	}
	pooled := make([]float64, c)
	for i := 0; i < n; i++ {
		// Attention of position i over the positions j.
		z := make([]float64, n)
		var total float64
		for j := 0; j < n; j++ {
			var s float64
			for k := 0; k < mid; k++ {
				s += f[i][k] * g[j][k]
			}
			z[j] = math.Exp(s / math.Sqrt(mid))
			total += z[j]
		}
		a := make([]float64, mid)
		for j := 0; j < n; j++ {
			for k := range a {
				a[k] += z[j] / total * hv[j][k]
			}
		}
		v := affine(a, w[solarV], w[solarVBias], c, false)
		for ch := 0; ch < c; ch++ {
			y := math.Max(x[i][ch]+v[ch], 1e-6)
			pooled[ch] += y * y * y / n
		}
	}
	for ch := range pooled {
		pooled[ch] = math.Cbrt(pooled[ch])
	}
	want := normalized(affine(normalized(pooled), w[solarWhiten], w[solarWhitenBias], d, false))
	closeTo(t, "descriptor", got[0], want)
}

package modelfile

import (
	"bytes"
	"errors"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lookalike/lookalike/encoder"
)

// shallowSamples are small valid encoders of 2 x 1 x 1 inputs and 2 bits,
// one per shallow kind.
func shallowSamples() map[string]encoder.Shallow {
	pca := encoder.Linear{Mean: []float32{0.5, -1}, Projection: []float32{1, 0, 0, 1}, Dim: 2, Out: 2}
	return map[string]encoder.Shallow{
		KindLinear: &encoder.Linear{Mean: []float32{0.5, -1}, Projection: []float32{1, -2, 3, 0.25}, Dim: 2, Out: 2},
		KindSpectral: &encoder.Spectral{PCA: pca, Min: []float32{-1, -2}, Max: []float32{3, 2},
			Modes: []int32{1, 0, 0, 2}, Out: 2},
		KindKernel: &encoder.Kernel{Anchors: []float32{0, 0, 3, 4, 1, 1}, Sigma: 2.5,
			Projection: []float32{1, -1, 2, 0, -0.5, 0.5}, Bias: []float32{0.1, -0.2}, Dim: 2, M: 3, Out: 2},
	}
}

func shallowModel(t testing.TB, e encoder.Shallow) *Model {
	t.Helper()
	kind, vars, err := ShallowVariables(e)
	if err != nil {
		t.Fatal(err)
	}
	return &Model{
		Header: Header{Method: "x", Bits: e.Outputs(), Kind: kind,
			Preprocess: Preprocess{Height: 2, Width: 1, Channels: 1, Scale: 1}},
		Variables: vars,
	}
}

// TestShallow_RoundTrip: each kind, written and read back, encodes exactly
// as the encoder it was made from.
func TestShallow_RoundTrip(t *testing.T) {
	x := []float32{0.25, 0.5, 2, -1.5, -3, 4}
	for kind, e := range shallowSamples() {
		t.Run(kind, func(t *testing.T) {
			m := shallowModel(t, e)
			if m.Header.Kind != kind {
				t.Fatalf("kind %q, want %q", m.Header.Kind, kind)
			}
			path := filepath.Join(t.TempDir(), "m.lkm")
			if err := WriteFile(path, m); err != nil {
				t.Fatal(err)
			}
			back, err := ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			enc, err := back.Encoder()
			if err != nil {
				t.Fatal(err)
			}
			want, err := e.Encode(x, 3)
			if err != nil {
				t.Fatal(err)
			}
			got, err := enc.Encode(x, 3)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("read back encodes %v, want %v", got, want)
			}
		})
	}
}

// TestShallowEncoder_Inconsistent: variables that do not make the kind's
// encoder give an error naming what is wrong.
func TestShallowEncoder_Inconsistent(t *testing.T) {
	vars := func(kind string) []Variable {
		_, v, err := ShallowVariables(shallowSamples()[kind])
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	edit := func(kind, name string, f func(*Variable)) []Variable {
		v := vars(kind)
		for i := range v {
			if v[i].Name == name {
				f(&v[i])
			}
		}
		return v
	}
	drop := func(kind, name string) []Variable {
		return slices.DeleteFunc(vars(kind), func(v Variable) bool { return v.Name == name })
	}
	f32 := func(x float32) uint64 { return uint64(math.Float32bits(x)) }
	tests := []struct {
		name, kind string
		vars       []Variable
		dim, bits  int
		want       string
	}{
		{"missing projection", KindLinear, drop(KindLinear, "projection"), 2, 2, `lacks variable "projection"`},
		{"other bits", KindLinear, vars(KindLinear), 2, 3, `"projection" has shape [2 2], want [2 3]`},
		{"other dim", KindKernel, vars(KindKernel), 3, 2, `"anchors" has shape [3 2], want [m, 3]`},
		{"extra variable", KindLinear, append(vars(KindLinear), float32Variable("junk", []int{1}, []float32{1})), 2, 2, "unexpected variables [junk]"},
		{"twice", KindLinear, append(vars(KindLinear), vars(KindLinear)[0]), 2, 2, `variable "mean" twice`},
		{"dtype", KindSpectral, edit(KindSpectral, "modes", func(v *Variable) { v.DType = Float32 }), 2, 2, `"modes" has dtype 1, want 3`},
		{"values for shape", KindSpectral, edit(KindSpectral, "max", func(v *Variable) { v.Values = v.Values[:1] }), 2, 2, `"max" has 1 values for shape [2]`},
		{"negative mode", KindSpectral, edit(KindSpectral, "modes", func(v *Variable) { v.Values[0] = uint64(uint32(0xffffffff)) }), 2, 2, "mode -1"},
		{"empty range", KindSpectral, edit(KindSpectral, "max", func(v *Variable) { v.Values[0] = f32(-1) }), 2, 2, "component 0 has range [-1, -1]"},
		{"zero width", KindKernel, edit(KindKernel, "sigma", func(v *Variable) { v.Values[0] = 0 }), 2, 2, "kernel width 0"},
		{"NaN width", KindKernel, edit(KindKernel, "sigma", func(v *Variable) { v.Values[0] = math.Float64bits(math.NaN()) }), 2, 2, "kernel width NaN"},
		{"sigma shape", KindKernel, edit(KindKernel, "sigma", func(v *Variable) { v.Dims = []int{1} }), 2, 2, `"sigma" has shape [1], want []`},
		{"unknown kind", "cnn", vars(KindLinear), 2, 2, `"cnn" is not a shallow encoder kind`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ShallowEncoder(tc.kind, tc.vars, tc.dim, tc.bits)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestReadFile_CorruptShallow: a spectral model whose file was damaged
// fails the checksum; one written with an inconsistent variable reads but
// gives a clear error when its encoder is built.
func TestReadFile_CorruptShallow(t *testing.T) {
	m := shallowModel(t, shallowSamples()[KindSpectral])
	var buf bytes.Buffer
	if err := Write(&buf, m); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	b[len(b)-10] ^= 0x40
	if _, err := Read(bytes.NewReader(b)); !errors.Is(err, ErrChecksum) {
		t.Fatalf("flipped byte: err = %v, want %v", err, ErrChecksum)
	}

	m.Header.Bits = 3 // modes are for 2 outputs
	path := filepath.Join(t.TempDir(), "m.lkm")
	if err := WriteFile(path, m); err != nil {
		t.Fatal(err)
	}
	back, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = back.Encoder()
	if want := `modelfile: spectral model: variable "modes" has shape [2 2], want [3 2]`; err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
}

func TestHeader_ValidateShape(t *testing.T) {
	h := shallowModel(t, shallowSamples()[KindKernel]).Header
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []Preprocess{{Height: 1 << 40, Width: 1 << 40, Channels: 1}, {Height: 1 << 20, Width: 1 << 20, Channels: 1 << 20}} {
		h.Preprocess = p
		if err := h.Validate(); err == nil || !strings.Contains(err.Error(), "too large") {
			t.Errorf("shape %+v: err = %v", p, err)
		}
	}
	h.Preprocess = Preprocess{Height: 2, Width: 1, Channels: 1}
	h.Kind = "quantum"
	if err := h.Validate(); err == nil {
		t.Error("unknown kind accepted")
	}
}

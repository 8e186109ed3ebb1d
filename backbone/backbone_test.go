package backbone

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/lookalike/lookalike/descriptor"
	"github.com/lookalike/lookalike/onnx"
	"github.com/lookalike/lookalike/tfjs"
)

// TestDefault: the mean (SPoC) of the default model's last feature map is
// the model's own feature vector, which tfjs/testdata holds as TensorFlow.js
// computed it.
func TestDefault(t *testing.T) {
	b, err := Default("", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var ref struct {
		Outputs [][]float32 `json:"outputs"`
	}
	data, err := os.ReadFile("../tfjs/testdata/mobilenet_v2_mid.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatal(err)
	}
	maps, err := b.Maps([][]float32{tfjs.ReferenceImage(0), tfjs.ReferenceImage(1)}, 224)
	if err != nil {
		t.Fatal(err)
	}
	for k, m := range maps {
		if m.C != 1792 || m.H != 7 || m.W != 7 {
			t.Fatalf("map %dx%dx%d, want 1792x7x7", m.C, m.H, m.W)
		}
		got := descriptor.Pool(descriptor.SPoC, m)
		for i, want := range ref.Outputs[k] {
			if math.Abs(float64(got[i]-want)) > 1e-4 {
				t.Fatalf("image %d feature %d: %v, TF.js %v", k, i, got[i], want)
			}
		}
	}
	// Another input size runs too (multi-scale extraction): 320 pixels
	// give 10x10 maps.
	big := make([]float32, 320*320*3)
	maps, err = b.Maps([][]float32{big}, 320)
	if err != nil || maps[0].H != 10 || maps[0].W != 10 {
		t.Fatalf("320-pixel input: %v, %+v", err, maps)
	}
}

// TestOpenONNX feeds an NCHW model (the identity, reshaped to a map) and
// checks the normalization and layout.
func TestOpenONNX(t *testing.T) {
	m := onnx.Model{Opset: 13, Graph: onnx.Graph{
		Name:    "id",
		Nodes:   []onnx.Node{{Op: "Identity", Name: "id", Inputs: []string{"x"}, Outputs: []string{"y"}}},
		Inputs:  []onnx.ValueInfo{{Name: "x", Dims: []int64{-1, 3, -1, -1}}},
		Outputs: []onnx.ValueInfo{{Name: "y", Dims: []int64{-1, 3, -1, -1}}},
	}}
	path := filepath.Join(t.TempDir(), "id.onnx")
	if err := os.WriteFile(path, m.Marshal(), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Name: "id", Size: 1, NCHW: true, Mean: [3]float32{0.5, 0.5, 0.5}, Std: [3]float32{0.5, 0.25, 1}, Input: "x", Output: "y"}
	b, err := OpenONNX(path, cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// One 1x1 pixel (r, g, b) = (1, 0, 0.5): normalized
	// ((1-0.5)/0.5, (0-0.5)/0.25, (0.5-0.5)/1) = (1, -2, 0), as 3 channels.
	maps, err := b.Maps([][]float32{{1, 0, 0.5}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := maps[0].Data; maps[0].C != 3 || got[0] != 1 || got[1] != -2 || got[2] != 0 {
		t.Fatalf("map %+v, want 3 channels (1, -2, 0)", maps[0])
	}
	if _, err := OpenONNX(filepath.Join(t.TempDir(), "missing.onnx"), cfg, 1); err == nil {
		t.Error("a missing model file opened")
	}
}

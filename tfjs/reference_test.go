package tfjs

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/lookalike/lookalike/ort"
)

// TestAgainstTFJS runs the default model (nsfwjs's MobileNetV2, installed
// by scripts/setup.sh), imported and run by ONNX Runtime, on the test
// images of scripts/tfjs_reference.js, and compares its feature vectors
// with those TensorFlow.js computed (testdata/mobilenet_v2_mid.json).
// The tolerance, 1e-4 on values up to 6, is float32 rounding through 50
// layers in another order.
func TestAgainstTFJS(t *testing.T) {
	var ref struct {
		Node    string      `json:"node"`
		Outputs [][]float32 `json:"outputs"`
	}
	data, err := os.ReadFile("testdata/mobilenet_v2_mid.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatal(err)
	}
	m, err := Read(ort.DepsPath("models/mobilenet_v2_mid/model.min.js"))
	if err != nil {
		t.Fatalf("%v (scripts/setup.sh installs the model)", err)
	}
	om, err := m.ONNX(ref.Node)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ort.NewSession(om.Marshal(), "input:nhwc", ref.Node, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for k, want := range ref.Outputs {
		got, _, err := s.Run(ReferenceImage(k), 1, 224, 224, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("image %d: %d features, TF.js %d", k, len(got), len(want))
		}
		worst := 0.0
		for i := range want {
			worst = max(worst, math.Abs(float64(got[i]-want[i])))
		}
		t.Logf("image %d: max |difference| %.2g over %d features", k, worst, len(want))
		if worst > 1e-4 {
			t.Errorf("image %d: features differ from TF.js by up to %g", k, worst)
		}
	}
}

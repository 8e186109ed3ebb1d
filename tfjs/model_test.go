package tfjs

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLiteralJSON(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{a:1,b:"x:y",c:!0,d:!1}`, `{"a":1,"b":"x:y","c":true,"d":false}`},
		{`{e:.5,f:-.25,g:[1,{h:null}]}`, `{"e":0.5,"f":-0.25,"g":[1,{"h":null}]}`},
		{`{min:-6.255,scale:1e-3,big:2.5E+4}`, `{"min":-6.255,"scale":0.001,"big":25000}`},
		{`{"quoted":'it\'s'}`, `{"quoted":"it's"}`},
	}
	for _, tc := range tests {
		got, err := literalJSON([]byte(tc.in))
		if err != nil {
			t.Fatalf("literalJSON(%s): %v", tc.in, err)
		}
		var a, b any
		if err := json.Unmarshal(got, &a); err != nil {
			t.Fatalf("literalJSON(%s) = %s: %v", tc.in, got, err)
		}
		_ = json.Unmarshal([]byte(tc.want), &b)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("literalJSON(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
	if _, err := literalJSON([]byte(`{a:foo}`)); err == nil {
		t.Error("an identifier value was accepted")
	}
}

// wrap writes src the way browserify's minified bundles do.
func wrap(export string) string {
	return `!function(t){if("object"==typeof exports&&"undefined"!=typeof module)module.exports=t();` +
		`else{(this).model=t()}}(function(){return function t(e,a,l){}({1:[function(t,e,a){e.exports=` +
		export + `},{}]},{},[1])(1)});`
}

const tinyTopology = `modelTopology:{node:[{name:"input",op:"Placeholder",attr:{dtype:{type:"DT_FLOAT"}}},` +
	`{name:"w",op:"Const"},{name:"y",op:"Mul",input:["input:0","w","^ctl"],attr:{T:{type:"DT_FLOAT"}}}]}`

func TestReadWrapped(t *testing.T) {
	dir := t.TempDir()
	// Weight w: shape [2,2], uint8 quantized with min -1, scale 0.5: the
	// bytes 0, 1, 2, 4 mean -1, -0.5, 0, 1.
	model := `{format:"graph-model",convertedBy:"test",` + tinyTopology + `,weightsManifest:[{paths:["group1-shard1of1"],` +
		`weights:[{name:"w",shape:[2,2],dtype:"float32",quantization:{min:-1,scale:.5,dtype:"uint8"}}]}]}`
	shard := `"` + base64.StdEncoding.EncodeToString([]byte{0, 1, 2, 4}) + `"`
	must(t, os.WriteFile(filepath.Join(dir, "model.min.js"), []byte(wrap(model)), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "group1-shard1of1.min.js"), []byte(wrap(shard)), 0o644))
	m, err := Read(filepath.Join(dir, "model.min.js"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Nodes) != 3 || !reflect.DeepEqual(m.Nodes[2].Inputs, []string{"input", "w"}) {
		t.Fatalf("nodes %+v", m.Nodes)
	}
	w := m.Weights["w"]
	if !reflect.DeepEqual(w.Shape, []int{2, 2}) || !reflect.DeepEqual(w.Data, []float32{-1, -0.5, 0, 1}) {
		t.Fatalf("w = %+v, want [2 2] [-1 -0.5 0 1]", w)
	}
}

func TestReadPlain(t *testing.T) {
	dir := t.TempDir()
	model := `{"format":"graph-model","modelTopology":{"node":[{"name":"w","op":"Const"}]},` +
		`"weightsManifest":[{"paths":["w.bin"],"weights":[{"name":"w","shape":[3],"dtype":"float32"}]}]}`
	data := make([]byte, 12)
	for i, v := range []float32{1.5, -2, 0.25} {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(v))
	}
	must(t, os.WriteFile(filepath.Join(dir, "model.json"), []byte(model), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "w.bin"), data, 0o644))
	m, err := Read(filepath.Join(dir, "model.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Weights["w"].Data; !reflect.DeepEqual(got, []float32{1.5, -2, 0.25}) {
		t.Fatalf("w = %v", got)
	}

	// A shard shorter than the manifest says is an error naming the weight.
	must(t, os.WriteFile(filepath.Join(dir, "w.bin"), data[:8], 0o644))
	if _, err := Read(filepath.Join(dir, "model.json")); err == nil || !strings.Contains(err.Error(), "weight w") {
		t.Fatalf("short shard: err = %v", err)
	}
	// So is a file that is not a graph model.
	must(t, os.WriteFile(filepath.Join(dir, "model.json"), []byte(`{"format":"layers-model"}`), 0o644))
	if _, err := Read(filepath.Join(dir, "model.json")); err == nil || !strings.Contains(err.Error(), "graph-model") {
		t.Fatalf("layers model: err = %v", err)
	}
}

func TestHalfToFloat(t *testing.T) {
	for _, tc := range []struct {
		h    uint16
		want float32
	}{{0x3c00, 1}, {0xc000, -2}, {0x3555, 0.33325195}, {0x0001, 5.9604645e-08}, {0x7bff, 65504}} {
		if got := halfToFloat(tc.h); got != tc.want {
			t.Errorf("halfToFloat(%#x) = %v, want %v", tc.h, got, tc.want)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

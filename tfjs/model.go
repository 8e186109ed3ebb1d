// Package tfjs reads TensorFlow.js graph models: the model JSON (a
// TensorFlow GraphDef topology with a weights manifest) and its binary
// weight shards, dequantizing quantized weights. It reads the files as the
// TF.js converter writes them and also in the form npm packages such as
// nsfwjs ship them for bundlers, each file wrapped in a minified JavaScript
// module (model.min.js, group1-shard1of2.min.js, ...).
package tfjs

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Model is a TF.js graph model in memory.
type Model struct {
	// Nodes in the order of the topology (TensorFlow writes them in an
	// order where inputs may come after their users; see Sorted).
	Nodes []Node
	// Weights holds the value of every Const node, dequantized to float32.
	Weights map[string]Tensor
	// Format and ConvertedBy are the model file's own fields.
	Format, ConvertedBy string
}

// Node is one operation of the graph.
type Node struct {
	Name string
	Op   string
	// Inputs names the nodes whose first output feeds each input;
	// control dependencies ("^name") are left out.
	Inputs []string
	Attr   map[string]Attr
}

// Attr is a TensorFlow AttrValue as the converter writes it in JSON.
type Attr struct {
	S    string  `json:"s"` // base64 of the bytes
	I    string  `json:"i"` // int64 as a decimal string
	F    float64 `json:"f"`
	B    bool    `json:"b"`
	Type string  `json:"type"`
	// Shape is a shape attribute (a placeholder's).
	Shape *struct {
		Dim []dim `json:"dim"`
	} `json:"shape"`
	List *struct {
		S []string  `json:"s"`
		I []string  `json:"i"`
		F []float64 `json:"f"`
	} `json:"list"`
}

type dim struct {
	Size string `json:"size"`
}

// size returns the dimension, -1 for unknown.
func (d dim) size() int64 {
	v, err := strconv.ParseInt(d.Size, 10, 64)
	if err != nil {
		return -1
	}
	return v
}

// String decodes a string attribute.
func (a Attr) String() string {
	b, err := base64.StdEncoding.DecodeString(a.S)
	if err != nil {
		return ""
	}
	return string(b)
}

// Ints decodes an integer list attribute.
func (a Attr) Ints() ([]int, error) {
	if a.List == nil {
		return nil, nil
	}
	out := make([]int, len(a.List.I))
	for i, s := range a.List.I {
		v, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("integer list: %w", err)
		}
		out[i] = v
	}
	return out, nil
}

// Strings decodes a string list attribute.
func (a Attr) Strings() []string {
	if a.List == nil {
		return nil
	}
	out := make([]string, len(a.List.S))
	for i, s := range a.List.S {
		b, _ := base64.StdEncoding.DecodeString(s)
		out[i] = string(b)
	}
	return out
}

// Tensor is a dense float32 tensor in row-major order.
type Tensor struct {
	Shape []int
	Data  []float32
}

// Size is the number of elements the shape holds.
func Size(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

type modelJSON struct {
	Format        string `json:"format"`
	ConvertedBy   string `json:"convertedBy"`
	ModelTopology struct {
		Node []struct {
			Name  string          `json:"name"`
			Op    string          `json:"op"`
			Input []string        `json:"input"`
			Attr  map[string]Attr `json:"attr"`
		} `json:"node"`
	} `json:"modelTopology"`
	WeightsManifest []struct {
		Paths   []string     `json:"paths"`
		Weights []weightJSON `json:"weights"`
	} `json:"weightsManifest"`
}

type weightJSON struct {
	Name         string `json:"name"`
	Shape        []int  `json:"shape"`
	Dtype        string `json:"dtype"`
	Quantization *struct {
		Min   *float64 `json:"min"`
		Scale *float64 `json:"scale"`
		Dtype string   `json:"dtype"`
	} `json:"quantization"`
}

// Read reads the graph model whose model JSON is at path (model.json or
// a wrapped model.min.js); the weight shards are read from the same
// directory, as raw files or wrapped ones (NAME or NAME.min.js).
func Read(path string) (*Model, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tfjs: %w", err)
	}
	js, err := unwrapJSON(src)
	if err != nil {
		return nil, fmt.Errorf("tfjs: %s: %w", path, err)
	}
	var mj modelJSON
	if err := json.Unmarshal(js, &mj); err != nil {
		return nil, fmt.Errorf("tfjs: %s: %w", path, err)
	}
	if mj.Format != "graph-model" {
		return nil, fmt.Errorf("tfjs: %s: format %q, want a graph-model", path, mj.Format)
	}
	m := &Model{Format: mj.Format, ConvertedBy: mj.ConvertedBy, Weights: map[string]Tensor{}}
	for _, n := range mj.ModelTopology.Node {
		node := Node{Name: n.Name, Op: n.Op, Attr: n.Attr}
		for _, in := range n.Input {
			if strings.HasPrefix(in, "^") {
				continue
			}
			if i := strings.LastIndexByte(in, ':'); i >= 0 {
				if in[i+1:] != "0" {
					return nil, fmt.Errorf("tfjs: %s: node %s reads output %s; only first outputs are supported", path, n.Name, in)
				}
				in = in[:i]
			}
			node.Inputs = append(node.Inputs, in)
		}
		m.Nodes = append(m.Nodes, node)
	}
	dir := filepath.Dir(path)
	for _, group := range mj.WeightsManifest {
		var data []byte
		for _, p := range group.Paths {
			shard, err := readShard(filepath.Join(dir, p))
			if err != nil {
				return nil, fmt.Errorf("tfjs: %w", err)
			}
			data = append(data, shard...)
		}
		for _, w := range group.Weights {
			t, n, err := decodeWeight(w, data)
			if err != nil {
				return nil, fmt.Errorf("tfjs: %s: weight %s: %w", path, w.Name, err)
			}
			m.Weights[w.Name] = t
			data = data[n:]
		}
		if len(data) != 0 {
			return nil, fmt.Errorf("tfjs: %s: %d bytes of weights left over", path, len(data))
		}
	}
	return m, nil
}

func readShard(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		return data, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	src, err2 := os.ReadFile(path + ".min.js")
	if err2 != nil {
		return nil, err
	}
	data, err = unwrapShard(src)
	if err != nil {
		return nil, fmt.Errorf("%s.min.js: %w", path, err)
	}
	return data, nil
}

// decodeWeight decodes one weight from the front of data and returns it
// with the number of bytes it took.
func decodeWeight(w weightJSON, data []byte) (Tensor, int, error) {
	n := Size(w.Shape)
	t := Tensor{Shape: w.Shape, Data: make([]float32, n)}
	if q := w.Quantization; q != nil {
		if w.Dtype != "float32" {
			return t, 0, fmt.Errorf("quantized %s weights are not supported", w.Dtype)
		}
		switch q.Dtype {
		case "uint8", "uint16":
			if q.Min == nil || q.Scale == nil {
				return t, 0, fmt.Errorf("%s quantization without min and scale", q.Dtype)
			}
			size := 1
			if q.Dtype == "uint16" {
				size = 2
			}
			if len(data) < n*size {
				return t, 0, fmt.Errorf("needs %d bytes, the shards hold %d more", n*size, len(data))
			}
			for i := range t.Data {
				v := uint16(data[i])
				if size == 2 {
					v = binary.LittleEndian.Uint16(data[2*i:])
				}
				t.Data[i] = float32(*q.Min + *q.Scale*float64(v))
			}
			return t, n * size, nil
		case "float16":
			if len(data) < 2*n {
				return t, 0, fmt.Errorf("needs %d bytes, the shards hold %d more", 2*n, len(data))
			}
			for i := range t.Data {
				t.Data[i] = halfToFloat(binary.LittleEndian.Uint16(data[2*i:]))
			}
			return t, 2 * n, nil
		default:
			return t, 0, fmt.Errorf("quantization %q is not supported", q.Dtype)
		}
	}
	if w.Dtype != "float32" && w.Dtype != "int32" {
		return t, 0, fmt.Errorf("dtype %q is not supported", w.Dtype)
	}
	if len(data) < 4*n {
		return t, 0, fmt.Errorf("needs %d bytes, the shards hold %d more", 4*n, len(data))
	}
	for i := range t.Data {
		bits := binary.LittleEndian.Uint32(data[4*i:])
		if w.Dtype == "int32" {
			t.Data[i] = float32(int32(bits))
		} else {
			t.Data[i] = math.Float32frombits(bits)
		}
	}
	return t, 4 * n, nil
}

// halfToFloat converts an IEEE 754 half-precision number.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal
		f := float32(frac) / 1024 * float32(math.Pow(2, -14))
		if sign != 0 {
			f = -f
		}
		return f
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | frac<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
}

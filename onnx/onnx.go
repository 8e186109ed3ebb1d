// Package onnx writes ONNX models: the subset of the format (a graph of
// standard operators with float32 weights) that importers such as
// tfjs.ONNX produce for ONNX Runtime to run.
//
// The protocol buffer encoding is written by hand from onnx.proto's field
// numbers rather than through generated code: the subset is small and the
// writer then needs no dependency.
package onnx

import (
	"encoding/binary"
	"math"
)

// IRVersion is the ONNX IR version written (IR 8: ONNX 1.10 and later).
const IRVersion = 8

// Model is an ONNX model of one graph.
type Model struct {
	Graph Graph
	// Opset is the version of the default operator set used.
	Opset    int64
	Producer string
}

// Graph is a computation graph; Nodes must be in topological order.
type Graph struct {
	Name         string
	Nodes        []Node
	Initializers []Tensor
	Inputs       []ValueInfo
	Outputs      []ValueInfo
}

// Node is one operator application.
type Node struct {
	Op, Name        string
	Inputs, Outputs []string
	Attrs           []Attr
}

// Attr is a node attribute; exactly one of the value fields is used, as
// the constructors set them.
type Attr struct {
	Name   string
	kind   int32
	f      float32
	i      int64
	s      string
	ints   []int64
	floats []float32
}

// Attribute types of onnx.proto's AttributeProto.AttributeType.
const (
	attrFloat  = 1
	attrInt    = 2
	attrString = 3
	attrFloats = 6
	attrInts   = 7
)

// Float is a float attribute.
func Float(name string, v float32) Attr { return Attr{Name: name, kind: attrFloat, f: v} }

// Int is an integer attribute.
func Int(name string, v int64) Attr { return Attr{Name: name, kind: attrInt, i: v} }

// String is a string attribute.
func String(name, v string) Attr { return Attr{Name: name, kind: attrString, s: v} }

// Ints is an integer list attribute.
func Ints(name string, v ...int64) Attr { return Attr{Name: name, kind: attrInts, ints: v} }

// Floats is a float list attribute.
func Floats(name string, v ...float32) Attr { return Attr{Name: name, kind: attrFloats, floats: v} }

// Tensor is a named constant: float32 data, or int64 data when Int64 is
// set (shapes for Reshape, for instance).
type Tensor struct {
	Name  string
	Dims  []int64
	Float []float32
	Int64 []int64
}

// ValueInfo names a graph input or output; a dimension below zero is
// symbolic (the batch size, usually).
type ValueInfo struct {
	Name string
	Dims []int64
}

// Data types of onnx.proto's TensorProto.DataType.
const (
	typeFloat = 1
	typeInt64 = 7
)

// Marshal encodes the model as an ONNX protocol buffer.
func (m *Model) Marshal() []byte {
	var b []byte
	b = appendInt(b, 1, IRVersion)
	b = appendString(b, 2, m.Producer)
	b = appendMessage(b, 7, m.Graph.marshal())
	var opset []byte
	opset = appendString(opset, 1, "")
	opset = appendInt(opset, 2, m.Opset)
	return appendMessage(b, 8, opset)
}

func (g *Graph) marshal() []byte {
	var b []byte
	for _, n := range g.Nodes {
		b = appendMessage(b, 1, n.marshal())
	}
	b = appendString(b, 2, g.Name)
	for _, t := range g.Initializers {
		b = appendMessage(b, 5, t.marshal())
	}
	for _, v := range g.Inputs {
		b = appendMessage(b, 11, v.marshal())
	}
	for _, v := range g.Outputs {
		b = appendMessage(b, 12, v.marshal())
	}
	return b
}

func (n *Node) marshal() []byte {
	var b []byte
	for _, in := range n.Inputs {
		b = appendString(b, 1, in)
	}
	for _, out := range n.Outputs {
		b = appendString(b, 2, out)
	}
	b = appendString(b, 3, n.Name)
	b = appendString(b, 4, n.Op)
	for _, a := range n.Attrs {
		b = appendMessage(b, 5, a.marshal())
	}
	return b
}

func (a *Attr) marshal() []byte {
	var b []byte
	b = appendString(b, 1, a.Name)
	switch a.kind {
	case attrFloat:
		b = appendTag(b, 2, 5)
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(a.f))
	case attrInt:
		b = appendInt(b, 3, a.i)
	case attrString:
		b = appendString(b, 4, a.s)
	case attrFloats:
		for _, f := range a.floats {
			b = appendTag(b, 7, 5)
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
		}
	case attrInts:
		for _, i := range a.ints {
			b = appendInt(b, 8, i)
		}
	}
	return appendInt(b, 20, int64(a.kind))
}

func (t *Tensor) marshal() []byte {
	var b []byte
	for _, d := range t.Dims {
		b = appendInt(b, 1, d)
	}
	var raw []byte
	if t.Int64 != nil {
		b = appendInt(b, 2, typeInt64)
		raw = make([]byte, 0, 8*len(t.Int64))
		for _, v := range t.Int64 {
			raw = binary.LittleEndian.AppendUint64(raw, uint64(v))
		}
	} else {
		b = appendInt(b, 2, typeFloat)
		raw = make([]byte, 0, 4*len(t.Float))
		for _, v := range t.Float {
			raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
		}
	}
	b = appendString(b, 8, t.Name)
	return appendMessage(b, 9, raw)
}

func (v *ValueInfo) marshal() []byte {
	var shape []byte
	for i, d := range v.Dims {
		var dim []byte
		if d < 0 {
			dim = appendString(dim, 2, symbolicDim(i))
		} else {
			dim = appendInt(dim, 1, d)
		}
		shape = appendMessage(shape, 1, dim)
	}
	var tensor []byte
	tensor = appendInt(tensor, 1, typeFloat)
	tensor = appendMessage(tensor, 2, shape)
	var typ []byte
	typ = appendMessage(typ, 1, tensor)
	var b []byte
	b = appendString(b, 1, v.Name)
	return appendMessage(b, 2, typ)
}

func symbolicDim(i int) string {
	if i == 0 {
		return "batch"
	}
	return "d" + string(rune('0'+i))
}

// Protocol buffer wire format: a tag is (field << 3 | wire type); wire
// type 0 is a varint, 2 a length-delimited field, 5 a 32-bit value.

func appendTag(b []byte, field int, wire byte) []byte {
	return binary.AppendUvarint(b, uint64(field)<<3|uint64(wire))
}

func appendInt(b []byte, field int, v int64) []byte {
	return binary.AppendUvarint(appendTag(b, field, 0), uint64(v))
}

func appendString(b []byte, field int, s string) []byte {
	b = binary.AppendUvarint(appendTag(b, field, 2), uint64(len(s)))
	return append(b, s...)
}

func appendMessage(b []byte, field int, msg []byte) []byte {
	b = binary.AppendUvarint(appendTag(b, field, 2), uint64(len(msg)))
	return append(b, msg...)
}

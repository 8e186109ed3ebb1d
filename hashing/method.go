// Package hashing holds the hashing methods and the registry through which
// the CLI, the benchmarks and the server find them.
//
// # Methods
//
// Every method implements Method. A method that trains the encoder network
// end to end with a loss on its real-valued outputs also implements Deep;
// the training package then runs it. Each method lives in its own file,
// cites its paper in its doc comment, and registers itself in init.
package hashing

import (
	"fmt"
	"sort"

	. "github.com/gomlx/gomlx/core/graph"
)

// Info describes a method for listings and model files.
type Info struct {
	// Name is the registry key, stored in model files ("dsh").
	Name string `json:"name"`
	// Title is the method's full name.
	Title string `json:"title"`
	// Paper is the citation of the method's paper.
	Paper string `json:"paper"`
	// Supervised reports whether training uses labels.
	Supervised bool `json:"supervised"`
}

// Method is a hashing method.
type Method interface {
	Info() Info
}

// Deep is a method that trains the encoder network end to end on
// mini-batches, with codes taken as the sign of the network's outputs.
type Deep interface {
	Method
	// Loss returns the scalar loss of one mini-batch: u holds the
	// network's real-valued outputs [batch, bits] and labels the class
	// labels [batch] (int32).
	Loss(u, labels *Node) *Node
}

var registry = map[string]Method{}

// Register adds a method under its Info().Name. Registering a name twice
// panics: it is a programming error.
func Register(m Method) {
	name := m.Info().Name
	if _, ok := registry[name]; ok {
		panic("hashing: method registered twice: " + name)
	}
	registry[name] = m
}

// Lookup returns the method registered under name.
func Lookup(name string) (Method, error) {
	m, ok := registry[name]
	if !ok {
		return nil, fmt.Errorf("hashing: unknown method %q (known: %v)", name, Names())
	}
	return m, nil
}

// Names lists the registered methods, sorted.
func Names() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// All returns the registered methods sorted by name.
func All() []Method {
	var out []Method
	for _, n := range Names() {
		out = append(out, registry[n])
	}
	return out
}

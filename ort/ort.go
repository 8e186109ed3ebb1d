// Package ort runs ONNX models with ONNX Runtime, loaded at run time from
// its shared library (libonnxruntime.so, from the npm package
// onnxruntime-node; scripts/setup.sh installs it).
package ort

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	onnxruntime "github.com/yalue/onnxruntime_go"
)

// LibraryEnv names the environment variable that overrides where the
// shared library is looked for.
const LibraryEnv = "LOOKALIKE_ORT_LIB"

// InstallHint says how to install the library.
const InstallHint = "run scripts/setup.sh (it extracts libonnxruntime.so.1 from the npm package onnxruntime-node@1.30.0 into deps/onnxruntime/), or set " + LibraryEnv + " to the library's path"

// ErrNoLibrary reports that the ONNX Runtime library was not found.
var ErrNoLibrary = errors.New("ONNX Runtime library not found")

var (
	initOnce sync.Once
	initErr  error
)

// LibraryPath returns where the library is looked for: $LOOKALIKE_ORT_LIB,
// else deps/onnxruntime/libonnxruntime.so.1 in the checkout (see
// DepsPath).
func LibraryPath() string {
	if p := os.Getenv(LibraryEnv); p != "" {
		return p
	}
	return DepsPath("onnxruntime/libonnxruntime.so.1")
}

// DepsPath returns the path of rel under the checkout's deps/ directory,
// where scripts/setup.sh puts what it takes from npm packages: under the
// current directory or one above it, else under the directory above the
// executable's (the checkout, for bin/lookalike). When none exists it
// returns deps/rel.
func DepsPath(rel string) string {
	rel = filepath.Join("deps", rel)
	var candidates []string
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			candidates = append(candidates, filepath.Join(dir, rel))
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	if exe, err := os.Executable(); err == nil {
		candidates = append(candidates, filepath.Join(filepath.Dir(filepath.Dir(exe)), rel))
	}
	for _, c := range candidates {
		if _, err := os.Stat(c); err == nil {
			return c
		}
	}
	return rel
}

// Init loads the library once per process.
func Init() error {
	initOnce.Do(func() {
		path := LibraryPath()
		if _, err := os.Stat(path); err != nil {
			initErr = fmt.Errorf("%w at %s: %s", ErrNoLibrary, path, InstallHint)
			return
		}
		onnxruntime.SetSharedLibraryPath(path)
		if err := onnxruntime.InitializeEnvironment(); err != nil {
			initErr = fmt.Errorf("ort: load %s: %w", path, err)
		}
	})
	return initErr
}

// Session runs one model with one float32 input and one float32 output.
// It is safe for concurrent use, as ONNX Runtime's sessions are.
type Session struct {
	session *onnxruntime.DynamicAdvancedSession
}

// NewSession prepares model (an ONNX protocol buffer) to compute output
// from input; threads sets ONNX Runtime's intra-op threads (0: its
// default, all cores).
func NewSession(model []byte, input, output string, threads int) (*Session, error) {
	if err := Init(); err != nil {
		return nil, err
	}
	opts, err := onnxruntime.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("ort: session options: %w", err)
	}
	defer opts.Destroy()
	if threads > 0 {
		if err := opts.SetIntraOpNumThreads(threads); err != nil {
			return nil, fmt.Errorf("ort: threads: %w", err)
		}
	}
	s, err := onnxruntime.NewDynamicAdvancedSessionWithONNXData(model, []string{input}, []string{output}, opts)
	if err != nil {
		return nil, fmt.Errorf("ort: load model: %w", err)
	}
	return &Session{session: s}, nil
}

// Run computes the output for data of the given input shape and returns
// it with its shape.
func (s *Session) Run(data []float32, shape ...int64) ([]float32, []int64, error) {
	in, err := onnxruntime.NewTensor(onnxruntime.NewShape(shape...), data)
	if err != nil {
		return nil, nil, fmt.Errorf("ort: input: %w", err)
	}
	defer in.Destroy()
	outputs := []onnxruntime.Value{nil}
	if err := s.session.Run([]onnxruntime.Value{in}, outputs); err != nil {
		return nil, nil, fmt.Errorf("ort: run: %w", err)
	}
	defer outputs[0].Destroy()
	out, ok := outputs[0].(*onnxruntime.Tensor[float32])
	if !ok {
		return nil, nil, fmt.Errorf("ort: output is %T, want a float32 tensor", outputs[0])
	}
	return append([]float32(nil), out.GetData()...), out.GetShape(), nil
}

// Close releases the session.
func (s *Session) Close() error { return s.session.Destroy() }

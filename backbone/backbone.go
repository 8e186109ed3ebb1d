// Package backbone runs pretrained CNNs on images to get convolutional
// feature maps, which package descriptor pools into image descriptors.
// Inference is ONNX Runtime's (package ort); the default model is the
// ImageNet MobileNetV2 (width 1.4) that the npm package nsfwjs ships as a
// TF.js graph model, imported by package tfjs at load time.
package backbone

import (
	"fmt"
	"os"

	"github.com/lookalike/lookalike/descriptor"
	"github.com/lookalike/lookalike/imageio"
	"github.com/lookalike/lookalike/ort"
	"github.com/lookalike/lookalike/tfjs"
)

// Config says how to feed a model and which tensor to take.
type Config struct {
	// Name identifies the model in index metadata.
	Name string
	// Size is the default input side in pixels (square inputs).
	Size int
	// NCHW is true when the model takes [batch, 3, h, w] inputs; else it
	// takes [batch, h, w, 3].
	NCHW bool
	// Mean and Std normalize RGB values in [0, 1]: (x - Mean) / Std.
	Mean, Std [3]float32
	// Input and Output name the model's input tensor and the feature map
	// output ([batch, channels, h, w]).
	Input, Output string
	// Fit says how images become squares.
	Fit imageio.Fit
}

// DefaultName is the default model's name.
const DefaultName = "mobilenet_v2_mid"

// DefaultModelPath is where scripts/setup.sh puts the default model.
func DefaultModelPath() string {
	return ort.DepsPath("models/mobilenet_v2_mid/model.min.js")
}

// mobileNetFeatures is the last convolutional layer of the default model
// (1792 channels, 7x7 at 224 pixels), before its global average pooling.
const mobileNetFeatures = "StatefulPartitionedCall/sequential/keras_layer/StatefulPartitionedCall/StatefulPartitionedCall/StatefulPartitionedCall/predict/MobilenetV2/Conv_1/Relu6"

// Backbone is a loaded model. It is safe for concurrent use.
type Backbone struct {
	Config  Config
	session *ort.Session
}

// Default loads the default model: nsfwjs's MobileNetV2 TF.js graph model
// from path (DefaultModelPath when empty), imported into ONNX. The model
// scales its [0, 1] input to [-1, 1] itself.
func Default(path string, threads int) (*Backbone, error) {
	if path == "" {
		path = DefaultModelPath()
	}
	m, err := tfjs.Read(path)
	if err != nil {
		return nil, fmt.Errorf("backbone: %w (scripts/setup.sh installs the default model)", err)
	}
	om, err := m.ONNX(mobileNetFeatures)
	if err != nil {
		return nil, fmt.Errorf("backbone: %w", err)
	}
	// Convolutions take any input size: free the spatial dimensions for
	// multi-scale extraction.
	om.Graph.Inputs[0].Dims = []int64{-1, -1, -1, 3}
	cfg := Config{
		Name: DefaultName, Size: 224, Std: [3]float32{1, 1, 1},
		Input: om.Graph.Inputs[0].Name, Output: mobileNetFeatures, Fit: imageio.Squash,
	}
	s, err := ort.NewSession(om.Marshal(), cfg.Input, cfg.Output, threads)
	if err != nil {
		return nil, err
	}
	return &Backbone{Config: cfg, session: s}, nil
}

// OpenONNX loads any ONNX image model from path, fed and read as cfg says:
// a torchvision network exported with torch.onnx.export, with cfg.Output
// naming the intermediate layer to use as the feature map.
func OpenONNX(path string, cfg Config, threads int) (*Backbone, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("backbone: %w", err)
	}
	if cfg.Size < 1 {
		return nil, fmt.Errorf("backbone: input size %d", cfg.Size)
	}
	s, err := ort.NewSession(data, cfg.Input, cfg.Output, threads)
	if err != nil {
		return nil, fmt.Errorf("backbone: %s: %w", path, err)
	}
	return &Backbone{Config: cfg, session: s}, nil
}

// Close releases the model.
func (b *Backbone) Close() error { return b.session.Close() }

// Maps runs the model on images, each size x size x 3 RGB values in
// [0, 1] as imageio.Square returns them, and returns their feature maps.
func (b *Backbone) Maps(images [][]float32, size int) ([]descriptor.Map, error) {
	if len(images) == 0 {
		return nil, nil
	}
	n := len(images)
	in := make([]float32, 0, n*size*size*3)
	for _, img := range images {
		if len(img) != size*size*3 {
			return nil, fmt.Errorf("backbone: image of %d values, want %d", len(img), size*size*3)
		}
		in = b.appendInput(in, img, size)
	}
	shape := []int64{int64(n), int64(size), int64(size), 3}
	if b.Config.NCHW {
		shape = []int64{int64(n), 3, int64(size), int64(size)}
	}
	out, outShape, err := b.session.Run(in, shape...)
	if err != nil {
		return nil, fmt.Errorf("backbone: %w", err)
	}
	if len(outShape) != 4 || outShape[0] != int64(n) {
		return nil, fmt.Errorf("backbone: output %s has shape %v, want [batch, channels, h, w]", b.Config.Output, outShape)
	}
	c, h, w := int(outShape[1]), int(outShape[2]), int(outShape[3])
	maps := make([]descriptor.Map, n)
	for i := range maps {
		maps[i] = descriptor.Map{C: c, H: h, W: w, Data: out[i*c*h*w : (i+1)*c*h*w]}
	}
	return maps, nil
}

// appendInput normalizes one HWC image and appends it in the model's
// layout.
func (b *Backbone) appendInput(dst, img []float32, size int) []float32 {
	m, s := b.Config.Mean, b.Config.Std
	if !b.Config.NCHW {
		for i := 0; i < len(img); i += 3 {
			dst = append(dst, (img[i]-m[0])/s[0], (img[i+1]-m[1])/s[1], (img[i+2]-m[2])/s[2])
		}
		return dst
	}
	for c := 0; c < 3; c++ {
		for p := 0; p < size*size; p++ {
			dst = append(dst, (img[p*3+c]-m[c])/s[c])
		}
	}
	return dst
}

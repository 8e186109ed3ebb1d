package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/lookalike/lookalike/codes"
	"github.com/lookalike/lookalike/dataset"
	"github.com/lookalike/lookalike/encoder"
	"github.com/lookalike/lookalike/hashing"
	"github.com/lookalike/lookalike/modelfile"
	"github.com/lookalike/lookalike/training"
)

type trainOptions struct {
	dataOptions
	Method       string
	Bits         int
	Out          string
	Epochs       int
	BatchSize    int
	LearningRate float64
	Seed         int64
	Checkpoint   string
	Filters      intList
	Hidden       intList
	Quiet        bool
}

func (o *trainOptions) AddFlags(fs *flag.FlagSet) {
	o.dataOptions.AddFlags(fs, "training images")
	fs.StringVar(&o.Method, "method", "dsh", "hashing method (see 'lookalike methods')")
	fs.IntVar(&o.Bits, "bits", 48, fmt.Sprintf("code length in bits, 1..%d", codes.MaxBits))
	fs.StringVar(&o.Out, "out", "model.lkm", "model file to write")
	fs.IntVar(&o.Epochs, "epochs", 30, "passes over the training images")
	fs.IntVar(&o.BatchSize, "batch", 128, "images per training step")
	fs.Float64Var(&o.LearningRate, "lr", 1e-3, "Adam learning rate")
	fs.Int64Var(&o.Seed, "seed", 0, "seed of weight initialization and shuffling (same seed, same codes)")
	fs.StringVar(&o.Checkpoint, "checkpoint", "", "checkpoint file, rewritten every epoch and resumed from if present (default OUT.ckpt)")
	o.Filters = intList{32, 64}
	o.Hidden = intList{512}
	fs.Var(&o.Filters, "filters", "filters of each conv-bn-relu-pool block, comma-separated")
	fs.Var(&o.Hidden, "hidden", "widths of the fully connected ReLU layers, comma-separated")
	fs.BoolVar(&o.Quiet, "quiet", false, "no progress line")
}

func init() {
	register(&command{
		Name:  "train",
		Usage: "train [--method dsh] [--bits 48] [--protocol fmnist-1k | --images DIR] [--out MODEL] [flags]",
		Short: "Train a hashing model",
		Long: `
Train trains a deep hashing method on the training images of a protocol (or
on a folder with one sub-folder per class) and writes a model file that
records the method, code length, architecture and preprocessing, so that
encoding needs nothing else.

A checkpoint is written after every epoch; rerunning the same command after
a kill resumes from it. It is removed when training finishes.

Example:

	lookalike train --method dsh --bits 48 --protocol fmnist-1k --out dsh48.lkm`,
		Flags: func(fs *flag.FlagSet) runFunc {
			var o trainOptions
			o.AddFlags(fs)
			return func(ctx context.Context, args []string, out, errw io.Writer) error {
				return runTrain(ctx, o, args, out, errw)
			}
		},
	})
}

func runTrain(ctx context.Context, o trainOptions, args []string, _, errw io.Writer) error {
	if len(args) > 0 {
		return badInput("unexpected arguments %q", args)
	}
	if err := codes.CheckBits(o.Bits); err != nil {
		return inputError{err}
	}
	m, err := hashing.Lookup(o.Method)
	if err != nil {
		return inputError{err}
	}
	if sh, ok := m.(hashing.Shallow); ok {
		return trainShallow(o, sh, errw)
	}
	deep, ok := m.(hashing.Deep)
	if !ok {
		return badInput("method %s cannot be trained from the command line", o.Method)
	}
	c := training.NewConfig(deep, o.Bits)
	c.Epochs, c.BatchSize, c.LearningRate, c.Seed = o.Epochs, o.BatchSize, o.LearningRate, o.Seed
	c.Net.Filters, c.Net.Hidden = o.Filters, o.Hidden
	if !o.Quiet {
		c.Progress = errw
	}
	c.Checkpoint = o.Checkpoint
	if c.Checkpoint == "" {
		c.Checkpoint = o.Out + ".ckpt"
	}
	var set *dataset.Set
	if o.Images != "" {
		pre := modelfile.Preprocess{Height: c.Net.Height, Width: c.Net.Width, Channels: c.Net.Channels}
		f, err := o.folder(pre, func(s string) { fmt.Fprintln(errw, s) })
		if err != nil {
			return err
		}
		set, c.Protocol = f.Set, "folder:"+o.Images
	} else {
		split, err := o.split()
		if err != nil {
			return err
		}
		set, c.Protocol = split.Train, split.Protocol
		c.Net.Height, c.Net.Width, c.Net.Channels = set.Height, set.Width, set.Channels
	}
	if err := c.Net.Validate(); err != nil {
		return inputError{err}
	}
	fmt.Fprintf(errw, "training %s, %d bits, on %d images of %s: %s, %d epochs, batch %d, lr %g, seed %d\n",
		o.Method, o.Bits, set.Len(), c.Protocol, encoder.CNN(c.Net), c.Epochs, c.BatchSize, c.LearningRate, c.Seed)
	model, err := training.Train(ctx, c, set)
	if err != nil {
		return err
	}
	if err := modelfile.WriteFile(o.Out, model); err != nil {
		return err
	}
	if err := training.Remove(c.Checkpoint); err != nil {
		return err
	}
	fmt.Fprintf(errw, "wrote %s (%.0f s of training)\n", o.Out, model.Header.Training.Seconds)
	return nil
}

// trainShallow fits a shallow method on the pixels of the training images.
func trainShallow(o trainOptions, m hashing.Shallow, errw io.Writer) error {
	var set *dataset.Set
	protocol := "folder:" + o.Images
	if o.Images != "" {
		pre := modelfile.Preprocess{Height: 28, Width: 28, Channels: 1}
		f, err := o.folder(pre, func(s string) { fmt.Fprintln(errw, s) })
		if err != nil {
			return err
		}
		set = f.Set
	} else {
		split, err := o.split()
		if err != nil {
			return err
		}
		set, protocol = split.Train, split.Protocol
	}
	fmt.Fprintf(errw, "fitting %s, %d bits, on the pixels of %d images of %s, seed %d\n", o.Method, o.Bits, set.Len(), protocol, o.Seed)
	start := time.Now()
	var labels []int32
	if m.Info().Supervised {
		labels = set.Labels
	}
	l, err := m.Fit(set.Pixels, set.ImageSize(), labels, o.Bits, o.Seed)
	if err != nil {
		return inputError{err}
	}
	model := &modelfile.Model{
		Header: modelfile.Header{
			Method: o.Method, Bits: o.Bits, Kind: modelfile.KindLinear,
			Preprocess: modelfile.Preprocess{Height: set.Height, Width: set.Width, Channels: set.Channels, Scale: 1.0 / 255},
			Training:   modelfile.Training{Protocol: protocol, Images: set.Len(), Seed: o.Seed, Seconds: time.Since(start).Seconds()},
		},
		Variables: modelfile.LinearVariables(l),
	}
	if err := modelfile.WriteFile(o.Out, model); err != nil {
		return err
	}
	fmt.Fprintf(errw, "wrote %s (%.1f s of fitting)\n", o.Out, model.Header.Training.Seconds)
	return nil
}

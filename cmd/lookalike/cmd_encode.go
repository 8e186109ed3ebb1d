package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/lookalike/lookalike/codes"
	"github.com/lookalike/lookalike/dataset"
	"github.com/lookalike/lookalike/modelfile"
)

type encodeOptions struct {
	dataOptions
	Model string
	Split string
	Out   string
}

func init() {
	register(&command{
		Name:  "encode",
		Usage: "encode --model MODEL [--protocol P --split database | --images DIR] --out CODES",
		Short: "Encode images into a binary code file",
		Long: `
Encode runs the model over a split of a protocol (query, train or database)
or over a folder of images and writes their binary codes, with their labels,
to a code file (header with magic, version, bits and count; CRC-32C).

Example:

	lookalike encode --model dsh48.lkm --protocol fmnist-1k --split query --out query.lkc`,
		Flags: func(fs *flag.FlagSet) runFunc {
			var o encodeOptions
			o.dataOptions.AddFlags(fs, "images")
			fs.StringVar(&o.Model, "model", "", "model file (required)")
			fs.StringVar(&o.Split, "split", "database", "protocol split to encode: query, train or database")
			fs.StringVar(&o.Out, "out", "codes.lkc", "code file to write")
			return func(ctx context.Context, args []string, out, errw io.Writer) error {
				return runEncode(ctx, o, args, out, errw)
			}
		},
	})
}

func runEncode(_ context.Context, o encodeOptions, args []string, _, errw io.Writer) error {
	if len(args) > 0 {
		return badInput("unexpected arguments %q", args)
	}
	m, enc, err := loadModel(o.Model)
	if err != nil {
		return err
	}
	set, _, err := o.load(m.Header.Preprocess, o.Split, errw)
	if err != nil {
		return err
	}
	cs, err := encodeSet(m, enc, set)
	if err != nil {
		return err
	}
	if err := codes.WriteFile(o.Out, cs, set.Labels); err != nil {
		return err
	}
	fmt.Fprintf(errw, "wrote %d codes of %d bits to %s\n", cs.Len(), cs.Bits, o.Out)
	return nil
}

// load returns the images of a protocol split, or of the image folder with
// their paths.
func (o *dataOptions) load(pre modelfile.Preprocess, split string, errw io.Writer) (*dataset.Set, []string, error) {
	if o.Images != "" {
		f, err := o.folder(pre, func(s string) { fmt.Fprintln(errw, s) })
		if err != nil {
			return nil, nil, err
		}
		return f.Set, f.Paths, nil
	}
	sp, err := o.split()
	if err != nil {
		return nil, nil, err
	}
	switch split {
	case "query":
		return sp.Query, nil, nil
	case "train":
		return sp.Train, nil, nil
	case "database":
		return sp.Database, nil, nil
	}
	return nil, nil, badInput("unknown split %q: want query, train or database", split)
}

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/lookalike/lookalike/codes"
	"github.com/lookalike/lookalike/dataset"
	"github.com/lookalike/lookalike/eval"
)

type evalOptions struct {
	dataOptions
	Model  string
	JSON   bool
	Plot   string
	Index  string
	Report string
}

func init() {
	register(&command{
		Name:  "eval",
		Usage: "eval (--model MODEL | --index DIR) [--protocol fmnist-1k] [--json] [--plot pr.svg] [--report FILE]",
		Short: "Evaluate a model under an evaluation protocol",
		Long: `
Eval encodes the protocol's queries and database with the model, ranks the
database for every query by Hamming distance (ties by database position) and
prints mAP@all, mAP@1000, P@1000, the precision within Hamming radius 2 (with
the fraction of queries whose radius-2 ball is empty) and the PR curve, as
shared/protocols.md defines them. Quantized models (dvsq) rank the database
by the asymmetric quantizer distance instead (the inner product of the
query's output with each item's reconstruction from its code); the
Hamming-radius figures do not apply to them and print as zero. With
--images DIR (one sub-folder per class), every image of the folder queries
the whole folder, itself included.

--json prints the report as JSON (protocol, method, bits, map_all,
map_at_1000, p_r2, pr_curve, ...); --plot writes the PR curve as an SVG (or a
PNG, by the file's extension).

Example:

	lookalike eval --model dsh48.lkm --protocol fmnist-1k --json`,
		Flags: func(fs *flag.FlagSet) runFunc {
			var o evalOptions
			o.dataOptions.AddFlags(fs, "queries and database")
			fs.StringVar(&o.Model, "model", "", "model file (required)")
			fs.BoolVar(&o.JSON, "json", false, "print the report as JSON")
			fs.StringVar(&o.Plot, "plot", "", "write the PR curve plot to this .svg or .png file")
			fs.StringVar(&o.Index, "index", "", "take the model and the database codes from this index directory (built by 'lookalike index' on the protocol's database) instead of encoding the database again")
			fs.StringVar(&o.Report, "report", "", "also write the JSON report to this file")
			return func(ctx context.Context, args []string, out, errw io.Writer) error {
				return runEval(ctx, o, args, out, errw)
			}
		},
	})
}

func runEval(ctx context.Context, o evalOptions, args []string, stdout, errw io.Writer) error {
	if len(args) > 0 {
		return badInput("unexpected arguments %q", args)
	}
	var ix *openedIndex
	if o.Index != "" {
		var err error
		if ix, err = openIndex(o.Index); err != nil {
			return err
		}
		o.Model = filepath.Join(o.Index, modelFile)
	}
	m, enc, err := loadModel(o.Model)
	if err != nil {
		return err
	}
	split, err := o.split()
	if o.Images != "" {
		// A labelled folder: every image queries the whole folder.
		var f *dataset.Folder
		f, err = o.folder(m.Header.Preprocess, func(s string) { fmt.Fprintln(errw, s) })
		if err == nil {
			split = &dataset.Split{Protocol: "folder:" + o.Images, Query: f.Set, Database: f.Set}
		}
	}
	if err != nil {
		return err
	}
	start := time.Now()
	var r *eval.Report
	if ix != nil {
		if ix.meta.Source != split.Protocol+":database" || ix.codes.Len() != split.Database.Len() {
			return badInput("index %s holds %s (%d codes), not the database of %s", o.Index, ix.meta.Source, ix.codes.Len(), split.Protocol)
		}
		q, err := encodeSet(m, enc, split.Query)
		if err != nil {
			return err
		}
		if r, err = eval.Hamming(q, split.Query.Labels, ix.codes, split.Database.Labels); err != nil {
			return err
		}
	} else if r, err = evaluate(m, enc, split); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	encodeTime := time.Since(start)
	r.Protocol, r.Method, r.Seed = split.Protocol, m.Header.Method, m.Header.Training.Seed
	if o.Plot != "" {
		if err := eval.WritePlot(o.Plot, fmt.Sprintf("PR curve: %s %d bits, %s", r.Method, r.Bits, r.Protocol), []eval.Curve{{Label: r.Method, Points: r.PR}}); err != nil {
			return err
		}
	}
	if o.Report != "" {
		err := codes.AtomicWrite(o.Report, func(w io.Writer) error {
			return writeJSON(w, r)
		})
		if err != nil {
			return err
		}
	}
	if o.JSON {
		return writeJSON(stdout, r)
	}
	what := "queries and database"
	if ix != nil {
		what = "queries (database codes from " + o.Index + ")"
	}
	fmt.Fprintf(stdout, "encoded and ranked the %s in %.1f s\n", what, encodeTime.Seconds())
	eval.WriteTable(stdout, r)
	return nil
}

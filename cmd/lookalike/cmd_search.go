package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"

	"github.com/lookalike/lookalike/dataset"
	"github.com/lookalike/lookalike/index"
)

type searchOptions struct {
	backboneOptions
	Index  string
	K      int
	Radius int
	ID     int
	JSON   bool
}

// searchResult is one hit as printed.
type searchResult struct {
	Rank     int    `json:"rank"`
	ID       int    `json:"id"`
	Distance int    `json:"distance"`
	Label    int32  `json:"label"`
	Path     string `json:"path,omitempty"`
}

func init() {
	register(&command{
		Name:  "search",
		Usage: "search --index DIR [--k 10 | --radius R] [--json] (IMAGE | --id N)",
		Short: "Search an index by image file or by database position",
		Long: `
Search finds the nearest database items to a query.

In a photo index the query is an image file, described as the index's
photos were; results are the top k by cosine similarity (score, 1 for the
same descriptor) with their paths. --json prints {"results": [{"rank",
"path", "score"}...]}.

In a Hamming index the query is an image file (encoded with the index's
model) or the code of database item --id; results are ordered by Hamming
distance, ties by database position, and show id, distance, label and (for
folder indexes) path. --radius R returns every item within distance R
instead of the top k.

Examples:

	lookalike search --index photos.idx --k 10 --json query.jpg
	lookalike search --index fmnist.idx --id 0 --k 5
	lookalike search --index fmnist.idx --k 10 --json shirt.png`,
		Flags: func(fs *flag.FlagSet) runFunc {
			var o searchOptions
			fs.StringVar(&o.Index, "index", "", "index directory (required)")
			fs.IntVar(&o.K, "k", 10, "number of results")
			fs.IntVar(&o.Radius, "radius", -1, "return all items within this Hamming distance instead of the top k")
			fs.IntVar(&o.ID, "id", -1, "search with the code of this database position instead of an image")
			fs.BoolVar(&o.JSON, "json", false, "print results as JSON")
			o.backboneOptions.AddFlags(fs)
			return func(ctx context.Context, args []string, out, errw io.Writer) error {
				return runSearch(ctx, o, args, out, errw)
			}
		},
	})
}

func runSearch(_ context.Context, o searchOptions, args []string, stdout, _ io.Writer) error {
	if o.K < 1 {
		return badInput("--k must be at least 1, got %d", o.K)
	}
	if kind, err := indexKind(o.Index); err == nil && kind == photosKind {
		return searchPhotos(o, args, stdout)
	}
	if (o.ID >= 0) == (len(args) == 1) || len(args) > 1 {
		return badInput("give either one IMAGE argument or --id N")
	}
	ix, err := openIndex(o.Index)
	if err != nil {
		return err
	}
	var q []uint64
	if o.ID >= 0 {
		if o.ID >= ix.codes.Len() {
			return badInput("--id %d out of range: the index holds %d items", o.ID, ix.codes.Len())
		}
		q = ix.codes.At(o.ID)
	} else {
		if q, err = encodeFile(o.Index, args[0]); err != nil {
			return err
		}
	}
	var hits []index.Result
	if o.Radius >= 0 {
		hits, err = ix.index.Radius(q, o.Radius)
	} else {
		hits, err = ix.index.Search(q, o.K)
	}
	if err != nil {
		return err
	}
	results := make([]searchResult, len(hits))
	for i, h := range hits {
		results[i] = searchResult{Rank: i + 1, ID: h.ID, Distance: h.Distance, Label: -1}
		if ix.labels != nil {
			results[i].Label = ix.labels[h.ID]
		}
		if ix.paths != nil {
			results[i].Path = ix.paths[h.ID]
		}
	}
	if o.JSON {
		return json.NewEncoder(stdout).Encode(map[string]any{"bits": ix.codes.Bits, "method": ix.meta.Method, "results": results})
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RANK\tID\tDISTANCE\tLABEL\tPATH")
	for _, r := range results {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%s\n", r.Rank, r.ID, r.Distance, r.Label, r.Path)
	}
	return tw.Flush()
}

// encodeFile encodes one image file with the index's model.
func encodeFile(dir, path string) ([]uint64, error) {
	m, enc, err := loadModel(filepath.Join(dir, modelFile))
	if err != nil {
		return nil, err
	}
	pre := m.Header.Preprocess
	pix, err := dataset.LoadImage(path, pre.Height, pre.Width, pre.Channels)
	if err != nil {
		return nil, badInput("read image %s: %v", path, err)
	}
	one := &dataset.Set{Height: pre.Height, Width: pre.Width, Channels: pre.Channels, Pixels: pix, Labels: []int32{-1}}
	cs, err := encodeSet(m, enc, one)
	if err != nil {
		return nil, err
	}
	return cs.At(0), nil
}

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
	"github.com/lookalike/lookalike/imageio"
	"github.com/lookalike/lookalike/index"
	"github.com/lookalike/lookalike/modelfile"
	"github.com/lookalike/lookalike/store"
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
instead of the top k. A store ('index --store') is searched the same way;
its ids are the stored ids, which deletes do not shift.

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
	if store.Exists(o.Index) {
		return searchStore(o, args, stdout)
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
	return printHits(stdout, o.JSON, ix.codes.Bits, ix.meta.Method, results)
}

// printHits prints Hamming search results as a table or as JSON.
func printHits(stdout io.Writer, asJSON bool, bits int, method string, results []searchResult) error {
	if asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{"bits": bits, "method": method, "results": results})
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RANK\tID\tDISTANCE\tLABEL\tPATH")
	for _, r := range results {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%s\n", r.Rank, r.ID, r.Distance, r.Label, r.Path)
	}
	return tw.Flush()
}

// searchStore searches a store by the code of stored item --id or by an
// image file, encoded with the model the store records.
func searchStore(o searchOptions, args []string, stdout io.Writer) error {
	st, err := openCodeStore(o.Index)
	if err != nil {
		return err
	}
	defer st.Close()
	var q []uint64
	method := ""
	if o.ID >= 0 {
		if q, err = st.Code(uint64(o.ID)); err != nil {
			return badInput("--id %d: %v", o.ID, err)
		}
		if path := st.Stats().Model; path != "" {
			if m, err := modelfile.ReadFile(path); err == nil {
				method = m.Header.Method
			}
		}
	} else {
		encode, name, err := storeEncoder(st)
		if err != nil {
			return err
		}
		if encode == nil {
			return badInput("%s records no model: search it with --id", o.Index)
		}
		method = name
		img, err := imageio.Decode(args[0], imageio.DefaultLimits)
		if err != nil {
			return badInput("read image %s: %v", args[0], err)
		}
		if q, err = encode(img); err != nil {
			return err
		}
	}
	var hits []store.Hit
	if o.Radius >= 0 {
		hits, err = st.Radius(q, o.Radius)
	} else {
		hits, err = st.Search(q, o.K)
	}
	if err != nil {
		return err
	}
	ids := make([]uint64, len(hits))
	for i, h := range hits {
		ids[i] = h.ID
	}
	labels, paths, err := st.Labels(ids)
	if err != nil {
		return err
	}
	results := make([]searchResult, len(hits))
	for i, h := range hits {
		results[i] = searchResult{Rank: i + 1, ID: int(h.ID), Distance: h.Distance, Label: labels[i], Path: paths[i]}
	}
	return printHits(stdout, o.JSON, st.Bits(), method, results)
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

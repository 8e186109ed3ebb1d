package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/lookalike/lookalike/codes"
	"github.com/lookalike/lookalike/index"
	"github.com/lookalike/lookalike/modelfile"
)

// An index directory holds:
//
//	meta.json   what the index is (indexMeta)
//	model.lkm   the model that encoded it, so searching needs nothing else
//	codes.lkc   the database codes and labels
//	paths.txt   one file path per code, when built from a folder
const (
	metaFile  = "meta.json"
	modelFile = "model.lkm"
	codesFile = "codes.lkc"
	pathsFile = "paths.txt"

	indexFormat  = "lookalike-index"
	indexVersion = 1
)

type indexMeta struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	Kind    string `json:"kind"`
	Method  string `json:"method"`
	Bits    int    `json:"bits"`
	Count   int    `json:"count"`
	Source  string `json:"source"`
}

type indexOptions struct {
	dataOptions
	photoOptions
	Model string
	Index string
	Store bool
}

func init() {
	register(&command{
		Name:  "index",
		Usage: "index --index DIR (PHOTODIR | --model MODEL [--protocol P | --images DIR] [--store])",
		Short: "Index a folder of photos, or encode a database into a Hamming index",
		Long: `
Index builds an index directory that 'lookalike search' reads.

With a PHOTODIR argument it indexes a folder of photos (recursively: JPEG,
PNG, GIF, WebP, BMP, TIFF) with a pretrained CNN: each image is decoded,
turned upright by its EXIF orientation, resized, run through the backbone,
and its last feature map pooled (--pooling) into an L2-normalized
descriptor, averaged over --scales, optionally PCA-whitened (--whiten). A
file that cannot be read is reported with its reason and the rest is
indexed. Rerun on the same folder, it only processes new and changed files
and drops removed ones; a killed run keeps what it had done (saved every
30 s). The index holds meta.json and album.lka.

With --model it encodes the protocol's database (or a folder of images with
one sub-folder per class, --images) with a hashing model and writes
meta.json, a copy of the model, the codes with their labels and, for a
folder, the image paths.

With --model and --store it writes a store instead (package store): codes
in checksummed segment files, labels, paths and content hashes in an
embedded database, and the model, which the store records. 'serve' answers
searches over it by id, code or image and, with an API key, adds and
deletes items, each committed to disk before it is acknowledged; 'search'
reads it as it reads the other form. DIR must not already hold a store.

Examples:

	lookalike index --index photos.idx ~/Pictures
	lookalike index --index photos.idx --pooling rmac --scales 224,320 ~/Pictures
	lookalike index --model dsh48.lkm --protocol fmnist-1k --index fmnist.idx
	lookalike index --model dsh48.lkm --protocol fmnist-1k --index fmnist.store --store`,
		Flags: func(fs *flag.FlagSet) runFunc {
			var o indexOptions
			o.dataOptions.AddFlags(fs, "database")
			o.photoOptions.AddFlags(fs)
			fs.StringVar(&o.Model, "model", "", "model file (required)")
			fs.StringVar(&o.Index, "index", "", "index directory to write (required)")
			fs.BoolVar(&o.Store, "store", false, "with --model: write a store that serve can add to and delete from")
			return func(ctx context.Context, args []string, out, errw io.Writer) error {
				return runIndex(ctx, o, args, out, errw)
			}
		},
	})
}

func runIndex(ctx context.Context, o indexOptions, args []string, _, errw io.Writer) error {
	if o.Index == "" {
		return badInput("--index is required")
	}
	if len(args) == 1 && o.Model == "" {
		if o.Store {
			return badInput("--store needs --model: a photo index is changed by serve as it is")
		}
		return runIndexPhotos(ctx, o.photoOptions, o.Index, args[0], errw)
	}
	if len(args) > 0 {
		return badInput("unexpected arguments %q (a photo folder is indexed without --model)", args)
	}
	m, enc, err := loadModel(o.Model)
	if err != nil {
		return err
	}
	set, paths, err := o.load(m.Header.Preprocess, "database", errw)
	if err != nil {
		return err
	}
	cs, err := encodeSet(m, enc, set)
	if err != nil {
		return err
	}
	if o.Store {
		if err := writeCodeStore(o.Index, m, cs, set, paths); err != nil {
			return err
		}
		fmt.Fprintf(errw, "stored %d images (%d bits, %s) in %s\n", cs.Len(), cs.Bits, m.Header.Method, o.Index)
		return nil
	}
	if err := os.MkdirAll(o.Index, 0o755); err != nil {
		return err
	}
	if err := modelfile.WriteFile(filepath.Join(o.Index, modelFile), m); err != nil {
		return err
	}
	if err := codes.WriteFile(filepath.Join(o.Index, codesFile), cs, set.Labels); err != nil {
		return err
	}
	source := o.Protocol + ":database"
	if o.Images != "" {
		source = "folder:" + o.Images
		err := codes.AtomicWrite(filepath.Join(o.Index, pathsFile), func(w io.Writer) error {
			_, err := io.WriteString(w, strings.Join(paths, "\n")+"\n")
			return err
		})
		if err != nil {
			return err
		}
	}
	meta := indexMeta{Format: indexFormat, Version: indexVersion, Kind: "hamming-flat",
		Method: m.Header.Method, Bits: cs.Bits, Count: cs.Len(), Source: source}
	// meta.json goes last: an index directory without it is incomplete.
	err = codes.AtomicWrite(filepath.Join(o.Index, metaFile), func(w io.Writer) error {
		return writeJSON(w, meta)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(errw, "indexed %d images (%d bits, %s) in %s\n", cs.Len(), cs.Bits, m.Header.Method, o.Index)
	return nil
}

// openedIndex is an index directory loaded for searching.
type openedIndex struct {
	meta   indexMeta
	codes  *codes.Set
	labels []int32
	paths  []string
	index  *index.Hamming
}

// indexKind returns the kind meta.json in dir records.
func indexKind(dir string) (string, error) {
	raw, err := os.ReadFile(filepath.Join(dir, metaFile))
	if err != nil {
		return "", err
	}
	var m indexMeta
	if err := json.Unmarshal(raw, &m); err != nil {
		return "", err
	}
	return m.Kind, nil
}

func openIndex(dir string) (*openedIndex, error) {
	if dir == "" {
		return nil, badInput("--index is required")
	}
	raw, err := os.ReadFile(filepath.Join(dir, metaFile))
	if err != nil {
		return nil, inputError{fmt.Errorf("%s is not an index directory: %w", dir, err)}
	}
	var ix openedIndex
	if err := json.Unmarshal(raw, &ix.meta); err != nil || ix.meta.Format != indexFormat {
		return nil, badInput("%s: not a Lookalike index meta file", filepath.Join(dir, metaFile))
	}
	if ix.meta.Version != indexVersion {
		return nil, badInput("%s: index version %d, this build reads %d", dir, ix.meta.Version, indexVersion)
	}
	if ix.codes, ix.labels, err = codes.ReadFile(filepath.Join(dir, codesFile)); err != nil {
		return nil, inputError{err}
	}
	if ix.codes.Len() != ix.meta.Count || ix.codes.Bits != ix.meta.Bits {
		return nil, badInput("%s: codes (%d x %d bits) disagree with meta.json (%d x %d bits)",
			dir, ix.codes.Len(), ix.codes.Bits, ix.meta.Count, ix.meta.Bits)
	}
	if raw, err := os.ReadFile(filepath.Join(dir, pathsFile)); err == nil {
		ix.paths = strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
		if len(ix.paths) != ix.codes.Len() {
			return nil, badInput("%s: %d paths for %d codes", dir, len(ix.paths), ix.codes.Len())
		}
	}
	ix.index = index.NewHamming(ix.codes)
	return &ix, nil
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lookalike/lookalike/album"
	"github.com/lookalike/lookalike/backbone"
	"github.com/lookalike/lookalike/codes"
	"github.com/lookalike/lookalike/descriptor"
	"github.com/lookalike/lookalike/imageio"
	"github.com/lookalike/lookalike/learned"
)

// A photo index directory holds meta.json (kind "photos") and album.lka,
// the descriptors of a folder of photos made with a pretrained backbone.
const (
	albumFile  = "album.lka"
	photosKind = "photos"
)

// photoOptions are the flags of 'index --index DIR PHOTODIR'.
type photoOptions struct {
	Pooling    string
	Sizes      intList
	Whiten     int
	Hash       string
	PhotoBits  int
	Head       string
	HeadImages string
	backboneOptions
}

// backboneOptions choose the pretrained network.
type backboneOptions struct {
	Backbone string
	Input    string
	Output   string
	Size     int
	NCHW     bool
	Mean     string
	Std      string
	Threads  int
}

func (o *photoOptions) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Pooling, "pooling", string(descriptor.GeM), "photo folders: pooling of the feature map: mac, spoc, gem or rmac, or a learned head: gordo (Gordo et al.'s R-MAC with a learned projection) or solar (SOLAR's second-order attention, GeM and learned whitening)")
	fs.StringVar(&o.Head, "head", "", "photo folders, learned pooling: a trained head file (.lkh) to use, copied into the index (default: the index's own head, or one trained now on --head-images)")
	fs.StringVar(&o.HeadImages, "head-images", learned.DefaultImages, "photo folders, learned pooling without --head: the images a new head trains on (1,000 of them, each with 3 edited copies; Debian's openclipart-png by default)")
	fs.Var(&o.Sizes, "scales", "photo folders: input sizes averaged for multi-scale descriptors, e.g. 224,320 (default: the backbone's size)")
	fs.IntVar(&o.Whiten, "whiten", 0, "photo folders: learn PCA whitening to this many dimensions on the folder's descriptors (0: none)")
	fs.StringVar(&o.Hash, "hash", "", "photo folders: also learn binary codes of the descriptors with this unsupervised shallow method (lsh, pcah, itq, sh) and rank by Hamming distance")
	fs.IntVar(&o.PhotoBits, "code-bits", 64, "photo folders: code length for --hash")
	o.backboneOptions.AddFlags(fs)
}

func (o *backboneOptions) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Backbone, "backbone", "", "photo folders: the pretrained network: a TF.js graph model (model.json or model.min.js) or an ONNX file (default: "+backbone.DefaultName+" from scripts/setup.sh)")
	fs.StringVar(&o.Input, "input", "", "ONNX backbone: input tensor name")
	fs.StringVar(&o.Output, "output", "", "ONNX backbone: feature map output [batch, channels, h, w] (any layer exported as an output)")
	fs.IntVar(&o.Size, "size", 224, "ONNX backbone: input side in pixels")
	fs.BoolVar(&o.NCHW, "nchw", true, "ONNX backbone: input is [batch, 3, h, w] (false: [batch, h, w, 3])")
	fs.StringVar(&o.Mean, "mean", "0.485,0.456,0.406", "ONNX backbone: per-channel mean subtracted from RGB in [0, 1] (ImageNet's by default)")
	fs.StringVar(&o.Std, "std", "0.229,0.224,0.225", "ONNX backbone: per-channel standard deviation divided by")
	fs.IntVar(&o.Threads, "threads", 0, "inference threads (0: all cores)")
}

func parseTriple(s, what string) ([3]float32, error) {
	var v [3]float32
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return v, badInput("--%s wants three comma-separated numbers, got %q", what, s)
	}
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 32)
		if err != nil {
			return v, badInput("--%s: %v", what, err)
		}
		v[i] = float32(f)
	}
	return v, nil
}

// open loads the backbone the options name.
func (o *backboneOptions) open() (*backbone.Backbone, error) {
	var b *backbone.Backbone
	var err error
	if strings.HasSuffix(o.Backbone, ".onnx") {
		if o.Input == "" || o.Output == "" {
			return nil, badInput("an ONNX backbone needs --input and --output tensor names")
		}
		cfg := backbone.Config{Name: filepath.Base(o.Backbone), Size: o.Size, NCHW: o.NCHW, Input: o.Input, Output: o.Output, Fit: imageio.Squash}
		if cfg.Mean, err = parseTriple(o.Mean, "mean"); err != nil {
			return nil, err
		}
		if cfg.Std, err = parseTriple(o.Std, "std"); err != nil {
			return nil, err
		}
		b, err = backbone.OpenONNX(o.Backbone, cfg, o.Threads)
	} else {
		b, err = backbone.Default(o.Backbone, o.Threads)
	}
	if err != nil {
		// A missing library or model, or a model file that does not load:
		// the user's set-up, named in the error (ort.ErrNoLibrary says how
		// to install the library).
		return nil, inputError{err}
	}
	return b, nil
}

// runIndexPhotos indexes the photo folder root into the directory dir,
// incrementally when dir already holds an index of it made the same way.
func runIndexPhotos(ctx context.Context, o photoOptions, dir, root string, errw io.Writer) error {
	pooling, method, err := parsePhotoPooling(o.Pooling)
	if err != nil {
		return err
	}
	if o.Head != "" && method == "" {
		return badInput("--head goes with a learned pooling (--pooling gordo or solar)")
	}
	st, err := os.Stat(root)
	if err != nil || !st.IsDir() {
		return badInput("%s is not a folder", root)
	}
	if root, err = filepath.Abs(root); err != nil {
		return err
	}
	for _, s := range o.Sizes {
		if s < 32 || s > 2048 {
			return badInput("--scales: size %d outside 32..2048", s)
		}
	}
	bb, err := o.open()
	if err != nil {
		return err
	}
	defer bb.Close()
	if o.Hash != "" {
		if err := codes.CheckBits(o.PhotoBits); err != nil {
			return badInput("--code-bits: %v", err)
		}
	}
	settings := album.Settings{Backbone: bb.Config.Name, Pooling: pooling, Sizes: o.Sizes, Whiten: o.Whiten, Hash: o.Hash}
	if o.Hash != "" {
		settings.Bits = o.PhotoBits
	}
	if len(settings.Sizes) == 0 {
		settings.Sizes = []int{bb.Config.Size}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var head *learned.Head
	if method != "" {
		if head, err = indexHead(ctx, o, method, dir, bb, errw); err != nil {
			return err
		}
		if settings.Head, err = head.ID(); err != nil {
			return err
		}
	}
	path := filepath.Join(dir, albumFile)
	a, err := album.Load(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		a = &album.Album{Root: root, Settings: settings}
	case err != nil:
		return inputError{fmt.Errorf("%v (remove %s to index the folder anew)", err, dir)}
	case a.Root != root || !sameSettings(a.Settings, settings):
		fmt.Fprintf(errw, "%s indexed %s with other settings: indexing anew\n", dir, a.Root)
		a = &album.Album{Root: root, Settings: settings}
	default:
		a.Settings.Whiten, a.Settings.Hash, a.Settings.Bits = settings.Whiten, settings.Hash, settings.Bits
	}
	x := &album.Extractor{Backbone: bb, Pooling: pooling, Sizes: settings.Sizes, Limits: imageio.DefaultLimits}
	if head != nil {
		x.Head = head
	}
	save := func(a *album.Album) error {
		if err := a.Save(path); err != nil {
			return err
		}
		meta := indexMeta{Format: indexFormat, Version: indexVersion, Kind: photosKind,
			Method: bb.Config.Name + "/" + string(pooling), Count: len(a.Entries), Source: "folder:" + root}
		return codes.AtomicWrite(filepath.Join(dir, metaFile), func(w io.Writer) error { return writeJSON(w, meta) })
	}
	start := time.Now()
	rep, err := album.Update(ctx, a, x, save, 30*time.Second, errw)
	if rep != nil {
		for _, f := range rep.Failed {
			fmt.Fprintf(errw, "skipped %v\n", f)
		}
	}
	if err != nil {
		return err
	}
	if o.Hash != "" && a.Hasher == nil {
		fmt.Fprintf(errw, "too few images (%d) to learn %d-bit codes: searching by cosine\n", len(a.Entries), o.PhotoBits)
	}
	fmt.Fprintf(errw, "%s: %d images indexed in %s (%d new or changed files read, %d removed, %d unchanged, %d skipped), %d-d %s descriptors, %.1f s\n",
		root, len(a.Entries), dir, rep.Added+rep.Changed, rep.Removed, rep.Kept, len(rep.Failed), descriptorDim(a), pooling, time.Since(start).Seconds())
	return nil
}

func descriptorDim(a *album.Album) int {
	if a.Whitening != nil {
		return a.Whitening.Out
	}
	return a.Dim
}

func sameSettings(a, b album.Settings) bool {
	if a.Backbone != b.Backbone || a.Pooling != b.Pooling || a.Head != b.Head || len(a.Sizes) != len(b.Sizes) {
		return false
	}
	for i := range a.Sizes {
		if a.Sizes[i] != b.Sizes[i] {
			return false
		}
	}
	return true
}

// photoResult is one hit of a photo search as printed.
type photoResult struct {
	Rank     int     `json:"rank"`
	Path     string  `json:"path"`
	Score    float32 `json:"score"`
	Distance *int    `json:"distance,omitempty"` // Hamming, in a hashed index
}

// searchPhotos answers 'search --index DIR IMAGE' on a photo index.
func searchPhotos(o searchOptions, args []string, stdout io.Writer) error {
	if o.ID >= 0 || o.Radius >= 0 {
		return badInput("a photo index is searched by image file, with --k")
	}
	if len(args) != 1 {
		return badInput("give one IMAGE argument")
	}
	a, err := album.Load(filepath.Join(o.Index, albumFile))
	if err != nil {
		return inputError{err}
	}
	bo := o.backboneOptions
	if bo.Backbone == "" && a.Settings.Backbone != backbone.DefaultName {
		return badInput("the index was made with backbone %s: give it with --backbone (and its --input, --output...)", a.Settings.Backbone)
	}
	bb, err := bo.open()
	if err != nil {
		return err
	}
	defer bb.Close()
	img, err := imageio.Decode(args[0], imageio.DefaultLimits)
	if err != nil {
		return badInput("read image %s: %v", args[0], err)
	}
	x := &album.Extractor{Backbone: bb, Pooling: a.Settings.Pooling, Sizes: a.Settings.Sizes}
	if x.Head, err = photoHead(o.Index, a); err != nil {
		return err
	}
	q, err := x.Image(img)
	if err != nil {
		return err
	}
	if len(q) != a.Dim && len(a.Entries) > 0 {
		return badInput("the backbone gives %d-d descriptors, the index holds %d-d ones", len(q), a.Dim)
	}
	hits, err := a.Search(q, o.K)
	if err != nil {
		return err
	}
	results := make([]photoResult, len(hits))
	for i, h := range hits {
		results[i] = photoResult{Rank: i + 1, Path: filepath.Join(a.Root, filepath.FromSlash(h.Entry.Path)), Score: h.Score}
		if a.Hasher != nil {
			d := h.Distance
			results[i].Distance = &d
		}
	}
	if o.JSON {
		return json.NewEncoder(stdout).Encode(map[string]any{
			"backbone": a.Settings.Backbone, "pooling": a.Settings.Pooling, "results": results})
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RANK\tSCORE\tDISTANCE\tPATH")
	for _, r := range results {
		d := "-"
		if r.Distance != nil {
			d = strconv.Itoa(*r.Distance)
		}
		fmt.Fprintf(tw, "%d\t%.4f\t%s\t%s\n", r.Rank, r.Score, d, r.Path)
	}
	return tw.Flush()
}

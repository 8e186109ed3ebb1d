package main

import (
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lookalike/lookalike/album"
	"github.com/lookalike/lookalike/backbone"
	"github.com/lookalike/lookalike/codes"
	"github.com/lookalike/lookalike/descriptor"
	"github.com/lookalike/lookalike/eval"
	"github.com/lookalike/lookalike/hashing"
	"github.com/lookalike/lookalike/imageio"
	"github.com/lookalike/lookalike/learned"
	"github.com/lookalike/lookalike/neardup"
)

// DefaultPhotos is the folder of real photos that Debian's python3-skimage
// installs (scripts/setup.sh installs it).
const DefaultPhotos = "/usr/lib/python3/dist-packages/skimage/data"

// photoRow is one line of the near-duplicate table.
type photoRow struct {
	Name   string
	Report *eval.Report
}

// runBenchPhotos builds the near-duplicate benchmark from the photos of
// o.Photos, evaluates every descriptor on it, times indexing against the
// PyTorch pipeline and writes the report page.
func runBenchPhotos(ctx context.Context, o benchOptions, stdout, errw io.Writer) error {
	originals, names, err := loadOriginals(o.Photos)
	if err != nil {
		return err
	}
	copies, err := neardup.Build(originals, uint64(o.Seed))
	if err != nil {
		return err
	}
	fmt.Fprintf(errw, "near-duplicates: %d originals from %s, %d edited copies (seed %d)\n", len(originals), o.Photos, len(copies), o.Seed)
	qLabels := make([]int32, len(originals))
	for i := range qLabels {
		qLabels[i] = int32(i)
	}
	dbLabels := make([]int32, len(copies))
	dbImages := make([]image.Image, len(copies))
	for i, c := range copies {
		dbLabels[i] = int32(c.Original)
		dbImages[i] = c.Image
	}

	var rows []photoRow
	add := func(name string, q, db []float32, dim int) error {
		r, err := eval.Euclidean(q, qLabels, db, dbLabels, dim)
		if err != nil {
			return err
		}
		rows = append(rows, photoRow{name, r})
		fmt.Fprintf(errw, "  %-28s mAP %.4f  top-1 %.4f\n", name, r.MAPAll, r.PAt1)
		return nil
	}
	// Raw pixels: 16x16 RGB thumbnails, centred and L2-normalized.
	pixels := func(imgs []image.Image) []float32 {
		var out []float32
		for _, img := range imgs {
			out = append(out, centred(imageio.Square(img, 16, imageio.Squash))...)
		}
		return out
	}
	if err := add("raw pixels (16x16 RGB)", pixels(originals), pixels(dbImages), 16*16*3); err != nil {
		return err
	}

	bb, err := backbone.Default("", 0)
	if err != nil {
		return inputError{err}
	}
	defer bb.Close()
	describe := func(p descriptor.Pooling, sizes []int, imgs []image.Image) ([]float32, int, error) {
		x := &album.Extractor{Backbone: bb, Pooling: p, Sizes: sizes}
		var out []float32
		dim := 0
		for _, img := range imgs {
			if err := ctx.Err(); err != nil {
				return nil, 0, err
			}
			v, err := x.Image(img)
			if err != nil {
				return nil, 0, err
			}
			dim = len(v)
			out = append(out, v...)
		}
		return out, dim, nil
	}
	type variant struct {
		name    string
		pooling descriptor.Pooling
		sizes   []int
		whiten  int
	}
	variants := []variant{
		{"MobileNetV2 features (SPoC)", descriptor.SPoC, nil, 0},
		{"MAC", descriptor.MAC, nil, 0},
		{"GeM (p=3)", descriptor.GeM, nil, 0},
		{"R-MAC", descriptor.RMAC, nil, 0},
		{"GeM, scales 224+320", descriptor.GeM, []int{224, 320}, 0},
		{"GeM, PCA-whitened to 128", descriptor.GeM, nil, 128},
		{"R-MAC, PCA-whitened to 128", descriptor.RMAC, nil, 128},
	}
	var rmacQ, rmacDB []float32
	var rmacDim int
	for _, v := range variants {
		q, dim, err := describe(v.pooling, v.sizes, originals)
		if err != nil {
			return err
		}
		db, _, err := describe(v.pooling, v.sizes, dbImages)
		if err != nil {
			return err
		}
		if v.pooling == descriptor.RMAC && v.whiten == 0 {
			rmacQ, rmacDB, rmacDim = q, db, dim
		}
		if v.whiten > 0 {
			// Learned on the database descriptors, as an index learns it on
			// the folder it indexes.
			w, err := descriptor.FitWhitening(db, dim, min(v.whiten, len(copies)-1))
			if err != nil {
				return err
			}
			q, db = whitenAll(w, q, dim), whitenAll(w, db, dim)
			dim = w.Out
		}
		if err := add(v.name, q, db, dim); err != nil {
			return err
		}
	}

	// Learned heads, trained on images disjoint from the benchmark's.
	learnedNote, headSet, err := learnedRows(ctx, bb, originals, dbImages, o.Seed, add, errw)
	if err != nil {
		return err
	}

	// Compact codes: the shallow hashing methods learn on the database's
	// R-MAC descriptors (unsupervised), and codes rank by Hamming distance.
	for _, name := range []string{"lsh", "pcah", "itq"} {
		m, _ := hashing.Lookup(name)
		sm, ok := m.(hashing.Shallow)
		if !ok {
			continue
		}
		for _, bits := range []int{64, 128} {
			if bits >= len(copies) && name != "lsh" {
				continue // PCA-based methods need more descriptors than bits
			}
			enc, err := sm.Fit(rmacDB, rmacDim, nil, bits, o.Seed)
			if err != nil {
				return err
			}
			code := func(x []float32) (*codes.Set, error) {
				out, err := enc.Encode(x, len(x)/rmacDim)
				if err != nil {
					return nil, err
				}
				return codes.FromSigns(bits, out)
			}
			qc, err := code(rmacQ)
			if err != nil {
				return err
			}
			dc, err := code(rmacDB)
			if err != nil {
				return err
			}
			r, err := eval.Hamming(qc, qLabels, dc, dbLabels)
			if err != nil {
				return err
			}
			row := fmt.Sprintf("R-MAC -> %s %d-bit codes", strings.ToUpper(name), bits)
			rows = append(rows, photoRow{row, r})
			fmt.Fprintf(errw, "  %-28s mAP %.4f  top-1 %.4f\n", row, r.MAPAll, r.PAt1)
		}
	}

	// Codes of every asked method learned on descriptors, with labels:
	// the head training set's R-MAC descriptors, an image's copies its
	// class.
	var vectorNote string
	if headSet != nil {
		if vectorNote, err = vectorCodeRows(ctx, o, headSet, rmacQ, rmacDB, rmacDim, qLabels, dbLabels, &rows, errw); err != nil {
			return err
		}
	}

	// Throughput of indexing (decode, resize, inference) on the copies
	// written as JPEG files, next to the PyTorch pipeline on the same files.
	dir, err := os.MkdirTemp("", "lookalike-neardup")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for i, c := range copies {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%04d.jpg", i)))
		if err != nil {
			return err
		}
		err = jpeg.Encode(f, c.Image, &jpeg.Options{Quality: 92})
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	a := &album.Album{Root: dir, Settings: album.Settings{Backbone: bb.Config.Name, Pooling: descriptor.GeM}}
	start := time.Now()
	if _, err := album.Update(ctx, a, &album.Extractor{Backbone: bb, Pooling: descriptor.GeM, Limits: imageio.DefaultLimits}, nil, time.Hour, nil); err != nil {
		return err
	}
	ours := float64(len(copies)) / time.Since(start).Seconds()
	torchVersion, torchRate, torchErr := torchPipelineRate(ctx, o, dir)

	var b strings.Builder
	fmt.Fprintf(&b, "<!-- generated by: lookalike bench photos --photos %s --seed %d --report %s; do not edit -->\n\n", o.Photos, o.Seed, o.Report)
	fmt.Fprintf(&b, "# Near-duplicate retrieval\n\n")
	fmt.Fprintf(&b, "Protocol: each of the %d originals (the images of `%s` whose sides are at least 64 pixels, less those whose centred 16x16 gray thumbnail has cosine above 0.9 with an earlier one's: %s) gets one edited copy per edit (%s), drawn with seed %d by package `neardup`. Each original queries the %d copies; its own %d are relevant, the copies of the other originals are the distractors. Descriptors are L2-normalized and ranked by Euclidean distance (cosine); codes, learned by the shallow hashing methods on the database's R-MAC descriptors without labels, by Hamming distance (ties by position). Backbone: %s (nsfwjs's ImageNet MobileNetV2, width 1.4), 224x224 input unless said. Whitening is learned on the database descriptors.\n\n",
		len(originals), o.Photos, strings.Join(names, ", "), editNames(), o.Seed, len(copies), len(neardup.Edits), backbone.DefaultName)
	fmt.Fprintf(&b, "| descriptor | mAP | top-1 |\n|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %.4f | %.4f |\n", r.Name, r.Report.MAPAll, r.Report.PAt1)
	}
	fmt.Fprintf(&b, "\n%s\n", learnedNote)
	if vectorNote != "" {
		fmt.Fprintf(&b, "\n%s\n", vectorNote)
	}
	fmt.Fprintf(&b, "\n## Indexing throughput\n\n`lookalike index` on the %d copies written as JPEG files (decode, resize to 224x224, MobileNetV2 to its last feature map, GeM), %d cores:\n\n", len(copies), runtime.NumCPU())
	fmt.Fprintf(&b, "| pipeline | images/s |\n|---|---|\n| lookalike (ONNX Runtime) | %.1f |\n", ours)
	if torchErr != nil {
		fmt.Fprintf(&b, "| PyTorch: not measured | %s |\n", torchErr)
	} else {
		fmt.Fprintf(&b, "| PyTorch %s (torchvision MobileNetV2 width 1.4, PIL, %d threads) | %.1f |\n", torchVersion, o.TorchThreads, torchRate)
		fmt.Fprintf(&b, "\nRatio lookalike / PyTorch: %.2fx.\n", ours/torchRate)
	}
	if o.Report != "" {
		if err := os.MkdirAll(filepath.Dir(o.Report), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(o.Report, []byte(b.String()), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(errw, "wrote %s\n", o.Report)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "near-duplicates, %d originals x %d edits, seed %d\nDESCRIPTOR\tmAP\tTOP-1\n", len(originals), len(neardup.Edits), o.Seed)
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%.4f\t%.4f\n", r.Name, r.Report.MAPAll, r.Report.PAt1)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "index throughput: lookalike %.1f images/s", ours)
	if torchErr == nil {
		fmt.Fprintf(stdout, ", pytorch pipeline %.1f images/s, ratio %.2fx\n", torchRate, ours/torchRate)
	} else {
		fmt.Fprintf(stdout, "; pytorch pipeline not measured: %v\n", torchErr)
	}
	return nil
}

// benchHeadTraining is how bench photos trains its learned heads (tests
// make it small).
var benchHeadTraining = defaultHeadTraining

// learnedRows trains Gordo et al.'s and SOLAR's heads (package learned) on
// images disjoint from the benchmark's originals, with edits drawn with
// seed+1, and adds their rows; it returns the page's paragraph on how
// they were trained, or on why they were not, and their training set (nil
// when its images are missing).
func learnedRows(ctx context.Context, bb *backbone.Backbone, originals, dbImages []image.Image, seed int64,
	add func(name string, q, db []float32, dim int) error, errw io.Writer) (string, *learned.Set, error) {
	tr := benchHeadTraining
	tr.Seed = uint64(seed) + 1
	if !learned.Exists(tr.Images) {
		fmt.Fprintf(errw, "  learned heads: not measured, %s is missing (scripts/setup.sh --peers installs openclipart-png)\n", tr.Images)
		return fmt.Sprintf("Learned heads (Gordo et al., SOLAR): not measured, their training images `%s` are missing (`scripts/setup.sh --peers` installs Debian's openclipart-png).", tr.Images), nil, nil
	}
	start := time.Now()
	set, err := buildHeadSet(ctx, bb, tr, originals, errw)
	if err != nil {
		return "", nil, err
	}
	extraction := time.Since(start).Seconds()
	heads := []struct {
		m          learned.Method
		name, what string
	}{
		{learned.Gordo, "Gordo: R-MAC, learned projection (triplet)",
			"Gordo et al. 2016: the R-MAC regions' PCA-initialized shift and projection to %d dimensions, triplet ranking loss (margin %g)"},
		{learned.SOLAR, "SOLAR: SOA, GeM, learned whitening (triplet + SOS)",
			"SOLAR (Ng et al. 2020): second-order attention block (%d channels), GeM, PCA-initialized whitening to %d dimensions, triplet loss (margin %g) plus %g times the second-order similarity loss"},
	}
	var items []string
	for _, hd := range heads {
		h, err := trainHead(ctx, set, hd.m, tr, errw)
		if err != nil {
			return "", nil, err
		}
		x := &album.Extractor{Backbone: bb, Pooling: descriptor.Pooling(hd.m), Head: h}
		describe := func(imgs []image.Image) ([]float32, error) {
			var out []float32
			for _, img := range imgs {
				v, err := x.Image(img)
				if err != nil {
					return nil, err
				}
				out = append(out, v...)
			}
			return out, nil
		}
		q, err := describe(originals)
		if err != nil {
			return "", nil, err
		}
		db, err := describe(dbImages)
		if err != nil {
			return "", nil, err
		}
		if err := add(hd.name, q, db, h.Dim); err != nil {
			return "", nil, err
		}
		c := h.Training.Config
		what := fmt.Sprintf(hd.what, h.Dim, c.Margin)
		if hd.m == learned.SOLAR {
			what = fmt.Sprintf(hd.what, c.Mid, h.Dim, c.Margin, c.Lambda)
		}
		items = append(items, fmt.Sprintf("- %s; %d epochs of %d queries, %d tuples of %d hard negatives per step, Adam %g; loss on the first epoch's tuples %.4f before training, %.4f after; %.0f s.",
			what, c.Epochs, c.Queries, c.Batch, c.Negatives, c.LearningRate, h.Training.Before, h.Training.After, h.Training.Seconds))
	}
	return fmt.Sprintf("The learned rows (package `learned`, whose documentation lists where they depart from the papers) train on the frozen backbone's 224x224 feature maps of %d images: %s, picked round-robin over its folders, none within thumbnail cosine 0.9 of a benchmark original. An image's copies are its positives, the other images its negatives; each epoch mines hard negatives with the current model. Editing and describing them took %.0f s.\n\n%s",
		len(set.Maps), set.Source, extraction, strings.Join(items, "\n")), set, nil
}

// centred subtracts the mean of v from each value and L2-normalizes v, in
// place: the thumbnails of the raw-pixel row and of the duplicate rule.
func centred(v []float32) []float32 {
	var mean float32
	for _, x := range v {
		mean += x / float32(len(v))
	}
	for i := range v {
		v[i] -= mean
	}
	descriptor.Normalize(v)
	return v
}

func whitenAll(w *descriptor.Whitening, x []float32, dim int) []float32 {
	var out []float32
	for i := 0; i+dim <= len(x); i += dim {
		out = append(out, w.Apply(x[i:i+dim])...)
	}
	return out
}

func editNames() string {
	var s []string
	for _, e := range neardup.Edits {
		s = append(s, e.Name)
	}
	return strings.Join(s, ", ")
}

// loadOriginals reads the images of dir (not recursively) whose sides are
// at least 64 pixels, in name order, leaving out near-duplicates of
// earlier ones.
func loadOriginals(dir string) ([]image.Image, []string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, badInput("--photos: %v (scripts/setup.sh installs python3-skimage, whose photos are the default)", err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	var imgs []image.Image
	var names []string
	for _, e := range entries {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if e.IsDir() || (ext != ".png" && ext != ".jpg" && ext != ".jpeg") {
			continue
		}
		img, err := imageio.Decode(filepath.Join(dir, e.Name()), imageio.DefaultLimits)
		if err != nil || img.Bounds().Dx() < 64 || img.Bounds().Dy() < 64 {
			continue
		}
		imgs = append(imgs, img)
		names = append(names, e.Name())
	}
	// Originals that are near-duplicates of an earlier one (a stereo pair,
	// the same chessboard in gray and colour) would make their copies
	// relevant to each other while the protocol counts them as
	// distractors: keep the first of each such group. Near-duplicate here
	// is judged on pixels alone, independently of the descriptors under
	// test: centred 16x16 gray thumbnails with cosine above 0.9.
	var keptImgs []image.Image
	var thumbs [][]float32
	var kept []string
	for i, img := range imgs {
		t := imageio.Square(img, 16, imageio.Squash)
		g := make([]float32, 256)
		for p := range g {
			g[p] = (t[3*p] + t[3*p+1] + t[3*p+2]) / 3
		}
		g = centred(g)
		dup := false
		for _, u := range thumbs {
			var c float32
			for p := range g {
				c += g[p] * u[p]
			}
			if c > 0.9 {
				dup = true
				break
			}
		}
		if dup {
			continue
		}
		thumbs = append(thumbs, g)
		keptImgs = append(keptImgs, img)
		kept = append(kept, names[i])
	}
	if len(keptImgs) < 2 {
		return nil, nil, badInput("--photos %s: fewer than 2 usable images", dir)
	}
	return keptImgs, kept, nil
}

var torchPipelineLine = regexp.MustCompile(`torch (\S+) images=\d+ seconds=\S+ images/s=([0-9.]+)`)

// torchPipelineRate runs scripts/torch_mobilenet_pipeline.py on dir.
func torchPipelineRate(ctx context.Context, o benchOptions, dir string) (string, float64, error) {
	script := "scripts/torch_mobilenet_pipeline.py"
	if _, err := os.Stat(script); err != nil {
		return "", 0, fmt.Errorf("%s not found (run from the checkout)", script)
	}
	cmd := exec.CommandContext(ctx, o.Python, script, dir, "--threads", strconv.Itoa(o.TorchThreads))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", 0, fmt.Errorf("%v: %s (scripts/setup.sh --peers installs python3-torch and python3-torchvision)", err, lastLine(out))
	}
	m := torchPipelineLine.FindStringSubmatch(string(out))
	if m == nil {
		return "", 0, fmt.Errorf("unexpected output: %s", lastLine(out))
	}
	rate, _ := strconv.ParseFloat(m[2], 64)
	return m[1], rate, nil
}

// vectorCodeRows trains the asked hashing methods (o.Methods, default
// every registered one) at 64 bits on the R-MAC descriptors of the learned
// heads' training set, an image's edited copies sharing its label, and
// adds a row for the codes each gives the benchmark. It returns the
// page's paragraph on them.
func vectorCodeRows(ctx context.Context, o benchOptions, set *learned.Set, q, db []float32, dim int, qLabels, dbLabels []int32, rows *[]photoRow, errw io.Writer) (string, error) {
	const bits = 64
	x := make([]float32, 0, len(set.Maps)*dim)
	labels := make([]int32, len(set.Maps))
	for i, m := range set.Maps {
		v := descriptor.Pool(descriptor.RMAC, m)
		descriptor.Normalize(v)
		if len(v) != dim {
			return "", fmt.Errorf("bench photos: training descriptor of %d values, benchmark ones of %d", len(v), dim)
		}
		x = append(x, v...)
		labels[i] = int32(set.Groups[i])
	}
	var methods []string
	for _, m := range hashing.All() {
		methods = append(methods, m.Info().Name)
	}
	if o.Methods != "" {
		methods = strings.Split(o.Methods, ",")
	}
	var skipped, kept []string
	for _, name := range methods {
		start := time.Now()
		code, err := fitVectors(ctx, name, bits, x, dim, labels, o.Seed, 0)
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		if err != nil {
			// One method's failure is its row's result, not the page's.
			fmt.Fprintf(errw, "  %s on descriptors: %v\n", name, err)
			skipped = append(skipped, fmt.Sprintf("%s (%v)", name, err))
			continue
		}
		r, err := code.Evaluate(q, qLabels, db, dbLabels)
		if err != nil {
			return "", err
		}
		row := fmt.Sprintf("R-MAC -> %s %d-bit codes, trained on the heads' images", strings.ToUpper(name), bits)
		*rows = append(*rows, photoRow{row, r})
		fmt.Fprintf(errw, "  %-28s mAP %.4f  top-1 %.4f  (%.0f s)\n", row, r.MAPAll, r.PAt1, time.Since(start).Seconds())
		if code.HeldOut > 0 {
			k := fmt.Sprintf("%s %d of %d (held-out mAP %.4f)", name, code.Epoch, code.Epochs, code.HeldOut)
			if code.Stopped != "" {
				k += ", training stopped: " + code.Stopped
			}
			kept = append(kept, k)
		}
	}
	note := fmt.Sprintf("The rows \"trained on the heads' images\" learn %d-bit codes on the R-MAC descriptors of the learned heads' %d training images, an image and its edited copies sharing a label (%d labels) for the supervised methods: shallow methods fit on the descriptors as on pixels, deep methods train the reference network's fully connected part (%d -> %d -> %d; two fused hidden layers for fusionnet, chunks read as a sequence for the recurrent methods) with train's defaults (seed %d) on nine labels in ten and keep the epoch whose codes rank the held-out tenth best (a label's first image querying the rest).",
		bits, len(set.Maps), len(set.Queries), dim, vectorHidden, bits, o.Seed)
	if len(kept) > 0 {
		note += " Epochs kept: " + strings.Join(kept, "; ") + "."
	}
	if len(skipped) > 0 {
		note += " Not measured: " + strings.Join(skipped, "; ") + "."
	}
	return note, nil
}

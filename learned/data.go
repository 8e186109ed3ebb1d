package learned

import (
	"context"
	"fmt"
	"image"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/lookalike/lookalike/backbone"
	"github.com/lookalike/lookalike/descriptor"
	"github.com/lookalike/lookalike/imageio"
	"github.com/lookalike/lookalike/neardup"
)

// DefaultImages is where Debian's openclipart-png installs its 8,121
// public-domain images, in 22 top-level categories: the default training
// images (scripts/setup.sh --peers installs the package).
const DefaultImages = "/usr/share/openclipart/png"

// minSide is the smallest side of a training image.
const minSide = 64

// Pick returns up to n image files under dir for training: the files of
// each top-level folder (the categories) in an order drawn from seed,
// taken in turn from every folder so that small categories are
// represented, skipping images under 64 pixels a side, unreadable ones,
// and near-duplicates of an earlier pick or of an image of exclude
// (centred 16x16 gray thumbnails with cosine above 0.9: the rule by which
// the near-duplicate benchmark keeps its originals apart). Passing the
// benchmark's photos as exclude keeps the training images disjoint from
// them.
func Pick(dir string, n int, seed uint64, exclude []image.Image) ([]string, error) {
	byFolder := map[string][]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		ext := strings.ToLower(filepath.Ext(path))
		if d.IsDir() || (ext != ".png" && ext != ".jpg" && ext != ".jpeg") {
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		top := strings.SplitN(filepath.ToSlash(rel), "/", 2)[0]
		if !strings.Contains(filepath.ToSlash(rel), "/") {
			top = "."
		}
		byFolder[top] = append(byFolder[top], path)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("learned: training images: %w", err)
	}
	folders := make([]string, 0, len(byFolder))
	for f := range byFolder {
		folders = append(folders, f)
	}
	sort.Strings(folders)
	for i, f := range folders {
		files := byFolder[f]
		sort.Strings(files)
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		rng.Shuffle(len(files), func(a, b int) { files[a], files[b] = files[b], files[a] })
	}
	var thumbs [][]float32
	for _, img := range exclude {
		thumbs = append(thumbs, thumbnail(img))
	}
	var picked []string
	for round := 0; len(picked) < n; round++ {
		took := false
		for _, f := range folders {
			files := byFolder[f]
			if round >= len(files) || len(picked) == n {
				continue
			}
			took = true
			img, err := imageio.Decode(files[round], imageio.DefaultLimits)
			if err != nil || img.Bounds().Dx() < minSide || img.Bounds().Dy() < minSide {
				continue
			}
			t := thumbnail(img)
			if nearAny(t, thumbs) {
				continue
			}
			thumbs = append(thumbs, t)
			picked = append(picked, files[round])
		}
		if !took {
			break
		}
	}
	if len(picked) == 0 {
		return nil, fmt.Errorf("learned: no usable training images under %s", dir)
	}
	return picked, nil
}

// thumbnail is img as a centred, L2-normalized 16x16 gray image.
func thumbnail(img image.Image) []float32 {
	rgb := imageio.Square(img, 16, imageio.Squash)
	g := make([]float32, 256)
	var mean float32
	for p := range g {
		g[p] = (rgb[3*p] + rgb[3*p+1] + rgb[3*p+2]) / 3
		mean += g[p] / 256
	}
	for p := range g {
		g[p] -= mean
	}
	descriptor.Normalize(g)
	return g
}

func nearAny(t []float32, thumbs [][]float32) bool {
	for _, u := range thumbs {
		var c float32
		for p := range t {
			c += t[p] * u[p]
		}
		if c > 0.9 {
			return true
		}
	}
	return false
}

// BuildSet makes a training set of the files at paths: each image
// (flattened on white, reduced to 512 pixels on its longer side when
// larger) and edits edited copies of it (distinct kinds among package
// neardup's edits, drawn with seed, which should differ from the
// benchmark's), described by bb at its input size. Each image is a query, its copies
// its positives. progress, when not nil, receives a line every tenth of
// the way.
func BuildSet(ctx context.Context, bb *backbone.Backbone, paths []string, edits int, seed uint64, progress io.Writer) (*Set, error) {
	if edits < 1 || edits > len(neardup.Edits) {
		return nil, fmt.Errorf("learned: %d edits per image, want 1..%d", edits, len(neardup.Edits))
	}
	size := bb.Config.Size
	set := &Set{Backbone: bb.Config.Name}
	// Chunks of originals are decoded and edited in parallel, then run
	// through the network together.
	const chunk = 16
	for lo := 0; lo < len(paths); lo += chunk {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hi := min(lo+chunk, len(paths))
		inputs := make([][][]float32, hi-lo)
		errs := make([]error, hi-lo)
		var wg sync.WaitGroup
		sem := make(chan struct{}, runtime.NumCPU())
		for i := lo; i < hi; i++ {
			wg.Add(1)
			sem <- struct{}{}
			go func(i int) {
				defer wg.Done()
				defer func() { <-sem }()
				inputs[i-lo], errs[i-lo] = versions(paths[i], i, edits, seed, size, bb.Config.Fit)
			}(i)
		}
		wg.Wait()
		var batch [][]float32
		for i, in := range inputs {
			if errs[i] != nil {
				return nil, fmt.Errorf("learned: %s: %w", paths[lo+i], errs[i])
			}
			batch = append(batch, in...)
		}
		maps, err := bb.Maps(batch, size)
		if err != nil {
			return nil, err
		}
		k := 0
		for i, in := range inputs {
			for v := range in {
				if v == 0 {
					set.Queries = append(set.Queries, len(set.Maps))
				}
				set.Maps = append(set.Maps, maps[k])
				set.Groups = append(set.Groups, lo+i)
				k++
			}
		}
		if progress != nil && (hi*10/len(paths) > lo*10/len(paths)) {
			fmt.Fprintf(progress, "training images: %d/%d described (with %d edited copies each)\n", hi, len(paths), edits)
		}
	}
	return set, nil
}

// maxSide bounds the longer side of a training image before its edits:
// about the benchmark photos' size, which keeps the edits (a blur's cost
// grows with its radius, a fraction of the side) affordable on large clip
// art.
const maxSide = 512

// versions returns the network inputs of the image at path and of its
// edited copies.
func versions(path string, i, edits int, seed uint64, size int, fit imageio.Fit) ([][]float32, error) {
	img, err := imageio.Decode(path, imageio.DefaultLimits)
	if err != nil {
		return nil, err
	}
	// Transparent clip art is flattened on white, the background the
	// network sees it on (imageio.RGB), before the edits: re-encoding as
	// JPEG would otherwise turn its transparent parts black.
	pix, w, h := imageio.RGB(img)
	if s := max(w, h); s > maxSide {
		nw, nh := max(w*maxSide/s, 1), max(h*maxSide/s, 1)
		pix, w, h = imageio.Resize(pix, w, h, nw, nh), nw, nh
	}
	rgba := image.NewRGBA(image.Rect(0, 0, w, h))
	for p := 0; p < w*h; p++ {
		for k := 0; k < 3; k++ {
			rgba.Pix[4*p+k] = uint8(min(max(pix[3*p+k]*255+0.5, 0), 255))
		}
		rgba.Pix[4*p+3] = 255
	}
	out := [][]float32{imageio.Square(rgba, size, fit)}
	rng := rand.New(rand.NewPCG(seed, uint64(i)))
	for _, e := range rng.Perm(len(neardup.Edits))[:edits] {
		edit := neardup.Edits[e]
		c, err := edit.Apply(rgba, rand.New(rand.NewPCG(seed, uint64(i*len(neardup.Edits)+e)+1<<40)))
		if err != nil {
			return nil, fmt.Errorf("%s edit: %w", edit.Name, err)
		}
		out = append(out, imageio.Square(c, size, fit))
	}
	return out, nil
}

// Exists reports whether dir is a folder (the default training images are
// an optional package).
func Exists(dir string) bool {
	st, err := os.Stat(dir)
	return err == nil && st.IsDir()
}

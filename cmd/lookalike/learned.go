package main

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"

	"github.com/lookalike/lookalike/album"
	"github.com/lookalike/lookalike/backbone"
	"github.com/lookalike/lookalike/descriptor"
	"github.com/lookalike/lookalike/learned"
)

// A photo index made with a learned pooling keeps its head next to the
// album.
const headFile = "head.lkh"

// parsePhotoPooling returns the pooling --pooling names and, for a
// learned head (gordo, solar), its method.
func parsePhotoPooling(s string) (descriptor.Pooling, learned.Method, error) {
	if m, err := learned.ParseMethod(s); err == nil {
		return descriptor.Pooling(m), m, nil
	}
	p, err := descriptor.ParsePooling(s)
	if err != nil {
		return "", "", badInput("unknown pooling %q (want mac, spoc, gem, rmac, or a learned head: gordo, solar)", s)
	}
	return p, "", nil
}

// headTraining says how a learned head is trained when a command needs
// one: on Originals images of Images (picked by learned.Pick), each with
// Edits edited copies, at the method's defaults but for what the non-zero
// fields override.
type headTraining struct {
	Images    string
	Originals int
	Edits     int
	// Seed draws the images, the edits and the training; the near-
	// duplicate benchmark draws its edits with --seed, this with Seed+1.
	Seed uint64
	// Dim, Epochs and Queries override learned.NewConfig's.
	Dim, Epochs, Queries int
}

var defaultHeadTraining = headTraining{Images: learned.DefaultImages, Originals: 1000, Edits: 3, Seed: 1}

// buildHeadSet describes the training images of tr with bb, leaving out
// near-duplicates of exclude.
func buildHeadSet(ctx context.Context, bb *backbone.Backbone, tr headTraining, exclude []image.Image, errw io.Writer) (*learned.Set, error) {
	if !learned.Exists(tr.Images) {
		return nil, badInput("learned heads train on the images of %s, which is missing: install Debian's openclipart-png (scripts/setup.sh --peers), or give --head-images DIR or a trained --head FILE", tr.Images)
	}
	paths, err := learned.Pick(tr.Images, tr.Originals, tr.Seed, exclude)
	if err != nil {
		return nil, inputError{err}
	}
	set, err := learned.BuildSet(ctx, bb, paths, tr.Edits, tr.Seed, errw)
	if err != nil {
		return nil, err
	}
	set.Source = fmt.Sprintf("%d images of %s with %d edited copies each (edits drawn with seed %d)", len(paths), tr.Images, tr.Edits, tr.Seed)
	return set, nil
}

// trainHead trains a head of method m on set.
func trainHead(ctx context.Context, set *learned.Set, m learned.Method, tr headTraining, errw io.Writer) (*learned.Head, error) {
	c := learned.NewConfig(m)
	c.Seed = int64(tr.Seed)
	c.Progress = errw
	if tr.Dim > 0 {
		c.Dim = tr.Dim
	}
	if tr.Epochs > 0 {
		c.Epochs = tr.Epochs
	}
	if tr.Queries > 0 {
		c.Queries = tr.Queries
	}
	// The PCA start needs more vectors than dimensions (one per image for
	// SOLAR, one per region for Gordo): a small folder of training images
	// gets a smaller head.
	if c.Dim >= len(set.Maps) {
		c.Dim = max(len(set.Maps)-1, 1)
		fmt.Fprintf(errw, "%s: %d training images: descriptors of %d dimensions\n", m, len(set.Maps), c.Dim)
	}
	h, err := learned.Train(ctx, c, set)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(errw, "%s: trained in %.0f s, loss on the first epoch's tuples %.4f -> %.4f\n", m, h.Training.Seconds, h.Training.Before, h.Training.After)
	return h, nil
}

// indexHead returns the head an index made with learned pooling m uses:
// the one --head names (copied into the index directory), else the one
// the directory already holds, else one trained now on --head-images and
// saved there.
func indexHead(ctx context.Context, o photoOptions, m learned.Method, dir string, bb *backbone.Backbone, errw io.Writer) (*learned.Head, error) {
	path := filepath.Join(dir, headFile)
	if o.Head != "" {
		h, err := learned.Load(o.Head)
		if err != nil {
			return nil, inputError{err}
		}
		if err := checkHead(h, m, bb, o.Head); err != nil {
			return nil, err
		}
		return h, h.Save(path)
	}
	h, err := learned.Load(path)
	switch {
	case err == nil && h.Method == m && h.Backbone == bb.Config.Name:
		return h, nil
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return nil, inputError{fmt.Errorf("%v (remove it to train a new head)", err)}
	}
	tr := defaultHeadTraining
	tr.Images = o.HeadImages
	fmt.Fprintf(errw, "training a %s head on %s (once per index; --head FILE reuses a trained one)\n", m, tr.Images)
	set, err := buildHeadSet(ctx, bb, tr, nil, errw)
	if err != nil {
		return nil, err
	}
	if h, err = trainHead(ctx, set, m, tr, errw); err != nil {
		return nil, err
	}
	return h, h.Save(path)
}

// checkHead refuses a head of another method or backbone.
func checkHead(h *learned.Head, m learned.Method, bb *backbone.Backbone, name string) error {
	if h.Method != m {
		return badInput("%s holds a %s head, --pooling asks for %s", name, h.Method, m)
	}
	if h.Backbone != bb.Config.Name {
		return badInput("%s was trained on the maps of %s, the backbone is %s", name, h.Backbone, bb.Config.Name)
	}
	return nil
}

// photoHead loads the learned head of the photo index in dir, or returns
// nil when its pooling is not learned.
func photoHead(dir string, a *album.Album) (album.Head, error) {
	if _, err := learned.ParseMethod(string(a.Settings.Pooling)); err != nil {
		return nil, nil
	}
	h, err := learned.Load(filepath.Join(dir, headFile))
	if err != nil {
		return nil, inputError{fmt.Errorf("the index's %s head: %w", a.Settings.Pooling, err)}
	}
	if id, err := h.ID(); err != nil || id != a.Settings.Head {
		return nil, badInput("%s is not the head the index was made with (reindex with --pooling %s)", filepath.Join(dir, headFile), a.Settings.Pooling)
	}
	return h, nil
}

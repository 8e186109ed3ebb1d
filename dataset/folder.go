package dataset

import (
	"errors"
	"fmt"
	"image"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/lookalike/lookalike/imageio"
)

// FileError names one image that could not be read, and why.
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string { return fmt.Sprintf("%s: %v", e.Path, e.Err) }
func (e *FileError) Unwrap() error { return e.Err }

// Folder is a labelled image collection read from a directory with one
// sub-directory per class, sorted by name: class i is the i-th
// sub-directory.
type Folder struct {
	*Set
	// Classes holds the class names, by label.
	Classes []string
	// Paths holds the file of each image, by position.
	Paths []string
	// Skipped lists the files that could not be decoded; they are left out
	// of the set.
	Skipped []*FileError
}

// ReadFolder reads every image under dir/<class>/ (recursively), resized
// to height x width with the given number of channels (1: gray, 3: RGB).
// Files that are not decodable images are reported in Skipped, not fatal.
func ReadFolder(dir string, height, width, channels int) (*Folder, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, dir)
		}
		return nil, fmt.Errorf("dataset: %w", err)
	}
	f := &Folder{Set: &Set{Height: height, Width: width, Channels: channels}}
	for _, e := range entries {
		if e.IsDir() {
			f.Classes = append(f.Classes, e.Name())
		}
	}
	sort.Strings(f.Classes)
	if len(f.Classes) == 0 {
		return nil, fmt.Errorf("dataset: %s has no class sub-directories", dir)
	}
	for label, class := range f.Classes {
		err := filepath.WalkDir(filepath.Join(dir, class), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || strings.HasPrefix(d.Name(), ".") {
				return nil
			}
			pix, err := LoadImage(path, height, width, channels)
			if err != nil {
				f.Skipped = append(f.Skipped, &FileError{path, err})
				return nil
			}
			f.Pixels = append(f.Pixels, pix...)
			f.Labels = append(f.Labels, int32(label))
			f.Paths = append(f.Paths, path)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("dataset: read %s: %w", dir, err)
		}
	}
	if f.Len() == 0 {
		return nil, fmt.Errorf("dataset: %s holds no readable images (%d files skipped)", dir, len(f.Skipped))
	}
	return f, nil
}

// LoadImage decodes the image file at path (any format package imageio
// reads, within its default limits) and returns it resized to height x
// width with the given channels, values in [0, 1]. One channel is the
// ITU-R 601 luma, as image/color's Gray model.
func LoadImage(path string, height, width, channels int) ([]float32, error) {
	img, err := imageio.Decode(path, imageio.DefaultLimits)
	if err != nil {
		return nil, err
	}
	return Pixels(img, height, width, channels), nil
}

// Pixels returns a decoded image as LoadImage returns a file's.
func Pixels(img image.Image, height, width, channels int) []float32 {
	pix, w, h := imageio.RGB(img)
	pix = imageio.Resize(pix, w, h, width, height)
	if channels == 3 {
		return pix
	}
	gray := make([]float32, height*width)
	for i := range gray {
		gray[i] = 0.299*pix[3*i] + 0.587*pix[3*i+1] + 0.114*pix[3*i+2]
	}
	return gray
}

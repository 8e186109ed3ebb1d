package dataset

import (
	"errors"
	"fmt"
	"image"
	_ "image/gif" // registered decoders: folders hold whatever users drop in them
	_ "image/jpeg"
	_ "image/png"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// MaxPixels bounds the decoded size of one image; larger images are
// refused from their header, before any pixel is allocated.
const MaxPixels = 64 << 20

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

// LoadImage decodes the image file at path and returns it resized to
// height x width with the given channels, values in [0, 1].
func LoadImage(path string, height, width, channels int) ([]float32, error) {
	r, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	cfg, _, err := image.DecodeConfig(r)
	if err != nil {
		return nil, fmt.Errorf("not a decodable image: %w", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > MaxPixels {
		return nil, fmt.Errorf("image is %dx%d pixels, over the limit of %d", cfg.Width, cfg.Height, MaxPixels)
	}
	if _, err := r.Seek(0, 0); err != nil {
		return nil, err
	}
	img, _, err := image.Decode(r)
	if err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	return Resize(img, height, width, channels), nil
}

// Resize samples img to height x width by averaging the source pixels that
// fall in each target cell (box filter: antialiased when shrinking, nearest
// when enlarging) and returns channels values per pixel in [0, 1]. One
// channel is the ITU-R 601 luma, as image/color's Gray model.
func Resize(img image.Image, height, width, channels int) []float32 {
	b := img.Bounds()
	sw, sh := b.Dx(), b.Dy()
	out := make([]float32, height*width*channels)
	for y := 0; y < height; y++ {
		y0 := b.Min.Y + y*sh/height
		y1 := max(b.Min.Y+(y+1)*sh/height, y0+1)
		for x := 0; x < width; x++ {
			x0 := b.Min.X + x*sw/width
			x1 := max(b.Min.X+(x+1)*sw/width, x0+1)
			var sr, sg, sb, n float64
			for yy := y0; yy < y1; yy++ {
				for xx := x0; xx < x1; xx++ {
					r, g, bl, _ := img.At(xx, yy).RGBA()
					sr, sg, sb, n = sr+float64(r), sg+float64(g), sb+float64(bl), n+1
				}
			}
			sr, sg, sb = sr/n/0xffff, sg/n/0xffff, sb/n/0xffff
			o := out[(y*width+x)*channels:]
			if channels == 1 {
				o[0] = float32(0.299*sr + 0.587*sg + 0.114*sb)
			} else {
				o[0], o[1], o[2] = float32(sr), float32(sg), float32(sb)
			}
		}
	}
	return out
}

// Package imageio turns image files into the pixel arrays networks take:
// decoding (JPEG, PNG, GIF, WebP, BMP, TIFF), EXIF orientation,
// antialiased resizing and cropping, with limits that refuse oversized
// files and decompression bombs before decoding them.
package imageio

import (
	"bufio"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // registered decoders: folders hold whatever users drop in them
	_ "image/jpeg"
	_ "image/png"
	"io"
	"os"

	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"
)

// Limits bound what Decode accepts.
type Limits struct {
	// MaxBytes bounds the file size.
	MaxBytes int64
	// MaxPixels bounds width x height, read from the header before any
	// pixel is decoded: a small file that declares a huge image (a
	// decompression bomb) is refused without allocating it.
	MaxPixels int64
}

// DefaultLimits accept photos up to 100 megapixels in files up to 256 MiB.
var DefaultLimits = Limits{MaxBytes: 256 << 20, MaxPixels: 100_000_000}

// ErrTooLarge reports a file or image over the limits.
var ErrTooLarge = errors.New("over the size limit")

// Decode reads the image file at path, turned upright as its EXIF
// orientation says (JPEG and TIFF).
func Decode(path string, lim Limits) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	if lim.MaxBytes > 0 && st.Size() > lim.MaxBytes {
		return nil, fmt.Errorf("file is %d bytes: %w of %d bytes", st.Size(), ErrTooLarge, lim.MaxBytes)
	}
	return decode(f, lim)
}

// DecodeReader decodes an image held in r (an upload, say) under the same
// pixel limit as Decode; the caller bounds the bytes.
func DecodeReader(r io.ReadSeeker, lim Limits) (image.Image, error) {
	return decode(r, lim)
}

func decode(r io.ReadSeeker, lim Limits) (image.Image, error) {
	cfg, format, err := image.DecodeConfig(bufio.NewReader(r))
	if err != nil {
		return nil, fmt.Errorf("not a decodable image (JPEG, PNG, GIF, WebP, BMP or TIFF): %w", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("image declares %dx%d pixels", cfg.Width, cfg.Height)
	}
	if lim.MaxPixels > 0 && int64(cfg.Width)*int64(cfg.Height) > lim.MaxPixels {
		return nil, fmt.Errorf("image is %dx%d pixels: %w of %d pixels", cfg.Width, cfg.Height, ErrTooLarge, lim.MaxPixels)
	}
	orientation := 1
	if format == "jpeg" || format == "tiff" {
		if _, err := r.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		orientation = exifOrientation(bufio.NewReader(r), format)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	img, _, err := image.Decode(bufio.NewReader(r))
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", format, err)
	}
	return Orient(img, orientation), nil
}

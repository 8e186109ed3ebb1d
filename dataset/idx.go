package dataset

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// The idx format (LeCun's MNIST files): a big-endian magic whose third byte
// is the element type (0x08, unsigned byte) and fourth the number of
// dimensions, one big-endian uint32 per dimension, then the data.
const (
	idxTypeUint8 = 0x08
	// maxIdxElements bounds what a header may claim, so a corrupt header
	// cannot make us allocate gigabytes.
	maxIdxElements = 1 << 31
)

// FormatError reports an idx file that is not well formed.
type FormatError struct {
	Path, Reason string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("dataset: %s: not a valid idx file: %s", e.Path, e.Reason)
}

// readIdx reads a gzip-compressed (by the .gz suffix) or plain idx file of
// unsigned bytes and returns its dimensions and data.
func readIdx(path string) (dims []int, data []byte, err error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("%w: %s", ErrNotFound, path)
		}
		return nil, nil, fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	var r io.Reader = bufio.NewReader(f)
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, &FormatError{path, "gzip: " + err.Error()}
		}
		defer gz.Close()
		r = gz
	}
	var magic [4]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		return nil, nil, &FormatError{path, "short header"}
	}
	if magic[0] != 0 || magic[1] != 0 {
		return nil, nil, &FormatError{path, fmt.Sprintf("bad magic %x", magic)}
	}
	if magic[2] != idxTypeUint8 {
		return nil, nil, &FormatError{path, fmt.Sprintf("element type 0x%02x, want unsigned byte (0x08)", magic[2])}
	}
	rank := int(magic[3])
	if rank < 1 || rank > 4 {
		return nil, nil, &FormatError{path, fmt.Sprintf("%d dimensions", rank)}
	}
	dims = make([]int, rank)
	total := 1
	for i := range dims {
		var d uint32
		if err := binary.Read(r, binary.BigEndian, &d); err != nil {
			return nil, nil, &FormatError{path, "short header"}
		}
		dims[i] = int(d)
		total *= int(d)
		if total > maxIdxElements || d == 0 {
			return nil, nil, &FormatError{path, fmt.Sprintf("implausible dimensions %v", dims[:i+1])}
		}
	}
	data = make([]byte, total)
	if n, err := io.ReadFull(r, data); err != nil {
		return nil, nil, &FormatError{path, fmt.Sprintf("truncated: %d of %d data bytes (%v)", n, total, err)}
	}
	return dims, data, nil
}

// ReadIdx reads an idx image file and its idx label file into a Set, with
// pixels scaled to [0, 1] (as torchvision's ToTensor, which the PyTorch
// references use).
func ReadIdx(imagesPath, labelsPath string) (*Set, error) {
	dims, pix, err := readIdx(imagesPath)
	if err != nil {
		return nil, err
	}
	if len(dims) != 3 && len(dims) != 4 {
		return nil, &FormatError{imagesPath, fmt.Sprintf("images need 3 or 4 dimensions, got %v", dims)}
	}
	ldims, labels, err := readIdx(labelsPath)
	if err != nil {
		return nil, err
	}
	if len(ldims) != 1 || ldims[0] != dims[0] {
		return nil, &FormatError{labelsPath, fmt.Sprintf("%v labels for %d images", ldims, dims[0])}
	}
	s := &Set{Height: dims[1], Width: dims[2], Channels: 1, Pixels: make([]float32, len(pix)), Labels: make([]int32, len(labels))}
	if len(dims) == 4 {
		s.Channels = dims[3]
	}
	for i, p := range pix {
		s.Pixels[i] = float32(p) / 255
	}
	for i, l := range labels {
		s.Labels[i] = int32(l)
	}
	return s, nil
}

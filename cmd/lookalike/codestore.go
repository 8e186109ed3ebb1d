package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"

	"github.com/lookalike/lookalike/codes"
	"github.com/lookalike/lookalike/dataset"
	"github.com/lookalike/lookalike/modelfile"
	"github.com/lookalike/lookalike/store"
)

// A code store directory ('index --model M --store') is package store's:
// store.db, the segment files, and model.lkm, the model that encoded
// the codes, which the store records so that serve can encode new images.

// storeChunk is how many items one Add commits when building a store:
// one bbolt transaction each, so memory stays bounded.
const storeChunk = 50_000

// writeCodeStore creates a store in dir holding cs with its labels, the
// paths of the images when they came from a folder, and a content hash
// per item (of the file, or of the pixels for a protocol's images).
func writeCodeStore(dir string, m *modelfile.Model, cs *codes.Set, set *dataset.Set, paths []string) error {
	if store.Exists(dir) {
		return badInput("%s already holds a store: serve it to add and delete items, or remove it to rebuild", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := modelfile.WriteFile(filepath.Join(dir, modelFile), m); err != nil {
		return err
	}
	st, err := store.Create(dir, store.Options{Bits: cs.Bits, Model: modelFile})
	if err != nil {
		return err
	}
	for lo := 0; lo < cs.Len(); lo += storeChunk {
		items := make([]store.Item, 0, min(storeChunk, cs.Len()-lo))
		for i := lo; i < min(lo+storeChunk, cs.Len()); i++ {
			it := store.Item{Code: cs.At(i), Meta: store.Meta{Label: -1}}
			if set.Labels != nil {
				it.Label = set.Labels[i]
			}
			if paths != nil {
				it.Path = paths[i]
				if it.Hash, err = fileHash(paths[i]); err != nil {
					st.Close()
					return err
				}
			} else {
				it.Hash = pixelHash(set.Image(i))
			}
			items = append(items, it)
		}
		if _, err := st.Add(items); err != nil {
			st.Close()
			return err
		}
	}
	return st.Close()
}

func fileHash(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func pixelHash(pix []float32) string {
	b := make([]byte, 0, 4*len(pix))
	for _, v := range pix {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// openCodeStore opens the store in dir, naming it in errors; a damaged
// store is bad input (exit status 2), as a damaged code file is.
func openCodeStore(dir string) (*store.Store, error) {
	st, err := store.Open(dir)
	if err != nil {
		var ce *store.CorruptError
		if errors.As(err, &ce) {
			return nil, inputError{fmt.Errorf("%s: %w", dir, err)}
		}
		return nil, err
	}
	return st, nil
}

// storeEncoder returns a function encoding an image with the model the
// store records, or nil when it records none. The encoder runs one image
// at a time: the model's encoder is not documented as safe for concurrent
// use.
func storeEncoder(st *store.Store) (func(image.Image) ([]uint64, error), string, error) {
	path := st.Stats().Model
	if path == "" {
		return nil, "", nil
	}
	m, enc, err := loadModel(path)
	if err != nil {
		return nil, "", err
	}
	if enc.Outputs() != st.Bits() {
		return nil, "", badInput("%s gives %d-bit codes, the store holds %d-bit ones", path, enc.Outputs(), st.Bits())
	}
	var mu sync.Mutex
	pre := m.Header.Preprocess
	return func(img image.Image) ([]uint64, error) {
		pix := dataset.Pixels(img, pre.Height, pre.Width, pre.Channels)
		mu.Lock()
		out, err := enc.Encode(pix, 1)
		mu.Unlock()
		if err != nil {
			return nil, err
		}
		cs, err := codes.FromSigns(st.Bits(), out)
		if err != nil {
			return nil, err
		}
		return cs.At(0), nil
	}, m.Header.Method, nil
}

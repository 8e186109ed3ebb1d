package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"

	bolt "go.etcd.io/bbolt"

	"github.com/lookalike/lookalike/codes"
)

// store.db holds four buckets:
//
//	config      "config": the JSON config; "next": next id (8), next file
//	            number (8)
//	segments    first id of the range (8, big endian) -> file number (8),
//	            committed count (8), committed end offset (8)
//	items       id (8, big endian) -> label (4), path, hash (each a
//	            uvarint length and bytes)
//	tombstones  id (8, big endian) -> nothing: a deleted item still in a
//	            segment
//
// Keys are big endian so that bbolt's byte order is id order. Every value
// ends with a CRC-32C of its key and the value's other bytes (sealed),
// because bbolt checksums only its meta pages.
const (
	dbFile    = "store.db"
	dbFormat  = "lookalike-store"
	dbVersion = 1
)

var (
	bucketConfig     = []byte("config")
	bucketSegments   = []byte("segments")
	bucketItems      = []byte("items")
	bucketTombstones = []byte("tombstones")

	keyConfig = []byte("config")
	keyNext   = []byte("next")
)

// config is what a store is, fixed at Create.
type config struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	Bits    int    `json:"bits"`
	Dim     int    `json:"dim"`
	Model   string `json:"model,omitempty"`
}

func idKey(id uint64) []byte { return binary.BigEndian.AppendUint64(nil, id) }

// seal appends the checksum of key and payload to payload.
func seal(key, payload []byte) []byte {
	crc := crc32.Update(crc32.Checksum(key, castagnoli), castagnoli, payload)
	return binary.LittleEndian.AppendUint32(payload, crc)
}

// unseal checks a sealed value and returns its payload, a copy: bbolt's
// slices are valid only inside their transaction.
func unseal(key, v []byte) ([]byte, bool) {
	if len(v) < 4 {
		return nil, false
	}
	payload := v[:len(v)-4]
	crc := crc32.Update(crc32.Checksum(key, castagnoli), castagnoli, payload)
	if crc != binary.LittleEndian.Uint32(v[len(v)-4:]) {
		return nil, false
	}
	return append([]byte(nil), payload...), true
}

// Meta is what the store records about an item besides its code.
type Meta struct {
	// Label is the item's class, -1 for none.
	Label int32
	// Path names the item's source (an image file), if any.
	Path string
	// Hash identifies the source's content (e.g. a hex SHA-256), if any.
	Hash string
}

// maxString bounds a path or hash.
const maxString = 4096

func encodeMeta(m Meta) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(m.Label))
	b = binary.AppendUvarint(b, uint64(len(m.Path)))
	b = append(b, m.Path...)
	b = binary.AppendUvarint(b, uint64(len(m.Hash)))
	return append(b, m.Hash...)
}

var errMetaFields = errors.New("bad item fields")

func decodeMeta(b []byte) (Meta, error) {
	if len(b) < 4 {
		return Meta{}, errMetaFields
	}
	m := Meta{Label: int32(binary.LittleEndian.Uint32(b))}
	b = b[4:]
	for _, dst := range []*string{&m.Path, &m.Hash} {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return Meta{}, errMetaFields
		}
		*dst = string(b[k : k+int(n)])
		b = b[k+int(n):]
	}
	if len(b) != 0 {
		return Meta{}, errMetaFields
	}
	return m, nil
}

func encodeSegment(s *segment) []byte {
	b := binary.LittleEndian.AppendUint64(nil, s.file)
	b = binary.LittleEndian.AppendUint64(b, uint64(s.count))
	return binary.LittleEndian.AppendUint64(b, uint64(s.end))
}

func decodeSegment(key, b []byte) (*segment, bool) {
	if len(key) != 8 || len(b) != 24 {
		return nil, false
	}
	s := &segment{start: binary.BigEndian.Uint64(key), file: binary.LittleEndian.Uint64(b),
		count: int(binary.LittleEndian.Uint64(b[8:])), end: int64(binary.LittleEndian.Uint64(b[16:]))}
	return s, s.count >= 0 && s.end >= segHeaderSize
}

func encodeNext(id, file uint64) []byte {
	return binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, id), file)
}

// putSealed stores a sealed value.
func putSealed(b *bolt.Bucket, key, payload []byte) error {
	return b.Put(key, seal(key, payload))
}

// getSealed reads and checks a sealed value, naming what in the error.
func getSealed(b *bolt.Bucket, key []byte, what string) ([]byte, error) {
	v := b.Get(key)
	if v == nil {
		return nil, corrupt(dbFile, ErrInconsistent, "(no %s)", what)
	}
	p, ok := unseal(key, v)
	if !ok {
		return nil, corrupt(dbFile, ErrChecksum, "in the %s", what)
	}
	return p, nil
}

// readConfig reads and validates the config and the next counters.
func readConfig(tx *bolt.Tx) (cfg config, nextID, nextFile uint64, err error) {
	b := tx.Bucket(bucketConfig)
	if b == nil {
		return cfg, 0, 0, corrupt(dbFile, ErrInvalid, "(no config bucket)")
	}
	p, err := getSealed(b, keyConfig, "config")
	if err != nil {
		return cfg, 0, 0, err
	}
	if err := json.Unmarshal(p, &cfg); err != nil || cfg.Format != dbFormat {
		return cfg, 0, 0, corrupt(dbFile, ErrInvalid, "(not a Lookalike store config)")
	}
	if cfg.Version != dbVersion {
		return cfg, 0, 0, corrupt(dbFile, ErrVersionMismatch, "%d (this build reads %d)", cfg.Version, dbVersion)
	}
	if err := checkLayout(cfg.Bits, cfg.Dim); err != nil {
		return cfg, 0, 0, corrupt(dbFile, ErrInconsistent, "(%v)", err)
	}
	p, err = getSealed(b, keyNext, "id counter")
	if err != nil {
		return cfg, 0, 0, err
	}
	if len(p) != 16 {
		return cfg, 0, 0, corrupt(dbFile, ErrInconsistent, "(id counter of %d bytes)", len(p))
	}
	return cfg, binary.LittleEndian.Uint64(p), binary.LittleEndian.Uint64(p[8:]), nil
}

// maxDim bounds a descriptor's dimension.
const maxDim = 1 << 16

func checkLayout(bits, dim int) error {
	if err := codes.CheckBits(bits); err != nil {
		return err
	}
	if dim < 0 || dim > maxDim {
		return fmt.Errorf("store: descriptor dimension %d is outside 0..%d", dim, maxDim)
	}
	return nil
}

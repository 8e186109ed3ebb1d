package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// openTimeout is how long Open waits for another process's lock on
// store.db.
const openTimeout = time.Second

// Open opens the store in dir. It verifies every file (see the package
// documentation), drops what a crash left uncommitted and removes files
// no commit names, so that what it returns holds exactly the acknowledged
// changes.
func Open(dir string) (*Store, error) {
	path := filepath.Join(dir, dbFile)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotStore, dir)
	} else if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	db, err := openDB(path)
	if err != nil {
		return nil, err
	}
	s := &Store{dir: dir, db: db, segmentItems: 1 << 20}
	if err := s.load(); err != nil {
		for _, seg := range s.segs {
			if seg.f != nil {
				seg.f.Close()
			}
		}
		db.Close()
		return nil, err
	}
	return s, nil
}

// openDB opens bbolt, turning its errors and panics on a damaged file
// into a *CorruptError.
func openDB(path string) (db *bolt.DB, err error) {
	// bbolt locks the file when it opens it and loses the handle when it
	// panics (on a damaged freelist page): keep it to release the lock.
	var file *os.File
	openFile := func(name string, flag int, perm os.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, flag, perm)
		file = f
		return f, err
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if file != nil {
				releaseLock(file)
			}
			db, err = nil, corrupt(dbFile, ErrChecksum, "(%v)", r)
		}
	}()
	db, err = bolt.Open(path, 0o644, &bolt.Options{Timeout: openTimeout, OpenFile: openFile})
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("%w: %s", ErrLocked, filepath.Dir(path))
	case errors.Is(err, berrors.ErrInvalid):
		return nil, corrupt(dbFile, ErrInvalid, "(%v)", err)
	case errors.Is(err, berrors.ErrVersionMismatch):
		return nil, corrupt(dbFile, ErrVersionMismatch, "(%v)", err)
	case errors.Is(err, berrors.ErrChecksum):
		return nil, corrupt(dbFile, ErrChecksum, "in both meta pages")
	}
	return nil, corrupt(dbFile, ErrChecksum, "(%v)", err)
}

// load reads and verifies everything, repairs what a crash left, and
// builds the view.
func (s *Store) load() (err error) {
	var r records
	var tombs []uint64
	err = s.viewChecked(func(tx *bolt.Tx) error {
		var err error
		if s.cfg, s.nextID, s.nextFile, err = readConfig(tx); err != nil {
			return err
		}
		s.l = layout{bits: s.cfg.Bits, dim: s.cfg.Dim}
		for _, name := range [][]byte{bucketSegments, bucketItems, bucketTombstones} {
			if tx.Bucket(name) == nil {
				return corrupt(dbFile, ErrInvalid, "(no %s bucket)", name)
			}
		}
		if s.segs, err = readSegmentList(tx, s.nextID, s.nextFile); err != nil {
			return err
		}
		for i, seg := range s.segs {
			limit := s.nextID
			if i+1 < len(s.segs) {
				limit = s.segs[i+1].start
			}
			if err := s.readSegment(seg, limit, i == len(s.segs)-1, &r); err != nil {
				return err
			}
		}
		tombs, err = matchItems(tx, s.segs, &r)
		return err
	})
	if err != nil {
		return err
	}
	if err := s.removeStrays(); err != nil {
		return err
	}
	live := &records{}
	dead := map[uint64]bool{}
	for _, id := range tombs {
		dead[id] = true
	}
	w := s.l.words()
	for i, id := range r.ids {
		if dead[id] {
			continue
		}
		live.ids = append(live.ids, id)
		live.codes = append(live.codes, r.codes[i*w:(i+1)*w]...)
		live.desc = append(live.desc, r.desc[i*s.l.dim:(i+1)*s.l.dim]...)
		live.labels = append(live.labels, r.labels[i])
		live.named = append(live.named, r.named[i])
	}
	s.v = newView(s.l, live)
	s.tombs = len(tombs)
	return nil
}

// viewChecked runs fn in a read transaction, turning a panic or a memory
// fault (bbolt's reactions to a damaged page: it follows offsets in the
// mapped file unchecked) into a *CorruptError. bbolt's own Tx.Check is
// not used for that reason: it walks the pages in a goroutine of its own,
// where a fault cannot be recovered and ends the process.
func (s *Store) viewChecked(fn func(*bolt.Tx) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = corrupt(dbFile, ErrChecksum, "(%v)", r)
		}
	}()
	return s.db.View(fn)
}

func beUint64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }

// readSegmentList reads the committed segments in id order.
func readSegmentList(tx *bolt.Tx, nextID, nextFile uint64) ([]*segment, error) {
	var segs []*segment
	err := tx.Bucket(bucketSegments).ForEach(func(k, v []byte) error {
		p, ok := unseal(k, v)
		if !ok {
			return corrupt(dbFile, ErrChecksum, "in a segment record")
		}
		seg, ok := decodeSegment(k, p)
		if !ok || seg.file >= nextFile || seg.start >= nextID && seg.count > 0 {
			return corrupt(dbFile, ErrInconsistent, "in a segment record")
		}
		segs = append(segs, seg)
		return nil
	})
	return segs, err
}

// readSegment verifies one committed segment, appends its records to r
// and, when a crash left more than the commit (records or a newer count
// slot), cuts the file back to it. The active (last) segment stays open.
func (s *Store) readSegment(seg *segment, limit uint64, active bool, r *records) error {
	name := seg.name()
	f, err := os.OpenFile(filepath.Join(s.dir, name), os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return corrupt(name, ErrInconsistent, "(missing; %s lists it with %d items)", dbFile, seg.count)
	} else if err != nil {
		return fmt.Errorf("store: open %s: %w", name, err)
	}
	keep := false
	defer func() {
		if !keep {
			f.Close()
		}
	}()
	sl, err := readHeader(f, name, s.l, seg.file)
	if err != nil {
		return err
	}
	if sl.count < uint64(seg.count) || sl.end < seg.end {
		return corrupt(name, ErrInconsistent, "(its header counts %d items, %d are committed)", sl.count, seg.count)
	}
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if st.Size() < seg.end {
		return corrupt(name, ErrInconsistent, "(%d bytes; %d are committed)", st.Size(), seg.end)
	}
	n, err := readBlocks(f, name, s.l, seg.end, seg.start, r)
	if err != nil {
		return err
	}
	if n != seg.count {
		return corrupt(name, ErrInconsistent, "(holds %d committed items, %s says %d)", n, dbFile, seg.count)
	}
	if n > 0 && r.ids[r.len()-1] >= limit {
		return corrupt(name, ErrInconsistent, "(id %d beyond its range)", r.ids[r.len()-1])
	}
	seg.seq = sl.seq
	if st.Size() != seg.end || sl.count != uint64(seg.count) || sl.end != seg.end {
		seg.f = f
		if err := seg.writeSlot(slot{seq: sl.seq + 1, count: uint64(seg.count), end: seg.end}); err != nil {
			seg.f = nil
			return err
		}
		seg.seq++
		s.repairs++
		if err := f.Truncate(seg.end); err != nil {
			seg.f = nil
			return fmt.Errorf("store: truncate %s: %w", name, err)
		}
		if err := f.Sync(); err != nil {
			seg.f = nil
			return fmt.Errorf("store: sync %s: %w", name, err)
		}
		seg.f = nil
	}
	if active {
		seg.f, keep = f, true
	}
	return nil
}

// matchItems checks that the items and tombstones are exactly the ids of
// the segments, each value intact, fills r's labels and named, and
// returns the tombstones.
func matchItems(tx *bolt.Tx, segs []*segment, r *records) ([]uint64, error) {
	items := tx.Bucket(bucketItems).Cursor()
	tombs := tx.Bucket(bucketTombstones).Cursor()
	ik, iv := items.First()
	tk, tv := tombs.First()
	var dead []uint64
	seg, inSeg := 0, 0
	r.labels = make([]int32, r.len())
	r.named = make([]bool, r.len())
	for i, id := range r.ids {
		for inSeg == segs[seg].count {
			seg, inSeg = seg+1, 0
		}
		inSeg++
		key := idKey(id)
		isItem, isTomb := bytes.Equal(ik, key), bytes.Equal(tk, key)
		switch {
		case isItem && isTomb:
			return nil, corrupt(dbFile, ErrInconsistent, "(item %d is both live and deleted)", id)
		case isItem:
			p, ok := unseal(ik, iv)
			if !ok {
				return nil, corrupt(dbFile, ErrChecksum, "in item %d", id)
			}
			m, err := decodeMeta(p)
			if err != nil {
				return nil, corrupt(dbFile, ErrInconsistent, "in item %d: %v", id, err)
			}
			r.labels[i], r.named[i] = m.Label, m.Path != ""
			ik, iv = items.Next()
		case isTomb:
			if _, ok := unseal(tk, tv); !ok {
				return nil, corrupt(dbFile, ErrChecksum, "in the tombstone of item %d", id)
			}
			dead = append(dead, id)
			tk, tv = tombs.Next()
		default:
			return nil, corrupt(dbFile, ErrInconsistent, "(item %d of %s has no record)", id, segs[seg].name())
		}
	}
	if ik != nil {
		return nil, corrupt(dbFile, ErrInconsistent, "(item %d has no code in any segment)", beUint64(ik))
	}
	if tk != nil {
		return nil, corrupt(dbFile, ErrInconsistent, "(deleted item %d has no code in any segment)", beUint64(tk))
	}
	return dead, nil
}

var segFileName = regexp.MustCompile(`^([0-9]{6,})\.seg$`)

// removeStrays deletes the segment files no commit names: written by an
// add or a compaction that crashed before its commit, or replaced by a
// compaction that crashed before removing them.
func (s *Store) removeStrays() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	named := map[string]bool{}
	for _, seg := range s.segs {
		named[seg.name()] = true
	}
	removed := false
	for _, e := range entries {
		n := e.Name()
		if segFileName.MatchString(n) && !named[n] || n == dbFile+".tmp" {
			if err := os.Remove(filepath.Join(s.dir, n)); err != nil {
				return fmt.Errorf("store: remove uncommitted %s: %w", n, err)
			}
			removed = true
			s.repairs++
		}
	}
	if removed {
		return syncDir(s.dir)
	}
	return nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only fixed struct types reach here
	}
	return b
}

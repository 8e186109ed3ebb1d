package store

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/lookalike/lookalike/codes"
	"github.com/lookalike/lookalike/index"
)

// Options configure a new store.
type Options struct {
	// Bits is the code length, 1..1024 (required).
	Bits int
	// Dim is the length of the float32 descriptor stored with each code;
	// 0 (the default) stores none.
	Dim int
	// Model names a model file in the store's directory that encoded the
	// codes, so that a server can encode new images the same way; empty
	// for none. The store records the name and does not read the file.
	Model string
	// SegmentItems is how many items the active segment takes before adds
	// start a new one (default 1<<20). Compaction rewrites whole segments,
	// so smaller ones make it cheaper after a few deletes. It is not
	// stored: Open starts from the default, and SetSegmentItems changes it.
	SegmentItems int
}

// Item is one stored item.
type Item struct {
	// ID is assigned by Add.
	ID uint64
	// Code is the binary code, packed as codes.Set packs it.
	Code []uint64
	// Descriptor has Options.Dim values, or is nil when Dim is 0.
	Descriptor []float32
	Meta
}

// Hit is one search result: a live item and its Hamming distance.
type Hit struct {
	ID       uint64
	Distance int
}

// Stats describe a store.
type Stats struct {
	Items      int // live items
	Tombstones int // deleted items whose codes Compact has not yet removed
	Segments   int
	Bits, Dim  int
	// Model is the path of the model file the store records, or empty.
	Model string
	// Repairs counts what Open undid of changes a crash interrupted:
	// segment files cut back to their commit, and files no commit named
	// removed.
	Repairs int
}

// maxDead bounds the deleted items the in-memory index carries before it
// is rebuilt without them: each search asks for k+dead results.
const maxDead = 256

// Store is an open store. Its methods are safe for concurrent use:
// searches run in parallel with each other and with the disk work of a
// change, writers go one at a time.
type Store struct {
	dir          string
	cfg          config
	l            layout
	db           *bolt.DB
	segmentItems int

	// wmu serialises writers. Fields below it change only with wmu held,
	// so a writer may read them without mu.
	wmu      sync.Mutex
	segs     []*segment // in id order; the last is the active one
	nextID   uint64
	nextFile uint64
	// broken is set when a failed change could not be undone on disk;
	// writes are refused, and reopening repairs the files.
	broken error

	// mu guards what searches read: a writer publishes with mu held.
	mu    sync.RWMutex
	v     *view // nil once closed
	tombs int   // tombstones on disk

	repairs int // set by Open
}

// view is the searchable state: the live items' codes in id order, plus
// up to maxDead items deleted since the index was built.
type view struct {
	set    *codes.Set
	ids    []uint64
	desc   []float32
	labels []int32
	named  []bool
	idx    *index.Hamming
	eng    *index.Engine // idx's scan or multi-index hashing, for batches
	dead   []uint64      // bit per position
	ndead  int
}

func newView(l layout, r *records) *view {
	set := &codes.Set{Bits: l.bits, Data: r.codes}
	idx := index.NewHamming(set)
	return &view{set: set, ids: r.ids, desc: r.desc, labels: r.labels, named: r.named,
		idx: idx, eng: index.NewEngine(idx), dead: make([]uint64, (len(r.ids)+63)/64)}
}

func (v *view) isDead(p int) bool { return v.dead[p/64]>>(p%64)&1 == 1 }

// pos returns the position of a live id.
func (v *view) pos(id uint64) (int, bool) {
	p := sort.Search(len(v.ids), func(i int) bool { return v.ids[i] >= id })
	if p == len(v.ids) || v.ids[p] != id || v.isDead(p) {
		return 0, false
	}
	return p, true
}

// live returns the records of positions [lo, hi) that are not dead.
func (v *view) live(l layout, lo, hi int) *records {
	w := l.words()
	r := &records{}
	for p := lo; p < hi; p++ {
		if v.isDead(p) {
			continue
		}
		r.ids = append(r.ids, v.ids[p])
		r.codes = append(r.codes, v.set.Data[p*w:(p+1)*w]...)
		r.desc = append(r.desc, v.desc[p*l.dim:(p+1)*l.dim]...)
		r.labels = append(r.labels, v.labels[p])
		r.named = append(r.named, v.named[p])
	}
	return r
}

// Create makes a store in dir (created if missing) and opens it. The
// store's database appears whole or not at all.
func Create(dir string, o Options) (*Store, error) {
	if err := checkLayout(o.Bits, o.Dim); err != nil {
		return nil, err
	}
	if o.Model != "" && !filepath.IsLocal(o.Model) {
		return nil, fmt.Errorf("store: model %q must be a file name inside the store", o.Model)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	path := filepath.Join(dir, dbFile)
	if _, err := os.Stat(path); err == nil {
		return nil, fmt.Errorf("%w: %s", ErrExists, dir)
	}
	tmp := path + ".tmp"
	os.Remove(tmp)
	db, err := bolt.Open(tmp, 0o644, &bolt.Options{Timeout: openTimeout})
	if err != nil {
		return nil, fmt.Errorf("store: create %s: %w", path, err)
	}
	cfg := config{Format: dbFormat, Version: dbVersion, Bits: o.Bits, Dim: o.Dim, Model: o.Model}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketConfig, bucketSegments, bucketItems, bucketTombstones} {
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		b := tx.Bucket(bucketConfig)
		if err := putSealed(b, keyConfig, mustJSON(cfg)); err != nil {
			return err
		}
		return putSealed(b, keyNext, encodeNext(0, 1))
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("store: create %s: %w", path, err)
	}
	s, err := Open(dir)
	if err != nil {
		return nil, err
	}
	if o.SegmentItems > 0 {
		s.segmentItems = o.SegmentItems
	}
	return s, nil
}

// SetSegmentItems changes how many items the active segment takes before
// adds start a new one (Options.SegmentItems) for this open store.
func (s *Store) SetSegmentItems(n int) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if n > 0 {
		s.segmentItems = n
	}
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// Bits returns the code length.
func (s *Store) Bits() int { return s.l.bits }

// Dim returns the descriptor length (0: none).
func (s *Store) Dim() int { return s.l.dim }

// Stats returns counts and settings.
func (s *Store) Stats() Stats {
	st := Stats{Bits: s.l.bits, Dim: s.l.dim, Repairs: s.repairs}
	if s.cfg.Model != "" {
		st.Model = filepath.Join(s.dir, s.cfg.Model)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.v != nil {
		st.Items = len(s.v.ids) - s.v.ndead
		st.Tombstones = s.tombs
	}
	// s.segs changes only with mu held as well as wmu.
	st.Segments = len(s.segs)
	return st
}

// Len returns the number of live items.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.v == nil {
		return 0
	}
	return len(s.v.ids) - s.v.ndead
}

// check validates an item against the store's layout.
func (s *Store) check(i int, it *Item) error {
	if err := s.checkCode(it.Code); err != nil {
		return fmt.Errorf("store: item %d: %w", i, err)
	}
	if len(it.Descriptor) != s.l.dim {
		return fmt.Errorf("store: item %d: descriptor has %d values, the store's have %d", i, len(it.Descriptor), s.l.dim)
	}
	if len(it.Path) > maxString || len(it.Hash) > maxString {
		return fmt.Errorf("store: item %d: path or hash over %d bytes", i, maxString)
	}
	return nil
}

func (s *Store) checkCode(c []uint64) error {
	w := s.l.words()
	if len(c) != w {
		return fmt.Errorf("code has %d words, the store's %d-bit codes have %d", len(c), s.l.bits, w)
	}
	if r := s.l.bits % 64; r != 0 && c[w-1]>>r != 0 {
		return fmt.Errorf("code has bits set beyond bit %d", s.l.bits)
	}
	return nil
}

// Add stores items and returns their ids. When it returns nil the items
// are durable: they survive a crash at any later instant. On error none is
// added.
func (s *Store) Add(items []Item) ([]uint64, error) {
	for i := range items {
		if err := s.check(i, &items[i]); err != nil {
			return nil, err
		}
	}
	if len(items) == 0 {
		return nil, nil
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.writable(); err != nil {
		return nil, err
	}
	r := &records{}
	for i, it := range items {
		r.ids = append(r.ids, s.nextID+uint64(i))
		r.codes = append(r.codes, it.Code...)
		r.desc = append(r.desc, it.Descriptor...)
		r.labels = append(r.labels, it.Label)
		r.named = append(r.named, it.Path != "")
	}

	// Only the active segment is appended to; one whose file is closed
	// was sealed (a compaction dropped the segment after it).
	var seg *segment
	fresh := len(s.segs) == 0 || s.segs[len(s.segs)-1].f == nil || s.segs[len(s.segs)-1].count >= s.segmentItems
	if fresh {
		var err error
		if seg, err = createSegment(s.dir, s.l, s.nextFile, r.ids[0]); err != nil {
			return nil, err
		}
	} else {
		seg = s.segs[len(s.segs)-1]
	}
	sl, err := seg.appendRecords(s.l, r)
	if err != nil {
		// Nothing names the new blocks: the next append overwrites them,
		// or Open cuts them off.
		if fresh {
			seg.f.Close()
			os.Remove(filepath.Join(s.dir, seg.name()))
		}
		return nil, err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketItems)
		for i := range items {
			if err := putSealed(b, idKey(r.ids[i]), encodeMeta(items[i].Meta)); err != nil {
				return err
			}
		}
		committed := *seg
		committed.commit(sl)
		if err := putSealed(tx.Bucket(bucketSegments), idKey(seg.start), encodeSegment(&committed)); err != nil {
			return err
		}
		nextFile := s.nextFile
		if fresh {
			nextFile++
		}
		return putSealed(tx.Bucket(bucketConfig), keyNext, encodeNext(s.nextID+uint64(len(items)), nextFile))
	})
	if err != nil {
		if fresh {
			seg.f.Close() // left for Open, which keeps it if the commit landed
		}
		return nil, s.commitFailed(err)
	}
	seg.commit(sl)
	s.nextID += uint64(len(items))

	s.mu.Lock()
	if fresh {
		if len(s.segs) > 0 && s.segs[len(s.segs)-1].f != nil {
			last := s.segs[len(s.segs)-1]
			last.f.Close()
			last.f = nil
		}
		s.segs = append(s.segs, seg)
		s.nextFile++
	}
	v := s.v
	v.set.Data = append(v.set.Data, r.codes...)
	v.ids = append(v.ids, r.ids...)
	v.desc = append(v.desc, r.desc...)
	v.labels = append(v.labels, r.labels...)
	v.named = append(v.named, r.named...)
	v.idx.Add(&codes.Set{Bits: s.l.bits, Data: r.codes})
	for len(v.dead)*64 < len(v.ids) {
		v.dead = append(v.dead, 0)
	}
	s.mu.Unlock()
	return r.ids, nil
}

// commitFailed refuses further writes after a failed bbolt commit: it may
// have reached the disk all the same (a failed final sync), and only
// Open can tell which state the files are in.
func (s *Store) commitFailed(err error) error {
	s.broken = fmt.Errorf("store: a commit to %s failed; reopen the store: %w", dbFile, err)
	return fmt.Errorf("store: commit to %s: %w", dbFile, err)
}

func (s *Store) writable() error {
	if s.v == nil {
		return ErrClosed
	}
	return s.broken
}

// Delete removes items: searches stop returning them at once, and their
// codes stay in the segments as tombstones until Compact. Every id must be
// live; otherwise nothing is deleted and the error wraps ErrNotFound.
func (s *Store) Delete(ids ...uint64) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.writable(); err != nil {
		return err
	}
	v := s.v
	seen := map[uint64]bool{}
	var ps []int
	for _, id := range ids {
		p, ok := v.pos(id)
		if !ok {
			return fmt.Errorf("%w: %d", ErrNotFound, id)
		}
		if !seen[id] {
			seen[id] = true
			ps = append(ps, p)
		}
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		items, tombs := tx.Bucket(bucketItems), tx.Bucket(bucketTombstones)
		for id := range seen {
			if err := items.Delete(idKey(id)); err != nil {
				return err
			}
			if err := putSealed(tombs, idKey(id), nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return s.commitFailed(err)
	}
	s.mu.Lock()
	for _, p := range ps {
		v.dead[p/64] |= 1 << (p % 64)
	}
	v.ndead += len(ps)
	s.tombs += len(ps)
	s.mu.Unlock()
	if v.ndead > maxDead {
		s.rebuild()
	}
	return nil
}

// rebuild replaces the view with one without its dead items. The copy is
// made outside mu (only writers change the view, and wmu is held), so
// searches wait only for the swap.
func (s *Store) rebuild() {
	nv := newView(s.l, s.v.live(s.l, 0, len(s.v.ids)))
	s.mu.Lock()
	s.v = nv
	s.mu.Unlock()
}

// Compact rewrites the segments holding deleted items without them,
// commits the new segment list, and removes the old files. Searches and
// reads go on meanwhile; writers wait.
func (s *Store) Compact() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.writable(); err != nil {
		return err
	}
	var tombs []uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTombstones).ForEach(func(k, _ []byte) error {
			tombs = append(tombs, beUint64(k))
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("store: read %s: %w", dbFile, err)
	}
	if len(tombs) == 0 {
		return nil
	}
	// Segments cover consecutive id ranges: segs[i] holds ids from its
	// start up to the next one's.
	v := s.v
	affected := map[int]bool{}
	var order []int // affected segments in id order: file numbers follow it
	for _, id := range tombs {
		i := sort.Search(len(s.segs), func(i int) bool { return s.segs[i].start > id }) - 1
		if i >= 0 && !affected[i] {
			affected[i] = true
			order = append(order, i)
		}
	}
	replaced := make([]*segment, len(s.segs)) // nil: dropped or kept
	var created []*segment
	undo := func() {
		for _, n := range created {
			n.f.Close()
			os.Remove(filepath.Join(s.dir, n.name()))
		}
	}
	nextFile := s.nextFile
	for _, i := range order {
		lo := sort.Search(len(v.ids), func(p int) bool { return v.ids[p] >= s.segs[i].start })
		hi := len(v.ids)
		if i+1 < len(s.segs) {
			hi = sort.Search(len(v.ids), func(p int) bool { return v.ids[p] >= s.segs[i+1].start })
		}
		r := v.live(s.l, lo, hi)
		if r.len() == 0 {
			continue
		}
		n, err := writeSegment(s.dir, s.l, nextFile, s.segs[i].start, r)
		if err != nil {
			undo()
			return err
		}
		nextFile++
		created = append(created, n)
		replaced[i] = n
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		segs := tx.Bucket(bucketSegments)
		for _, i := range order {
			key := idKey(s.segs[i].start)
			var err error
			if replaced[i] != nil {
				err = putSealed(segs, key, encodeSegment(replaced[i]))
			} else {
				err = segs.Delete(key)
			}
			if err != nil {
				return err
			}
		}
		tb := tx.Bucket(bucketTombstones)
		for _, id := range tombs {
			if err := tb.Delete(idKey(id)); err != nil {
				return err
			}
		}
		return putSealed(tx.Bucket(bucketConfig), keyNext, encodeNext(s.nextID, nextFile))
	})
	if err != nil {
		// The new files stay: if the commit reached the disk they are the
		// segments, and if not Open removes them.
		for _, n := range created {
			n.f.Close()
		}
		return s.commitFailed(err)
	}
	s.nextFile = nextFile
	var old []*segment
	var kept []*segment
	for i, seg := range s.segs {
		switch {
		case !affected[i]:
			kept = append(kept, seg)
		case replaced[i] != nil:
			kept = append(kept, replaced[i])
			old = append(old, seg)
		default:
			old = append(old, seg)
		}
	}
	// Only the active segment keeps its file open.
	for i, seg := range kept {
		if i < len(kept)-1 && seg.f != nil {
			seg.f.Close()
			seg.f = nil
		}
	}
	nv := newView(s.l, v.live(s.l, 0, len(v.ids)))
	s.mu.Lock()
	s.segs = kept
	s.v = nv
	s.tombs = 0
	s.mu.Unlock()
	// The old files are out of the committed list: a crash from here on
	// leaves strays that Open removes.
	for _, seg := range old {
		if seg.f != nil {
			seg.f.Close()
		}
		os.Remove(filepath.Join(s.dir, seg.name()))
	}
	return syncDir(s.dir)
}

// Close releases the store. Searches still running finish first.
func (s *Store) Close() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.v == nil {
		return ErrClosed
	}
	s.v = nil
	for _, seg := range s.segs {
		if seg.f != nil {
			seg.f.Close()
			seg.f = nil
		}
	}
	return s.db.Close()
}

// Exists reports whether dir holds a store.
func Exists(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, dbFile))
	return err == nil
}

package store

import (
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/lookalike/lookalike/codes"
	"github.com/lookalike/lookalike/index"
)

func (s *Store) checkQuery(q []uint64) error {
	if err := s.checkCode(q); err != nil {
		return fmt.Errorf("store: query %w", err)
	}
	return nil
}

// hits turns index results into live hits, at most k.
func (v *view) hits(res []index.Result, k int) []Hit {
	out := make([]Hit, 0, min(k, len(res)))
	for _, r := range res {
		if len(out) == k {
			break
		}
		if !v.isDead(r.ID) {
			out = append(out, Hit{ID: v.ids[r.ID], Distance: r.Distance})
		}
	}
	return out
}

// Search returns the k live items nearest to q by Hamming distance, ties
// broken by id.
func (s *Store) Search(q []uint64, k int) ([]Hit, error) {
	if k < 1 {
		return nil, fmt.Errorf("store: k = %d, must be at least 1", k)
	}
	if err := s.checkQuery(q); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	v := s.v
	if v == nil {
		return nil, ErrClosed
	}
	if v.idx.Len() == 0 {
		return nil, nil
	}
	res, err := v.idx.Search(q, min(k+v.ndead, v.idx.Len()))
	if err != nil {
		return nil, err
	}
	return v.hits(res, k), nil
}

// SearchBatch searches every code of qs with all cores, with the exact
// method index.Engine picks for the batch: the scan, whose queries read
// the codes from memory together, so that a batch costs far less than its
// searches one by one, or multi-index hashing, for batches of
// near-duplicate queries once it has paid for its tables.
func (s *Store) SearchBatch(qs *codes.Set, k int) ([][]Hit, error) {
	if k < 1 {
		return nil, fmt.Errorf("store: k = %d, must be at least 1", k)
	}
	if qs.Bits != s.l.bits {
		return nil, fmt.Errorf("store: queries have %d bits, the store %d", qs.Bits, s.l.bits)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	v := s.v
	if v == nil {
		return nil, ErrClosed
	}
	out := make([][]Hit, qs.Len())
	if v.idx.Len() == 0 || qs.Len() == 0 {
		return out, nil
	}
	res, _, err := v.eng.SearchBatch(qs, min(k+v.ndead, v.idx.Len()))
	if err != nil {
		return nil, err
	}
	for i, r := range res {
		out[i] = v.hits(r, k)
	}
	return out, nil
}

// Radius returns every live item within Hamming distance r of q.
func (s *Store) Radius(q []uint64, r int) ([]Hit, error) {
	if err := s.checkQuery(q); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	v := s.v
	if v == nil {
		return nil, ErrClosed
	}
	res, err := v.idx.Radius(q, r)
	if err != nil {
		return nil, err
	}
	return v.hits(res, len(res)), nil
}

// Code returns a copy of a live item's code.
func (s *Store) Code(id uint64) ([]uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.v == nil {
		return nil, ErrClosed
	}
	p, ok := s.v.pos(id)
	if !ok {
		return nil, fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	return append([]uint64(nil), s.v.set.At(p)...), nil
}

// Get returns a live item.
func (s *Store) Get(id uint64) (Item, error) {
	s.mu.RLock()
	v := s.v
	if v == nil {
		s.mu.RUnlock()
		return Item{}, ErrClosed
	}
	p, ok := v.pos(id)
	if !ok {
		s.mu.RUnlock()
		return Item{}, fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	it := Item{ID: id, Code: append([]uint64(nil), v.set.At(p)...)}
	if s.l.dim > 0 {
		it.Descriptor = append([]float32(nil), v.desc[p*s.l.dim:(p+1)*s.l.dim]...)
	}
	s.mu.RUnlock()
	ms, err := s.metas([]uint64{id}, true)
	if err != nil {
		return Item{}, err
	}
	it.Meta = ms[0]
	return it, nil
}

// Labels returns the label and path of items, as search results show
// them. Labels are in memory; only the paths of items that have one are
// read from the database, in one transaction. An id that is not live
// (deleted since the search that found it) gets label -1 and no path.
func (s *Store) Labels(ids []uint64) ([]int32, []string, error) {
	labels := make([]int32, len(ids))
	paths := make([]string, len(ids))
	var named []int
	s.mu.RLock()
	v := s.v
	if v == nil {
		s.mu.RUnlock()
		return nil, nil, ErrClosed
	}
	for i, id := range ids {
		labels[i] = -1
		if p, ok := v.pos(id); ok {
			labels[i] = v.labels[p]
			if v.named[p] {
				named = append(named, i)
			}
		}
	}
	s.mu.RUnlock()
	if len(named) == 0 {
		return labels, paths, nil
	}
	lookup := make([]uint64, len(named))
	for j, i := range named {
		lookup[j] = ids[i]
	}
	ms, err := s.metas(lookup, false)
	if err != nil {
		return nil, nil, err
	}
	for j, i := range named {
		paths[i] = ms[j].Path
	}
	return labels, paths, nil
}

// metas reads metadata in one transaction; with strict, a missing id is
// ErrNotFound, otherwise it gets label -1.
func (s *Store) metas(ids []uint64, strict bool) ([]Meta, error) {
	out := make([]Meta, len(ids))
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketItems)
		for i, id := range ids {
			out[i] = Meta{Label: -1}
			key := idKey(id)
			v := b.Get(key)
			if v == nil && strict {
				return fmt.Errorf("%w: %d", ErrNotFound, id)
			}
			if v == nil {
				continue
			}
			p, ok := unseal(key, v)
			if !ok {
				return corrupt(dbFile, ErrChecksum, "in item %d", id)
			}
			m, err := decodeMeta(p)
			if err != nil {
				return corrupt(dbFile, ErrInconsistent, "in item %d: %v", id, err)
			}
			out[i] = m
		}
		return nil
	})
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return nil, ErrClosed
	}
	return out, err
}

// IDs returns the live ids in increasing order.
func (s *Store) IDs() []uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.v == nil {
		return nil
	}
	out := make([]uint64, 0, len(s.v.ids)-s.v.ndead)
	for p, id := range s.v.ids {
		if !s.v.isDead(p) {
			out = append(out, id)
		}
	}
	return out
}

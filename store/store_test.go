package store

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/lookalike/lookalike/codes"
)

// randomCode draws a code of nbits bits near one of a few centres, so that
// searches meet ties and close neighbours.
func randomCode(rng *rand.Rand, nbits int) []uint64 {
	c := make([]uint64, codes.WordsFor(nbits))
	centre := rng.Uint64N(4)
	for j := 0; j < nbits; j++ {
		bit := (centre>>(j%2))&1 == 1
		if rng.Float64() < 0.2 {
			bit = !bit
		}
		if bit {
			c[j/64] |= 1 << (j % 64)
		}
	}
	return c
}

func testItems(rng *rand.Rand, n, nbits, dim int) []Item {
	items := make([]Item, n)
	for i := range items {
		items[i] = Item{Code: randomCode(rng, nbits), Meta: Meta{Label: int32(rng.IntN(10)), Path: "img/" + string(rune('a'+i%26)) + ".png"}}
		for d := 0; d < dim; d++ {
			items[i].Descriptor = append(items[i].Descriptor, rng.Float32())
		}
	}
	return items
}

// model is the brute-force reference: live items by id.
type model map[uint64][]uint64

func (m model) search(q []uint64, k, radius int) []Hit {
	var all []Hit
	for id, c := range m {
		d := codes.Hamming(q, c)
		if radius < 0 || d <= radius {
			all = append(all, Hit{ID: id, Distance: d})
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].Distance != all[j].Distance {
			return all[i].Distance < all[j].Distance
		}
		return all[i].ID < all[j].ID
	})
	if k >= 0 && len(all) > k {
		all = all[:k]
	}
	return all
}

func mustCreate(t *testing.T, dir string, o Options) *Store {
	t.Helper()
	s, err := Create(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStore_AddSearchReopen(t *testing.T) {
	dir := t.TempDir()
	s := mustCreate(t, dir, Options{Bits: 48, Dim: 3, Model: "model.lkm"})
	rng := rand.New(rand.NewPCG(1, 2))
	items := testItems(rng, 50, 48, 3)
	ids, err := s.Add(items)
	if err != nil {
		t.Fatal(err)
	}
	if ids[0] != 0 || ids[49] != 49 {
		t.Fatalf("ids %v, want 0..49", ids)
	}
	if err := s.Delete(7, 8); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st := s.Stats()
	if st.Items != 48 || st.Tombstones != 2 || st.Bits != 48 || st.Dim != 3 || st.Segments != 1 || st.Model == "" {
		t.Fatalf("stats %+v", st)
	}
	it, err := s.Get(9)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(it.Code, items[9].Code) || !slices.Equal(it.Descriptor, items[9].Descriptor) || it.Meta != items[9].Meta {
		t.Fatalf("item 9 came back as %+v, want %+v", it, items[9])
	}
	if _, err := s.Get(7); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a deleted item: %v, want ErrNotFound", err)
	}
	labels, paths, err := s.Labels([]uint64{9, 7, 49, 1000})
	if err != nil || !slices.Equal(labels, []int32{items[9].Label, -1, items[49].Label, -1}) ||
		!slices.Equal(paths, []string{items[9].Path, "", items[49].Path, ""}) {
		t.Fatalf("Labels after reopening: %v %q %v", labels, paths, err)
	}
	hits, err := s.Search(items[9].Code, 1)
	if err != nil || len(hits) != 1 || hits[0].Distance != 0 {
		t.Fatalf("search for item 9's code: %v %v", hits, err)
	}
}

func TestStore_AddErrors(t *testing.T) {
	s := mustCreate(t, t.TempDir(), Options{Bits: 40, Dim: 2})
	defer s.Close()
	long := make([]byte, maxString+1)
	tests := []struct {
		name string
		item Item
	}{
		{"too many words", Item{Code: []uint64{1, 2}, Descriptor: []float32{0, 0}}},
		{"no code", Item{Descriptor: []float32{0, 0}}},
		{"bits past the length", Item{Code: []uint64{1 << 40}, Descriptor: []float32{0, 0}}},
		{"short descriptor", Item{Code: []uint64{1}, Descriptor: []float32{0}}},
		{"long path", Item{Code: []uint64{1}, Descriptor: []float32{0, 0}, Meta: Meta{Path: string(long)}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.Add([]Item{{Code: []uint64{3}, Descriptor: []float32{1, 2}}, tc.item}); err == nil {
				t.Fatal("want an error")
			}
			if s.Len() != 0 {
				t.Fatalf("a failed add left %d items", s.Len())
			}
		})
	}
}

func TestCreate_Errors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		o    Options
		want error
	}{
		{"zero bits", Options{}, nil},
		{"too many bits", Options{Bits: 2048}, nil},
		{"negative dim", Options{Bits: 8, Dim: -1}, nil},
		{"model outside", Options{Bits: 8, Model: "../m.lkm"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Create(dir, tc.o); err == nil {
				t.Fatal("want an error")
			}
		})
	}
	s := mustCreate(t, dir, Options{Bits: 8})
	s.Close()
	if _, err := Create(dir, Options{Bits: 8}); !errors.Is(err, ErrExists) {
		t.Fatalf("second Create: %v, want ErrExists", err)
	}
	if _, err := Open(t.TempDir()); !errors.Is(err, ErrNotStore) {
		t.Fatalf("Open of an empty directory: %v, want ErrNotStore", err)
	}
}

func TestStore_DeleteErrors(t *testing.T) {
	s := mustCreate(t, t.TempDir(), Options{Bits: 8})
	defer s.Close()
	if _, err := s.Add([]Item{{Code: []uint64{1}}, {Code: []uint64{2}}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		ids  []uint64
	}{
		{"unknown", []uint64{5}},
		{"one unknown among live", []uint64{0, 9}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Delete(tc.ids...); !errors.Is(err, ErrNotFound) {
				t.Fatalf("got %v, want ErrNotFound", err)
			}
			if s.Len() != 2 {
				t.Fatalf("a failed delete left %d items", s.Len())
			}
		})
	}
	if err := s.Delete(1, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleting twice: %v", err)
	}
}

// TestStore_SearchMatchesBruteForce runs random adds, deletes, compactions
// and reopens, and after each checks Search, SearchBatch and Radius
// against brute force over the live items.
func TestStore_SearchMatchesBruteForce(t *testing.T) {
	for _, nbits := range []int{8, 64, 100, 256} {
		rng := rand.New(rand.NewPCG(uint64(nbits), 7))
		dir := t.TempDir()
		s := mustCreate(t, dir, Options{Bits: nbits, SegmentItems: 40})
		live := model{}
		for step := 0; step < 60; step++ {
			switch op := rng.IntN(10); {
			case op < 5:
				items := testItems(rng, 1+rng.IntN(30), nbits, 0)
				ids, err := s.Add(items)
				if err != nil {
					t.Fatal(err)
				}
				for i, id := range ids {
					live[id] = items[i].Code
				}
			case op < 8 && len(live) > 0:
				var victims []uint64
				for id := range live {
					if len(victims) == 1+rng.IntN(1+len(live)/4) {
						break
					}
					victims = append(victims, id)
				}
				if err := s.Delete(victims...); err != nil {
					t.Fatal(err)
				}
				for _, id := range victims {
					delete(live, id)
				}
			case op == 8:
				if err := s.Compact(); err != nil {
					t.Fatal(err)
				}
				if st := s.Stats(); st.Tombstones != 0 {
					t.Fatalf("after Compact: %d tombstones", st.Tombstones)
				}
			default:
				s.Close()
				var err error
				if s, err = Open(dir); err != nil {
					t.Fatalf("reopen at step %d: %v", step, err)
				}
			}
			if s.Len() != len(live) {
				t.Fatalf("%d bits, step %d: Len %d, want %d", nbits, step, s.Len(), len(live))
			}
			qs := &codes.Set{Bits: nbits}
			for range 5 {
				qs.Data = append(qs.Data, randomCode(rng, nbits)...)
			}
			k := 1 + rng.IntN(15)
			batch, err := s.SearchBatch(qs, k)
			if err != nil {
				t.Fatal(err)
			}
			for i := range qs.Len() {
				q := qs.At(i)
				want := live.search(q, k, -1)
				got, err := s.Search(q, k)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, want) || !slices.Equal(batch[i], want) {
					t.Fatalf("%d bits, step %d, k %d: Search %v, SearchBatch %v, brute force %v", nbits, step, k, got, batch[i], want)
				}
				r := rng.IntN(nbits / 3)
				gotR, err := s.Radius(q, r)
				if err != nil {
					t.Fatal(err)
				}
				if wantR := live.search(q, -1, r); !slices.Equal(gotR, wantR) {
					t.Fatalf("%d bits, step %d: Radius(%d) %v, brute force %v", nbits, step, r, gotR, wantR)
				}
			}
		}
		s.Close()
	}
}

// TestStore_ManyDeletesRebuild deletes past maxDead so the index is
// rebuilt, and checks the survivors are still found.
func TestStore_ManyDeletesRebuild(t *testing.T) {
	s := mustCreate(t, t.TempDir(), Options{Bits: 32})
	defer s.Close()
	rng := rand.New(rand.NewPCG(3, 3))
	items := testItems(rng, 3*maxDead, 32, 0)
	ids, err := s.Add(items)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2*maxDead; i += 2 {
		if err := s.Delete(ids[i]); err != nil {
			t.Fatal(err)
		}
	}
	if s.v.ndead > maxDead {
		t.Fatalf("%d dead in the index, want at most %d", s.v.ndead, maxDead)
	}
	for i := 1; i < 2*maxDead; i += 2 {
		got, err := s.Get(ids[i])
		if err != nil || !slices.Equal(got.Code, items[i].Code) {
			t.Fatalf("item %d: %v", ids[i], err)
		}
	}
}

// TestStore_SearchDuringChanges searches from several goroutines while a
// writer adds, deletes and compacts: every answer must be whole, sorted,
// and hold only items with their own codes (run it with -race).
func TestStore_SearchDuringChanges(t *testing.T) {
	s := mustCreate(t, t.TempDir(), Options{Bits: 64, SegmentItems: 50})
	defer s.Close()
	codeOf := func(id uint64) []uint64 { return []uint64{id * 0x9e3779b97f4a7c15} }
	next := uint64(0) // ids are assigned in order and never reused
	add := func(n int) {
		items := make([]Item, n)
		for i := range items {
			items[i] = Item{Code: codeOf(next + uint64(i))}
		}
		ids, err := s.Add(items)
		if err != nil || ids[0] != next {
			t.Fatalf("add: ids %v, want from %d: %v", ids, next, err)
		}
		next += uint64(n)
	}
	add(200)
	stop := make(chan struct{})
	done := make(chan error, 4)
	for g := 0; g < 4; g++ {
		go func(g int) {
			rng := rand.New(rand.NewPCG(uint64(g), 0))
			for {
				select {
				case <-stop:
					done <- nil
					return
				default:
				}
				q := []uint64{rng.Uint64()}
				hits, err := s.Search(q, 10)
				if err != nil {
					done <- err
					return
				}
				if len(hits) != 10 {
					done <- fmt.Errorf("%d hits, want 10", len(hits))
					return
				}
				for i, h := range hits {
					if d := codes.Hamming(q, codeOf(h.ID)); d != h.Distance {
						done <- fmt.Errorf("hit %d: id %d at distance %d, its code is at %d", i, h.ID, h.Distance, d)
						return
					}
					if i > 0 && (h.Distance < hits[i-1].Distance || h.Distance == hits[i-1].Distance && h.ID <= hits[i-1].ID) {
						done <- fmt.Errorf("hits out of order: %v", hits)
						return
					}
				}
			}
		}(g)
	}
	rng := rand.New(rand.NewPCG(9, 9))
	for step := 0; step < 60; step++ {
		switch rng.IntN(3) {
		case 0:
			add(1 + rng.IntN(20))
		case 1:
			ids := s.IDs()
			if err := s.Delete(ids[rng.IntN(len(ids))]); err != nil {
				t.Fatal(err)
			}
		default:
			if err := s.Compact(); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(stop)
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// TestStore_FailedCommit makes bbolt's commit fail under an add: the add
// is refused, so is every later write, and reopening drops the blocks the
// add had appended.
func TestStore_FailedCommit(t *testing.T) {
	dir := t.TempDir()
	s := mustCreate(t, dir, Options{Bits: 16})
	if _, err := s.Add([]Item{{Code: []uint64{1}}, {Code: []uint64{2}}}); err != nil {
		t.Fatal(err)
	}
	s.db.Close() // every later transaction fails
	if _, err := s.Add([]Item{{Code: []uint64{3}}}); err == nil {
		t.Fatal("an add whose commit failed succeeded")
	}
	if err := s.Delete(0); err == nil || !strings.Contains(err.Error(), "reopen") {
		t.Fatalf("a write after a failed commit: %v", err)
	}
	s.Close()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if st := s.Stats(); st.Items != 2 || st.Repairs != 1 {
		t.Fatalf("after reopening: %+v, want 2 items and the failed add's blocks cut", st)
	}
}

// TestStore_NearDuplicateBatches sends batches of near-duplicate queries
// over uniform codes, where multi-index hashing wins: the store's engine
// must switch to it once its tables pay, answer as brute force does before
// and after, and drop the tables when items are added or deleted.
func TestStore_NearDuplicateBatches(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	s := mustCreate(t, t.TempDir(), Options{Bits: 64})
	defer s.Close()
	items := make([]Item, 20_000)
	for i := range items {
		items[i] = Item{Code: []uint64{rng.Uint64()}}
	}
	ids, err := s.Add(items)
	if err != nil {
		t.Fatal(err)
	}
	live := model{}
	for i, id := range ids {
		live[id] = items[i].Code
	}
	qs := &codes.Set{Bits: 64}
	for range 256 {
		qs.Data = append(qs.Data, items[rng.IntN(len(items))].Code[0]^1<<rng.IntN(64))
	}
	var want [][]Hit
	changed := func() {
		want = want[:0]
		for i := range qs.Len() {
			want = append(want, live.search(qs.At(i), 1, -1))
		}
	}
	changed()
	check := func(when string) {
		t.Helper()
		batch, err := s.SearchBatch(qs, 1)
		if err != nil {
			t.Fatal(err)
		}
		for i := range qs.Len() {
			if !slices.Equal(batch[i], want[i]) {
				t.Fatalf("%s, query %d: %v, brute force %v", when, i, batch[i], want[i])
			}
		}
	}
	built := false
	for call := 0; call < 100 && !built; call++ {
		check(fmt.Sprintf("batch %d", call))
		built = s.v.eng.Bytes() > s.v.idx.Bytes()
	}
	if !built {
		t.Fatal("100 batches of near-duplicates and no multi-index tables")
	}
	check("with the tables")
	if err := s.Delete(ids[0], ids[1]); err != nil {
		t.Fatal(err)
	}
	delete(live, ids[0])
	delete(live, ids[1])
	changed()
	check("after a delete")
	more, err := s.Add([]Item{{Code: qs.At(0)}})
	if err != nil {
		t.Fatal(err)
	}
	live[more[0]] = slices.Clone(qs.At(0))
	changed()
	check("after an add")
	if s.v.eng.Bytes() != s.v.idx.Bytes() {
		t.Errorf("after an add: engine %d bytes, index %d: stale tables kept", s.v.eng.Bytes(), s.v.idx.Bytes())
	}
}

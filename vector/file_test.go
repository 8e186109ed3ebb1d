package vector

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHNSW_SaveLoad(t *testing.T) {
	tests := []struct {
		metric Metric
		n, dim int
	}{
		{InnerProduct, 0, 8},
		{InnerProduct, 1, 8},
		{Cosine, 700, 20},
		{L2, 1500, 33},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%v/n%d", tc.metric, tc.n), func(t *testing.T) {
			db, qs := split(clustered(9, tc.n+20, tc.dim, 4, false), tc.n, tc.dim)
			h := BuildHNSW(db, tc.dim, HNSWConfig{Metric: tc.metric, M: 6, EfSearch: 40, Seed: 3})
			path := filepath.Join(t.TempDir(), "graph.lkv")
			if err := h.Save(path); err != nil {
				t.Fatal(err)
			}
			g, err := LoadHNSW(path)
			if err != nil {
				t.Fatal(err)
			}
			if g.Len() != h.Len() || g.Dim() != h.Dim() || g.Metric() != h.Metric() || g.M() != h.M() ||
				g.EfConstruction() != h.EfConstruction() || g.EfSearch != h.EfSearch {
				t.Fatalf("loaded %d/%d/%v/%d/%d/%d, saved %d/%d/%v/%d/%d/%d", g.Len(), g.Dim(), g.Metric(), g.M(),
					g.EfConstruction(), g.EfSearch, h.Len(), h.Dim(), h.Metric(), h.M(), h.EfConstruction(), h.EfSearch)
			}
			if a, b := fmt.Sprint(h.SearchBatch(qs, 5)), fmt.Sprint(g.SearchBatch(qs, 5)); a != b {
				t.Fatalf("loaded graph answers %s, saved one %s", b, a)
			}
			var a, b bytes.Buffer
			h.Encode(&a)
			g.Encode(&b)
			if !bytes.Equal(a.Bytes(), b.Bytes()) {
				t.Fatal("re-encoded file differs")
			}
			// A loaded graph takes more vectors as the original does.
			more := clustered(10, 50, tc.dim, 4, false)
			h.Add(more)
			g.Add(more)
			a.Reset()
			b.Reset()
			h.Encode(&a)
			g.Encode(&b)
			if !bytes.Equal(a.Bytes(), b.Bytes()) {
				t.Fatal("graphs differ after the same Add")
			}
		})
	}
}

// TestDecodeHNSW_Errors damages a real file and expects the exact error.
func TestDecodeHNSW_Errors(t *testing.T) {
	db := clustered(11, 300, 16, 3, true)
	h := BuildHNSW(db, 16, HNSWConfig{M: 4, Seed: 1})
	var buf bytes.Buffer
	if err := h.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	// resum recomputes the checksum so that a damage reaches the checks
	// after it.
	resum := func(b []byte) []byte {
		binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], castagnoli))
		return b
	}
	links0 := headerSize + 4*300*16 + 300
	tests := []struct {
		name   string
		damage func(b []byte) []byte
		want   error
	}{
		{"empty", func(b []byte) []byte { return nil }, ErrInvalid},
		{"short header", func(b []byte) []byte { return b[:40] }, ErrInvalid},
		{"bad magic", func(b []byte) []byte { b[0] = 'X'; return b }, ErrInvalid},
		{"codes file", func(b []byte) []byte { copy(b, "LKCODES\x00"); return b }, ErrInvalid},
		{"version", func(b []byte) []byte { b[8]++; return b }, ErrVersionMismatch},
		{"truncated body", func(b []byte) []byte { return b[:len(b)/2] }, ErrTruncated},
		{"no checksum", func(b []byte) []byte { return b[:len(b)-2] }, ErrTruncated},
		{"flipped vector bit", func(b []byte) []byte { b[headerSize+100] ^= 1; return b }, ErrChecksum},
		{"flipped link bit", func(b []byte) []byte { b[links0+9] ^= 4; return b }, ErrChecksum},
		{"flipped checksum", func(b []byte) []byte { b[len(b)-1] ^= 0x80; return b }, ErrChecksum},
		{"bad metric", func(b []byte) []byte { b[12] = 9; return resum(b) }, ErrCorrupt},
		{"huge count", func(b []byte) []byte { binary.LittleEndian.PutUint64(b[40:], 1<<40); return resum(b) }, ErrCorrupt},
		{"link out of range", func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[links0+4:], 5000)
			return resum(b)
		}, ErrCorrupt},
		{"list overfull", func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[links0:], 9)
			return resum(b)
		}, ErrCorrupt},
		{"entry off the top layer", func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[48:], 299)
			if b[headerSize+4*300*16+299] == b[52] {
				binary.LittleEndian.PutUint32(b[48:], 298)
			}
			return resum(b)
		}, ErrCorrupt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.damage(bytes.Clone(good))
			_, err := DecodeHNSW(bytes.NewReader(b))
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := DecodeHNSW(bytes.NewReader(good)); err != nil {
		t.Fatalf("undamaged file: %v", err)
	}
	// LoadHNSW checks the file's size against the header first, and
	// names the file.
	loads := []struct {
		name string
		b    []byte
		want error
	}{
		{"flipped", func() []byte { b := bytes.Clone(good); b[headerSize] ^= 1; return b }(), ErrChecksum},
		{"truncated", good[:len(good)-1], ErrTruncated},
		{"trailing bytes", append(bytes.Clone(good), 0), ErrCorrupt},
		{"version", func() []byte { b := bytes.Clone(good); b[8] = 7; return b }(), ErrVersionMismatch},
	}
	for _, tc := range loads {
		path := filepath.Join(t.TempDir(), "bad.lkv")
		if err := os.WriteFile(path, tc.b, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadHNSW(path); !errors.Is(err, tc.want) || !strings.Contains(err.Error(), "bad.lkv") {
			t.Errorf("%s: LoadHNSW: %v, want %v naming the file", tc.name, err, tc.want)
		}
	}
}

// TestHugePages checks the huge-page copies keep the data (they only act
// on slices of 32 MiB and more).
func TestHugePages(t *testing.T) {
	s := make([]uint32, 10<<20)
	for i := range s {
		s[i] = uint32(i)
	}
	c := hugeCopy(s)
	g := growHuge(s[:100], 10<<20)
	g = append(g, 7)
	if &c[0] == &s[0] || &g[0] == &s[0] || len(g) != 101 || cap(g) < 10<<20 || g[100] != 7 || s[100] != 100 {
		t.Fatal("huge copies alias or lose the data")
	}
	for i := range c {
		if c[i] != uint32(i) || i < 100 && g[i] != uint32(i) {
			t.Fatalf("element %d lost", i)
		}
	}
}

// FuzzDecodeHNSW checks that no input makes the decoder panic, and that
// what it accepts encodes back to the same bytes.
func FuzzDecodeHNSW(f *testing.F) {
	for _, n := range []int{0, 1, 40} {
		var buf bytes.Buffer
		BuildHNSW(clustered(12, n, 5, 2, false), 5, HNSWConfig{M: 3, Metric: L2}).Encode(&buf)
		f.Add(buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := DecodeHNSW(bytes.NewReader(b))
		if err != nil {
			return
		}
		h.Search(make([]float32, h.Dim()), 3)
		var out bytes.Buffer
		if err := h.Encode(&out); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), b[:min(len(b), out.Len())]) {
			t.Fatal("decoded file encodes differently")
		}
	})
}

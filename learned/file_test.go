package learned

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func smallHead() *Head {
	rng := rand.New(rand.NewPCG(7, 8))
	return &Head{Method: Gordo, Backbone: "test", Channels: 3, Dim: 2,
		Training: Info{Images: 12, Groups: 4, Source: "synthetic", Config: NewConfig(Gordo), Before: 0.5, After: 0.25, Seconds: 1.5},
		Vars:     []Var{randomVar(rng, gordoShift, 3), randomVar(rng, gordoProjection, 3, 2)}}
}

func encoded(t *testing.T, h *Head) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := h.Encode(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestHead_SaveLoad(t *testing.T) {
	h := smallHead()
	path := filepath.Join(t.TempDir(), "head.lkh")
	if err := h.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Method != h.Method || got.Backbone != h.Backbone || got.Channels != 3 || got.Dim != 2 ||
		!reflect.DeepEqual(got.Training, h.Training) || !reflect.DeepEqual(got.Vars, h.Vars) {
		t.Errorf("loaded %+v, saved %+v", got, h)
	}
	id1, _ := h.ID()
	id2, _ := got.ID()
	if id1 != id2 || len(id1) != 16 {
		t.Errorf("IDs %q and %q", id1, id2)
	}
	got.Vars[0].Data[0]++
	if id3, _ := got.ID(); id3 == id1 {
		t.Error("other weights, same ID")
	}
}

// TestDecode_Damaged damages a real file in each way the reader checks
// and expects the exact error.
func TestDecode_Damaged(t *testing.T) {
	good := encoded(t, smallHead())
	// recrc rewrites the checksum after a change, for damage the checksum
	// would otherwise catch first.
	recrc := func(b []byte) []byte {
		binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], castagnoli))
		return b
	}
	headerEnd := len(magic) + 8 + int(binary.LittleEndian.Uint32(good[len(magic)+4:]))
	tests := []struct {
		name   string
		damage func(b []byte) []byte
		want   error
	}{
		{"flipped weight bit", func(b []byte) []byte { b[headerEnd+5] ^= 1; return b }, ErrChecksum},
		{"flipped checksum bit", func(b []byte) []byte { b[len(b)-1] ^= 0x80; return b }, ErrChecksum},
		{"truncated", func(b []byte) []byte { return b[:len(b)-9] }, ErrChecksum},
		{"version bumped", func(b []byte) []byte { b[len(magic)]++; return b }, ErrVersion},
		{"wrong magic", func(b []byte) []byte { b[0] = 'X'; return b }, ErrMagic},
		{"empty", func(b []byte) []byte { return nil }, ErrMagic},
		{"bytes after the weights", func(b []byte) []byte {
			return recrc(append(b[:len(b)-4:len(b)-4], 0, 0, 0, 0, 0, 0, 0, 0))
		}, ErrCorrupt},
		{"header not JSON", func(b []byte) []byte { b[len(magic)+8] = '['; return recrc(b) }, ErrCorrupt},
		{"wrong variable shape", func(b []byte) []byte {
			return recrc(bytes.Replace(b, []byte(`"dims":[3,2]`), []byte(`"dims":[2,3]`), 1))
		}, ErrCorrupt},
	}
	for _, tc := range tests {
		b := tc.damage(append([]byte(nil), good...))
		if _, err := Decode(b); !errors.Is(err, tc.want) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.want)
		}
	}
	// Load names the file.
	path := filepath.Join(t.TempDir(), "bad.lkh")
	os.WriteFile(path, good[:len(good)-1], 0o644)
	if _, err := Load(path); !errors.Is(err, ErrChecksum) || !bytes.Contains([]byte(err.Error()), []byte(path)) {
		t.Errorf("Load of a damaged file: %v", err)
	}
}

// FuzzDecode: no input makes Decode panic, and whatever decodes encodes
// to bytes that decode and encode to themselves.
func FuzzDecode(f *testing.F) {
	var b bytes.Buffer
	smallHead().Encode(&b)
	f.Add(b.Bytes())
	f.Add([]byte(magic))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := Decode(data)
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := h.Encode(&out); err != nil {
			t.Fatalf("decoded head does not encode: %v", err)
		}
		h2, err := Decode(out.Bytes())
		if err != nil {
			t.Fatalf("re-encoded head does not decode: %v", err)
		}
		var again bytes.Buffer
		h2.Encode(&again)
		if !bytes.Equal(again.Bytes(), out.Bytes()) {
			t.Fatal("encoding is not stable")
		}
	})
}

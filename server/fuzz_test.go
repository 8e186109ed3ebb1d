package server

import (
	"bytes"
	"net/http/httptest"
	"testing"

	"github.com/lookalike/lookalike/album"
	"github.com/lookalike/lookalike/descriptor"
)

// FuzzSearchRequest sends arbitrary bodies and content types to the search
// route of a server over a two-image album and no backbone: every request
// gets an answer below 500 (a 4xx, or results for a valid id), never a
// panic. An upload that decoded would reach the missing backbone and
// panic; the fuzzer is unlikely to make one, and the test would fail
// loudly if it did.
func FuzzSearchRequest(f *testing.F) {
	a := &album.Album{Dim: 2, Settings: album.Settings{Pooling: descriptor.GeM},
		Entries: []album.Entry{{Path: "a.png", Vector: []float32{1, 0}}, {Path: "b.png", Vector: []float32{0, 1}}}}
	h := New(a, nil, 1, nil).Handler()
	f.Add("application/json", []byte(`{"id": 1, "k": 2}`))
	f.Add("application/json", []byte(`{"id": -1}`))
	f.Add("multipart/form-data; boundary=x", []byte("--x\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n\r\nPK\x03\x04\r\n--x--\r\n"))
	f.Add("text/plain", []byte("hello"))
	f.Fuzz(func(t *testing.T, ctype string, body []byte) {
		req := httptest.NewRequest("POST", "/v1/search?k=3", bytes.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q %q", rec.Code, ctype, body)
		}
		if rec.Code == 200 && !bytes.Contains(rec.Body.Bytes(), []byte(`"results"`)) {
			t.Fatalf("200 without results: %s", rec.Body)
		}
	})
}

package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lookalike/lookalike/store"
)

// codeStore makes a store of n 40-bit codes with labels and paths.
func codeStore(t *testing.T, n int) *store.Store {
	t.Helper()
	st, err := store.Create(t.TempDir(), store.Options{Bits: 40})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rng := rand.New(rand.NewPCG(1, 1))
	items := make([]store.Item, n)
	for i := range items {
		items[i] = store.Item{Code: []uint64{rng.Uint64() >> 24}, Meta: store.Meta{Label: int32(i % 3), Path: fmt.Sprintf("img/%d.png", i)}}
	}
	if _, err := st.Add(items); err != nil {
		t.Fatal(err)
	}
	return st
}

type codeResponse struct {
	Bits    int          `json:"bits"`
	Results []CodeResult `json:"results"`
	Error   string       `json:"error"`
}

func do(t *testing.T, ts *httptest.Server, method, path, ctype, key, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

func searchJSON(t *testing.T, ts *httptest.Server, body string) (int, codeResponse) {
	t.Helper()
	code, raw := do(t, ts, "POST", "/v1/search", "application/json", "", body)
	var r codeResponse
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return code, r
}

// TestStoreServer exercises the API over a code store: searches by id and
// by code against the store's own answer, item reads, adds and deletes
// with and without the key, and bad requests.
func TestStoreServer(t *testing.T) {
	st := codeStore(t, 300)
	s := NewStore(st, StoreConfig{APIKey: "secret", Info: map[string]any{"method": "test"}})
	defer s.Close()
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()

	code, r := searchJSON(t, ts, `{"id": 17, "k": 5}`)
	q, _ := st.Code(17)
	want, _ := st.Search(q, 5)
	if code != 200 || len(r.Results) != 5 || r.Bits != 40 {
		t.Fatalf("search by id: %d %+v", code, r)
	}
	for i, h := range r.Results {
		if h.ID != want[i].ID || h.Distance != want[i].Distance || h.Rank != i+1 ||
			h.Label == nil || *h.Label != int32(h.ID%3) || h.Path != fmt.Sprintf("img/%d.png", h.ID) {
			t.Fatalf("result %d: %+v, want %+v", i, h, want[i])
		}
	}
	if r.Results[0].ID != 17 || r.Results[0].Distance != 0 {
		t.Fatalf("the query item is not first: %+v", r.Results[0])
	}

	_, item := do(t, ts, "GET", "/v1/images/17", "", "", "")
	var it struct {
		Code  string `json:"code"`
		Label int32  `json:"label"`
		Path  string `json:"path"`
	}
	json.Unmarshal([]byte(item), &it)
	if it.Path != "img/17.png" || it.Label != 2 || len(it.Code) != 10 {
		t.Fatalf("item 17: %s", item)
	}
	code, r2 := searchJSON(t, ts, `{"code": "`+it.Code+`", "k": 5}`)
	if code != 200 || !reflect.DeepEqual(r2.Results, r.Results) {
		t.Fatalf("search by code: %d %+v, want %+v", code, r2.Results, r.Results)
	}

	tests := []struct {
		name, method, path, ctype, key, body string
		want                                 int
	}{
		{"unknown id", "POST", "/v1/search", "application/json", "", `{"id": 9999}`, 404},
		{"id and code", "POST", "/v1/search", "application/json", "", `{"id": 1, "code": "00"}`, 400},
		{"neither", "POST", "/v1/search", "application/json", "", `{"k": 3}`, 400},
		{"short code", "POST", "/v1/search", "application/json", "", `{"code": "0011"}`, 400},
		{"code not hex", "POST", "/v1/search", "application/json", "", `{"code": "zz00000000"}`, 400},
		{"bad k", "POST", "/v1/search?k=0", "application/json", "", `{"id": 1}`, 400},
		{"unknown field", "POST", "/v1/search", "application/json", "", `{"id": 1, "x": 2}`, 400},
		{"image without a model", "POST", "/v1/search", "multipart/form-data; boundary=x", "", "--x--", 415},
		{"item not a number", "GET", "/v1/images/abc", "", "", "", 404},
		{"deleted or unknown item", "GET", "/v1/images/12345", "", "", "", 404},
		{"add without key", "POST", "/v1/images", "application/json", "", `{"items": [{"code": "0000000001"}]}`, 401},
		{"add with a wrong key", "POST", "/v1/images", "application/json", "nope", `{"items": [{"code": "0000000001"}]}`, 401},
		{"add a bad code", "POST", "/v1/images", "application/json", "secret", `{"items": [{"code": "01"}]}`, 400},
		{"add nothing", "POST", "/v1/images", "application/json", "secret", `{"items": []}`, 400},
		{"add a negative label", "POST", "/v1/images", "application/json", "secret", `{"items": [{"code": "0000000001", "label": -2}]}`, 400},
		{"add images without a model", "POST", "/v1/images", "multipart/form-data; boundary=x", "secret", "--x--", 415},
		{"delete without key", "DELETE", "/v1/images/3", "", "", "", 401},
		{"delete unknown", "DELETE", "/v1/images/99999", "", "secret", "", 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if code, body := do(t, ts, tc.method, tc.path, tc.ctype, tc.key, tc.body); code != tc.want {
				t.Fatalf("got %d (%s), want %d", code, body, tc.want)
			}
		})
	}
	if st.Len() != 300 {
		t.Fatalf("refused requests changed the store: %d items", st.Len())
	}

	code, body := do(t, ts, "POST", "/v1/images", "application/json", "secret",
		`{"items": [{"code": "ffffffffff", "label": 7, "path": "new.png"}, {"code": "0000000000"}]}`)
	if code != 201 || !strings.Contains(body, `"id":300`) || !strings.Contains(body, `"id":301`) {
		t.Fatalf("add: %d %s", code, body)
	}
	code, r = searchJSON(t, ts, `{"code": "ffffffffff", "k": 1}`)
	if code != 200 || r.Results[0].ID != 300 || *r.Results[0].Label != 7 || r.Results[0].Path != "new.png" {
		t.Fatalf("the added item is not found: %d %+v", code, r)
	}
	if code, body := do(t, ts, "DELETE", "/v1/images/300", "", "secret", ""); code != 200 {
		t.Fatalf("delete: %d %s", code, body)
	}
	code, r = searchJSON(t, ts, `{"code": "ffffffffff", "k": 3}`)
	if code != 200 || slices.ContainsFunc(r.Results, func(h CodeResult) bool { return h.ID == 300 }) {
		t.Fatalf("a deleted item is still found: %+v", r.Results)
	}
	if code, _ := searchJSON(t, ts, `{"id": 300}`); code != 404 {
		t.Fatalf("search by a deleted id: %d", code)
	}

	_, info := do(t, ts, "GET", "/v1/index", "", "", "")
	if !strings.Contains(info, `"images":301`) || !strings.Contains(info, `"kind":"codes"`) || !strings.Contains(info, `"method":"test"`) {
		t.Fatalf("index info: %s", info)
	}
	if _, m := do(t, ts, "GET", "/metrics", "", "", ""); !strings.Contains(m, `lookalike_requests_total{route="search",code="200"}`) {
		t.Fatalf("metrics: %s", m)
	}
	if code, doc := do(t, ts, "GET", "/openapi.json", "", "", ""); code != 200 || !strings.Contains(doc, `"code"`) {
		t.Fatalf("openapi: %d", code)
	}
}

// TestStoreServer_Images adds and searches images through a stand-in
// model: the code is the image's width.
func TestStoreServer_Images(t *testing.T) {
	st := codeStore(t, 10)
	enc := func(img image.Image) ([]uint64, error) { return []uint64{uint64(img.Bounds().Dx())}, nil }
	s := NewStore(st, StoreConfig{APIKey: "k", Encode: enc})
	defer s.Close()
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()

	body, ctype := multipartBody(t, "image", `..\..\evil/x.png`, pngBytes(t, 1))
	code, raw := do(t, ts, "POST", "/v1/images", ctype, "k", body.String())
	if code != 201 || !strings.Contains(raw, `"path":"x.png"`) {
		t.Fatalf("add an image: %d %s", code, raw)
	}
	it, err := st.Get(10)
	if err != nil || it.Code[0] != 64 || len(it.Hash) != 64 || it.Label != -1 {
		t.Fatalf("the added image: %+v %v", it, err)
	}
	body, ctype = multipartBody(t, "image", "q.png", pngBytes(t, 2))
	code, raw = do(t, ts, "POST", "/v1/search?k=1", ctype, "", body.String())
	if code != 200 || !strings.Contains(raw, `"id":10,"distance":0`) {
		t.Fatalf("search by image: %d %s", code, raw)
	}
	body, ctype = multipartBody(t, "image", "q.txt", []byte("not an image"))
	if code, raw = do(t, ts, "POST", "/v1/search", ctype, "", body.String()); code != 415 {
		t.Fatalf("search by a non-image: %d %s", code, raw)
	}
}

// TestStoreServer_Concurrent searches from many goroutines at once, so
// that searches are batched, and checks every answer against the store.
func TestStoreServer_Concurrent(t *testing.T) {
	st := codeStore(t, 2000)
	s := NewStore(st, StoreConfig{Workers: 2})
	defer s.Close()
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for c := 0; c < 16; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				id, k := uint64((c*97+i*13)%2000), 1+(c+i)%12
				code, r := searchJSON(t, ts, fmt.Sprintf(`{"id": %d, "k": %d}`, id, k))
				q, _ := st.Code(id)
				want, _ := st.Search(q, k)
				if code != 200 || len(r.Results) != len(want) {
					errs <- fmt.Errorf("id %d k %d: %d, %d results", id, k, code, len(r.Results))
					return
				}
				for j, h := range r.Results {
					if h.ID != want[j].ID || h.Distance != want[j].Distance {
						errs <- fmt.Errorf("id %d k %d: result %d is %+v, want %+v", id, k, j, h, want[j])
						return
					}
				}
			}
		}(c)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	batches, queries := s.batch.stats()
	t.Logf("%d queries in %d batches", queries, batches)
}

// TestBatcher queues queries with different k before a worker starts:
// one SearchBatch answers them all, each with its own top k.
func TestBatcher(t *testing.T) {
	st := codeStore(t, 500)
	b := &batcher{st: st, queue: make(chan *query, maxBatch)}
	type got struct {
		i    int
		hits []store.Hit
		err  error
	}
	out := make(chan got, 10)
	for i := 0; i < 10; i++ {
		go func() {
			q, _ := st.Code(uint64(i * 7))
			hits, err := b.search(context.Background(), q, 1+i)
			out <- got{i, hits, err}
		}()
	}
	for len(b.queue) < 10 {
		time.Sleep(time.Millisecond)
	}
	b.wg.Add(1)
	go b.work()
	for range 10 {
		g := <-out
		q, _ := st.Code(uint64(g.i * 7))
		want, _ := st.Search(q, 1+g.i)
		if g.err != nil || !slices.Equal(g.hits, want) {
			t.Fatalf("query %d: %v %v, want %v", g.i, g.hits, g.err, want)
		}
	}
	b.close()
	if batches, queries := b.stats(); batches != 1 || queries != 10 {
		t.Fatalf("%d queries in %d batches, want 10 in 1", queries, batches)
	}
}

func TestCodeHex(t *testing.T) {
	tests := []struct {
		bits int
		code []uint64
		hex  string
	}{
		{8, []uint64{0xab}, "ab"},
		{12, []uint64{0xabc}, "bc0a"},
		{64, []uint64{0x0102030405060708}, "0807060504030201"},
		{72, []uint64{1, 0xff}, "0100000000000000ff"},
	}
	for _, tc := range tests {
		if got := encodeCode(tc.code, tc.bits); got != tc.hex {
			t.Errorf("encode %d bits %x: %s, want %s", tc.bits, tc.code, got, tc.hex)
		}
		got, err := decodeCode(tc.hex, tc.bits)
		if err != nil || !slices.Equal(got, tc.code) {
			t.Errorf("decode %s: %x %v", tc.hex, got, err)
		}
	}
	for _, bad := range []string{"bc1a", "bc", "bc0a00", "xyz0"} {
		if _, err := decodeCode(bad, 12); err == nil {
			t.Errorf("decode %q as 12 bits: no error", bad)
		}
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lookalike/lookalike/server"
	"github.com/lookalike/lookalike/store"
)

// TestRun_Store writes a store with 'index --store', searches it by id
// and by image, serves it with image adds through its recorded model, and
// refuses it once damaged, naming the file.
func TestRun_Store(t *testing.T) {
	dir := t.TempDir()
	photos := filepath.Join(dir, "photos")
	writeShapes(t, photos, 8)
	model := filepath.Join(dir, "lsh.lkm")
	if code, _, stderr := runCLI(t, "train", "--method", "lsh", "--images", photos, "--bits", "16", "--out", model); code != 0 {
		t.Fatalf("train: exit %d: %s", code, stderr)
	}
	idx := filepath.Join(dir, "st")
	if code, _, stderr := runCLI(t, "index", "--model", model, "--images", photos, "--index", idx, "--store"); code != 0 {
		t.Fatalf("index --store: exit %d: %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "index", "--model", model, "--images", photos, "--index", idx, "--store"); code != exitBadInput || !strings.Contains(stderr, "already holds a store") {
		t.Fatalf("index --store over a store: exit %d: %s", code, stderr)
	}
	var res struct {
		Method  string         `json:"method"`
		Results []searchResult `json:"results"`
	}
	code, out, stderr := runCLI(t, "search", "--index", idx, "--id", "3", "--k", "4", "--json")
	if err := json.Unmarshal([]byte(out), &res); code != 0 || err != nil || len(res.Results) != 4 || res.Method != "lsh" {
		t.Fatalf("search --id: exit %d, %q %s", code, out, stderr)
	}
	// Ties are broken by id, so item 3 is first among the items at
	// distance 0 from it, not necessarily first.
	query := ""
	for _, r := range res.Results {
		if r.ID == 3 && r.Distance == 0 && r.Path != "" && r.Label >= 0 {
			query = r.Path
		}
	}
	if query == "" || res.Results[0].Distance != 0 {
		t.Fatalf("search --id 3: %+v", res.Results)
	}
	code, out, stderr = runCLI(t, "search", "--index", idx, "--k", "2", "--json", query)
	if code != 0 || !strings.Contains(out, `"distance":0`) {
		t.Fatalf("search by image: exit %d, %s %s", code, out, stderr)
	}

	st, err := store.Open(idx)
	if err != nil {
		t.Fatal(err)
	}
	encode, method, err := storeEncoder(st)
	if err != nil || encode == nil || method != "lsh" {
		t.Fatalf("the store's model: %v %q", err, method)
	}
	s := server.NewStore(st, server.StoreConfig{APIKey: "k", Encode: encode})
	ts := httptest.NewServer(s.Handler())
	f, _ := os.Open(query)
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := encode(img)
	n := st.Len()
	body, _ := os.ReadFile(query)
	req := multipartRequest(t, ts.URL+"/v1/images", "image", filepath.Base(query), body)
	req.Header.Set("X-API-Key", "k")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("add an image: %v %v", resp.Status, err)
	}
	resp.Body.Close()
	it, err := st.Get(uint64(n))
	if err != nil || it.Code[0] != want[0] || it.Path != filepath.Base(query) {
		t.Fatalf("the added image: %+v %v", it, err)
	}
	ts.Close()
	s.Close()
	st.Close()

	seg := filepath.Join(idx, "000001.seg")
	raw, _ := os.ReadFile(seg)
	raw[len(raw)/2] ^= 0x10
	os.WriteFile(seg, raw, 0o644)
	if code, _, stderr := runCLI(t, "search", "--index", idx, "--id", "0"); code != exitBadInput || !strings.Contains(stderr, "000001.seg") {
		t.Fatalf("a damaged store: exit %d, %s", code, stderr)
	}
}

// TestRun_BenchServeStore builds a small synthetic store and drives it.
func TestRun_BenchServeStore(t *testing.T) {
	code, out, stderr := runCLI(t, "bench", "serve", "--n", "5000", "--bits", "32", "--clients", "4", "--duration", "300ms")
	if code != 0 || !strings.Contains(out, "requests/s") || !strings.Contains(out, "errors      0") {
		t.Fatalf("bench serve: exit %d: %s %s", code, out, stderr)
	}
}

func multipartRequest(t *testing.T, url, field, name string, data []byte) *http.Request {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	fw, err := mw.CreateFormFile(field, name)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	mw.Close()
	req, err := http.NewRequest("POST", url, &b)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return req
}

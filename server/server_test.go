package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lookalike/lookalike/album"
	"github.com/lookalike/lookalike/backbone"
	"github.com/lookalike/lookalike/descriptor"
	"github.com/lookalike/lookalike/imageio"
)

func pngBytes(t *testing.T, shade uint8) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for y := 0; y < 48; y++ {
		for x := 0; x < 64; x++ {
			img.Set(x, y, color.RGBA{shade, uint8(4 * x), uint8((x * y) % 256), 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func multipartBody(t *testing.T, field, name string, data []byte) (*bytes.Buffer, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	fw, err := mw.CreateFormFile(field, name)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	mw.Close()
	return &b, mw.FormDataContentType()
}

// TestServer indexes three images and exercises the API: search by
// upload and by id, the image route, the page, and bad requests.
func TestServer(t *testing.T) {
	bb, err := backbone.Default("", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	root := t.TempDir()
	for i, shade := range []uint8{0, 100, 200} {
		os.WriteFile(filepath.Join(root, string(rune('a'+i))+".png"), pngBytes(t, shade), 0o644)
	}
	x := &album.Extractor{Backbone: bb, Pooling: descriptor.GeM, Limits: imageio.DefaultLimits}
	a := &album.Album{Root: root, Settings: album.Settings{Backbone: bb.Config.Name, Pooling: descriptor.GeM}}
	if _, err := album.Update(context.Background(), a, x, nil, time.Hour, nil); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(New(a, x, 2, nil).Handler())
	defer ts.Close()

	type response struct {
		Results []Result `json:"results"`
		Error   string   `json:"error"`
	}
	post := func(body *bytes.Buffer, ctype, query string) (int, response) {
		t.Helper()
		resp, err := http.Post(ts.URL+"/v1/search"+query, ctype, body)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r response
		json.NewDecoder(resp.Body).Decode(&r)
		return resp.StatusCode, r
	}

	body, ctype := multipartBody(t, "image", "q.png", pngBytes(t, 100))
	code, r := post(body, ctype, "?k=2")
	if code != 200 || len(r.Results) != 2 || r.Results[0].Path != "b.png" || r.Results[0].Score < 0.999 {
		t.Fatalf("search by upload: %d %+v", code, r)
	}
	code, r = post(bytes.NewBufferString(`{"id": 2, "k": 1}`), "application/json", "")
	if code != 200 || len(r.Results) != 1 || r.Results[0].ID != 2 {
		t.Fatalf("search by id: %d %+v", code, r)
	}

	for _, tc := range []struct {
		name   string
		body   *bytes.Buffer
		ctype  string
		query  string
		status int
	}{
		{"malformed JSON", bytes.NewBufferString(`{"id": `), "application/json", "", 400},
		{"unknown id", bytes.NewBufferString(`{"id": 99}`), "application/json", "", 404},
		{"bad k", bytes.NewBufferString(`{"id": 0}`), "application/json", "?k=0", 400},
		{"no image field", func() *bytes.Buffer { b, _ := multipartBody(t, "other", "x.png", []byte("x")); return b }(), ctype, "", 400},
	} {
		if code, r := post(tc.body, tc.ctype, tc.query); code != tc.status || r.Error == "" {
			t.Errorf("%s: status %d (%q), want %d with an error", tc.name, code, r.Error, tc.status)
		}
	}
	// A zip renamed .png is refused as an unsupported media type.
	zipBody, zipType := multipartBody(t, "image", "photo.png", []byte("PK\x03\x04 not really a zip"))
	if code, r := post(zipBody, zipType, ""); code != http.StatusUnsupportedMediaType || r.Error == "" {
		t.Errorf("zip as png: %d %q", code, r.Error)
	}
	// An upload over the limit is refused without being stored.
	big, bigType := multipartBody(t, "image", "big.png", bytes.Repeat([]byte{0}, MaxUpload+2<<20))
	if code, _ := post(big, bigType, ""); code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized upload: %d", code)
	}

	get := func(path string) (int, string) {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	if code, body := get("/v1/images/0"); code != 200 || !strings.HasPrefix(body, "\x89PNG") {
		t.Errorf("image 0: %d", code)
	}
	for _, p := range []string{"/v1/images/3", "/v1/images/-1", "/v1/images/..%2F..%2Fetc%2Fpasswd"} {
		if code, _ := get(p); code != 404 {
			t.Errorf("%s: %d, want 404", p, code)
		}
	}
	// A stored path that leaves the folder (a crafted album file) is
	// refused.
	saved := a.Entries[1].Path
	a.Entries[1].Path = "../outside.png"
	if code, _ := get("/v1/images/1"); code != http.StatusForbidden {
		t.Errorf("escaping path: %d, want 403", code)
	}
	a.Entries[1].Path = saved
	if code, body := get("/"); code != 200 || !strings.Contains(body, "<title>Lookalike</title>") {
		t.Errorf("page: %d", code)
	}
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("healthz: %d %q", code, body)
	}
	if code, body := get("/v1/index"); code != 200 || !strings.Contains(body, `"images":3`) {
		t.Errorf("index info: %d %s", code, body)
	}
	// Two successful searches, one upload described, three 400s so far.
	code, metrics := get("/metrics")
	for _, want := range []string{
		`lookalike_requests_total{route="search",code="200"} 2`,
		`lookalike_requests_total{route="search",code="400"} 3`,
		`lookalike_requests_total{route="search",code="415"} 1`,
		"lookalike_described_images_total 1",
		"lookalike_index_images 3",
	} {
		if code != 200 || !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q:\n%s", want, metrics)
		}
	}
	if code, body := get("/openapi.json"); code != 200 || !strings.Contains(body, `"/v1/search"`) {
		t.Errorf("openapi: %d", code)
	}
}

// TestChanges adds images with the API key (and fails without it), finds
// an added image, checks it survives a reload of the saved album, and
// deletes it.
func TestChanges(t *testing.T) {
	bb, err := backbone.Default("", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "a.png"), pngBytes(t, 0), 0o644)
	x := &album.Extractor{Backbone: bb, Pooling: descriptor.GeM, Limits: imageio.DefaultLimits}
	a := &album.Album{Root: root, Settings: album.Settings{Backbone: bb.Config.Name, Pooling: descriptor.GeM}}
	if _, err := album.Update(context.Background(), a, x, nil, time.Hour, nil); err != nil {
		t.Fatal(err)
	}
	albumPath := filepath.Join(t.TempDir(), "album.lka")
	s := New(a, x, 2, nil)
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	add := func(key string, files ...[]byte) (int, string) {
		t.Helper()
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		for i, f := range files {
			fw, _ := mw.CreateFormFile("image", fmt.Sprintf("up%d.png", i))
			fw.Write(f)
		}
		mw.Close()
		req, _ := http.NewRequest("POST", ts.URL+"/v1/images", &b)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out bytes.Buffer
		out.ReadFrom(resp.Body)
		return resp.StatusCode, out.String()
	}
	if code, _ := add("secret", pngBytes(t, 90)); code != http.StatusForbidden {
		t.Errorf("changes without a configured key: %d, want 403", code)
	}
	saves := 0
	s.EnableChanges(Changes{APIKey: "secret", AlbumPath: albumPath, Saved: func(*album.Album) error { saves++; return nil }})
	if code, _ := add("", pngBytes(t, 90)); code != http.StatusUnauthorized {
		t.Errorf("no key: %d, want 401", code)
	}
	if code, _ := add("wrong", pngBytes(t, 90)); code != http.StatusUnauthorized {
		t.Errorf("wrong key: %d, want 401", code)
	}
	// A batch with a bad image adds nothing.
	if code, _ := add("secret", pngBytes(t, 90), []byte("not an image")); code != http.StatusUnsupportedMediaType || len(a.Entries) != 1 {
		t.Errorf("bad batch: %d, %d entries", code, len(a.Entries))
	}
	code, body := add("secret", pngBytes(t, 90), pngBytes(t, 180))
	if code != http.StatusCreated || !strings.Contains(body, `"id":1`) || !strings.Contains(body, `"id":2`) {
		t.Fatalf("add: %d %s", code, body)
	}
	// Acknowledged means saved: the album file holds the added images,
	// and their files are under the indexed folder.
	saved, err := album.Load(albumPath)
	if err != nil || len(saved.Entries) != 3 || !strings.HasPrefix(saved.Entries[1].Path, UploadDir+"/") {
		t.Fatalf("saved album: %v %+v", err, saved)
	}
	if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(saved.Entries[2].Path))); err != nil {
		t.Fatal(err)
	}
	upload, ctype := multipartBody(t, "image", "q.png", pngBytes(t, 180))
	resp, err := http.Post(ts.URL+"/v1/search?k=1", ctype, upload)
	if err != nil {
		t.Fatal(err)
	}
	var r struct{ Results []Result }
	json.NewDecoder(resp.Body).Decode(&r)
	resp.Body.Close()
	if len(r.Results) != 1 || r.Results[0].ID != 2 {
		t.Fatalf("the added image is not found first: %+v", r)
	}
	req, _ := http.NewRequest("DELETE", ts.URL+"/v1/images/2", nil)
	req.Header.Set("X-API-Key", "secret")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || len(a.Entries) != 2 || saves != 2 {
		t.Fatalf("delete: %d, %d entries, %d saves (want 2: the add, the delete)", resp.StatusCode, len(a.Entries), saves)
	}
	if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(saved.Entries[2].Path))); !os.IsNotExist(err) {
		t.Errorf("the deleted upload's file is still there: %v", err)
	}
}

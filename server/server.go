// Package server serves a photo index over HTTP: a versioned JSON API
// (search by uploaded image or by stored id, fetch a stored image, index
// information, health) and a web page to search from a browser, with its
// assets embedded in the binary.
package server

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"io/fs"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lookalike/lookalike/album"
	"github.com/lookalike/lookalike/imageio"
)

//go:embed static
var static embed.FS

// MaxUpload bounds an uploaded image's bytes.
const MaxUpload = 32 << 20

// Server answers requests over one photo index. Its handlers are safe for
// concurrent use.
type Server struct {
	album     *album.Album
	extractor *album.Extractor
	// slots bounds the images being described at once; a request that
	// finds none free is answered 429 rather than queued.
	slots chan struct{}
	mu    sync.Mutex // guards the album: searches cache on first use, changes write
	log   *log.Logger
	m     metrics

	changes Changes
}

// metrics are the counters /metrics exposes in Prometheus's text format.
type metrics struct {
	mu        sync.Mutex
	requests  map[string]int64 // by "route code"
	busy      int64            // searches refused with 429
	described int64            // uploads described
	seconds   float64          // time spent describing them
}

func (m *metrics) count(route string, code int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.requests == nil {
		m.requests = map[string]int64{}
	}
	m.requests[fmt.Sprintf("%s %d", route, code)]++
}

// New returns a server over a with x describing query images; inference
// runs at most workers images at once.
func New(a *album.Album, x *album.Extractor, workers int, logger *log.Logger) *Server {
	if workers < 1 {
		workers = 1
	}
	if logger == nil {
		logger = log.New(io.Discard, "", 0)
	}
	return &Server{album: a, extractor: x, slots: make(chan struct{}, workers), log: logger}
}

// Handler returns the HTTP handler with every route.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /metrics", s.metrics)
	mux.Handle("GET /v1/index", s.counted("index", s.info))
	mux.Handle("POST /v1/search", s.counted("search", s.search))
	mux.Handle("GET /v1/images/{id}", s.counted("image", s.image))
	mux.Handle("POST /v1/images", s.counted("add", s.addImages))
	mux.Handle("DELETE /v1/images/{id}", s.counted("delete", s.deleteImage))
	page, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	mux.Handle("GET /", http.FileServerFS(page))
	return mux
}

// apiError is the JSON body of every error.
type apiError struct {
	Error string `json:"error"`
}

// statusWriter remembers the status code a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// counted counts a route's responses by status code.
func (s *Server) counted(route string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h(sw, r)
		s.m.count(route, sw.code)
	})
}

// writeRequests writes the request counters in Prometheus's text
// exposition format; m.mu must be held.
func (m *metrics) writeRequests(w io.Writer) {
	fmt.Fprintln(w, "# HELP lookalike_requests_total HTTP requests by route and status code.")
	fmt.Fprintln(w, "# TYPE lookalike_requests_total counter")
	keys := make([]string, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		route, code, _ := strings.Cut(k, " ")
		fmt.Fprintf(w, "lookalike_requests_total{route=%q,code=%q} %d\n", route, code, m.requests[k])
	}
}

// metrics writes the counters in Prometheus's text exposition format.
func (s *Server) metrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	s.m.writeRequests(w)
	fmt.Fprintln(w, "# HELP lookalike_inference_busy_total Searches refused because every inference slot was busy.")
	fmt.Fprintln(w, "# TYPE lookalike_inference_busy_total counter")
	fmt.Fprintf(w, "lookalike_inference_busy_total %d\n", s.m.busy)
	fmt.Fprintln(w, "# HELP lookalike_described_images_total Uploaded images described.")
	fmt.Fprintln(w, "# TYPE lookalike_described_images_total counter")
	fmt.Fprintf(w, "lookalike_described_images_total %d\n", s.m.described)
	fmt.Fprintln(w, "# HELP lookalike_describe_seconds_total Time spent describing uploaded images.")
	fmt.Fprintln(w, "# TYPE lookalike_describe_seconds_total counter")
	fmt.Fprintf(w, "lookalike_describe_seconds_total %g\n", s.m.seconds)
	fmt.Fprintln(w, "# HELP lookalike_index_images Images in the served index.")
	fmt.Fprintln(w, "# TYPE lookalike_index_images gauge")
	fmt.Fprintf(w, "lookalike_index_images %d\n", len(s.album.Entries))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, apiError{fmt.Sprintf(format, args...)})
}

func (s *Server) info(w http.ResponseWriter, _ *http.Request) {
	a := s.album
	writeJSON(w, http.StatusOK, map[string]any{
		"root": a.Root, "images": len(a.Entries), "backbone": a.Settings.Backbone,
		"pooling": a.Settings.Pooling, "sizes": a.Settings.Sizes, "whiten": a.Settings.Whiten,
		"hash": a.Settings.Hash, "bits": a.Settings.Bits,
	})
}

// Result is one hit as the API returns it.
type Result struct {
	Rank     int     `json:"rank"`
	ID       int     `json:"id"`
	Path     string  `json:"path"`
	Score    float32 `json:"score"`
	Distance *int    `json:"distance,omitempty"`
}

// queryK reads the query parameter k (default 10, at most 1000); on a bad
// value it answers 400 and returns false.
func queryK(w http.ResponseWriter, r *http.Request) (int, bool) {
	v := r.URL.Query().Get("k")
	if v == "" {
		return 10, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1000 {
		fail(w, http.StatusBadRequest, "k must be an integer in 1..1000, got %q", v)
		return 0, false
	}
	return n, true
}

// search answers POST /v1/search: a multipart form with an "image" file,
// or a JSON body {"id": N, "k": K}; the query parameter k (default 10)
// sets the number of results. The body is bounded before anything parses
// it.
func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	k, ok := queryK(w, r)
	if !ok {
		return
	}
	var q []float32
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var body struct {
			ID *int `json:"id"`
			K  int  `json:"k"`
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
		dec.DisallowUnknownFields()
		err := dec.Decode(&body)
		if timedOut(err) {
			fail(w, http.StatusRequestTimeout, "request too slow: the body did not arrive within the server's read timeout")
			return
		}
		if err != nil || body.ID == nil {
			fail(w, http.StatusBadRequest, "want a JSON body {\"id\": N, \"k\": K}: %v", err)
			return
		}
		if body.K > 0 {
			k = min(body.K, 1000)
		}
		s.mu.Lock()
		n := len(s.album.Entries)
		if *body.ID >= 0 && *body.ID < n {
			q = s.album.Entries[*body.ID].Vector
		}
		s.mu.Unlock()
		if q == nil {
			fail(w, http.StatusNotFound, "no image %d (the index holds %d)", *body.ID, n)
			return
		}
	} else {
		img, status, err := upload(w, r)
		if err != nil {
			fail(w, status, "%v", err)
			return
		}
		select {
		case s.slots <- struct{}{}:
		default:
			s.m.mu.Lock()
			s.m.busy++
			s.m.mu.Unlock()
			w.Header().Set("Retry-After", "1")
			fail(w, http.StatusTooManyRequests, "all %d inference slots are busy", cap(s.slots))
			return
		}
		start := time.Now()
		q, err = s.extractor.Image(img)
		<-s.slots
		if err != nil {
			fail(w, http.StatusInternalServerError, "describe the image: %v", err)
			return
		}
		took := time.Since(start)
		s.m.mu.Lock()
		s.m.described++
		s.m.seconds += took.Seconds()
		s.m.mu.Unlock()
		s.log.Printf("described an upload in %v", took.Round(time.Millisecond))
	}
	s.mu.Lock()
	hits, err := s.album.Search(q, k)
	if err != nil {
		s.mu.Unlock()
		fail(w, http.StatusInternalServerError, "%v", err)
		return
	}
	out := make([]Result, len(hits))
	for i, h := range hits {
		out[i] = Result{Rank: i + 1, ID: h.ID, Path: h.Entry.Path, Score: h.Score}
		if s.album.Hasher != nil {
			d := h.Distance
			out[i].Distance = &d
		}
	}
	// The model and method that answered, for clients to show.
	resp := map[string]any{"backbone": s.album.Settings.Backbone, "pooling": s.album.Settings.Pooling, "results": out}
	if s.album.Hasher != nil {
		resp["hash"], resp["bits"] = s.album.Settings.Hash, s.album.Settings.Bits
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, resp)
}

// upload reads and decodes the "image" file of a multipart request.
func upload(w http.ResponseWriter, r *http.Request) (image.Image, int, error) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxUpload+1<<20)
	f, _, err := r.FormFile("image")
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("upload over %d bytes", MaxUpload)
		}
		if timedOut(err) {
			return nil, http.StatusRequestTimeout, errors.New("upload too slow: the request did not arrive within the server's read timeout")
		}
		return nil, http.StatusBadRequest, fmt.Errorf("want a multipart form with an image file in field \"image\": %v", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxUpload+1))
	if err != nil {
		return nil, http.StatusBadRequest, err
	}
	if len(data) > MaxUpload {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("image over %d bytes", MaxUpload)
	}
	img, err := imageio.DecodeReader(bytes.NewReader(data), imageio.DefaultLimits)
	if errors.Is(err, imageio.ErrTooLarge) {
		return nil, http.StatusRequestEntityTooLarge, err
	}
	if err != nil {
		return nil, http.StatusUnsupportedMediaType, err
	}
	return img, 0, nil
}

// timedOut reports whether err comes from a connection's read deadline, as
// when a client sends its body slower than the server's read timeout.
func timedOut(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// image serves stored image id: its file under the album's root, which a
// stored path cannot leave.
func (s *Server) image(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || id < 0 || id >= len(s.album.Entries) {
		s.mu.Unlock()
		fail(w, http.StatusNotFound, "no image %q", r.PathValue("id"))
		return
	}
	stored := s.album.Entries[id].Path
	s.mu.Unlock()
	rel := filepath.FromSlash(stored)
	if !filepath.IsLocal(rel) {
		fail(w, http.StatusForbidden, "stored path %q leaves the indexed folder", stored)
		return
	}
	root, err := os.OpenRoot(s.album.Root)
	if err != nil {
		fail(w, http.StatusInternalServerError, "open the indexed folder: %v", err)
		return
	}
	defer root.Close()
	f, err := root.Open(rel)
	if err != nil {
		fail(w, http.StatusNotFound, "image %d: %v", id, err)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		fail(w, http.StatusInternalServerError, "%v", err)
		return
	}
	http.ServeContent(w, r, filepath.Base(rel), st.ModTime(), f)
}

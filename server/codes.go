package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"log"
	"net/http"
	"path"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/lookalike/lookalike/imageio"
	"github.com/lookalike/lookalike/store"
)

// StoreConfig configures a StoreServer.
type StoreConfig struct {
	// APIKey must come with adds and deletes, as for a photo index; empty
	// refuses them (403).
	APIKey string
	// Encode turns an image into a code with the model that encoded the
	// store; nil when the store records none: searches and adds then take
	// ids and codes only.
	Encode func(image.Image) ([]uint64, error)
	// Info is added to GET /v1/index (the hashing method, the model file).
	Info map[string]any
	// Workers is how many batched searches run at once, each scanning the
	// codes on one core (default: half the cores, at least one). The other
	// cores parse requests and queue queries meanwhile: a worker that
	// left no core to them would find one query waiting each time it
	// comes free, and batching would gain nothing.
	Workers int
	// Encoders bounds the images encoded at once (default GOMAXPROCS); a
	// search or add that finds them all busy gets 429.
	Encoders int
	// MaxBatch bounds the items of one add request (default 1000).
	MaxBatch int
	// Logger receives a line per change (default: none).
	Logger *log.Logger
}

// StoreServer answers requests over a store of binary codes: search by
// stored id, by code or (with a model) by image, and add and delete
// items. Its handlers are safe for concurrent use.
type StoreServer struct {
	st    *store.Store
	c     StoreConfig
	batch *batcher
	// encoding bounds the uploads being encoded at once.
	encoding   chan struct{}
	m          metrics
	compacting atomic.Bool
}

// NewStore returns a server over st. Close stops its search workers.
func NewStore(st *store.Store, c StoreConfig) *StoreServer {
	if c.Workers < 1 {
		c.Workers = max(1, runtime.GOMAXPROCS(0)/2)
	}
	if c.Encoders < 1 {
		c.Encoders = runtime.GOMAXPROCS(0)
	}
	if c.MaxBatch < 1 {
		c.MaxBatch = 1000
	}
	if c.Logger == nil {
		c.Logger = log.New(io.Discard, "", 0)
	}
	return &StoreServer{st: st, c: c, batch: newBatcher(st, c.Workers), encoding: make(chan struct{}, c.Encoders)}
}

// Close stops the search workers once the searches in flight are
// answered; call it after the HTTP server has shut down.
func (s *StoreServer) Close() { s.batch.close() }

// Handler returns the HTTP handler with every route.
func (s *StoreServer) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /metrics", s.metrics)
	mux.Handle("GET /v1/index", s.counted("index", s.info))
	mux.Handle("POST /v1/search", s.counted("search", s.search))
	mux.Handle("GET /v1/images/{id}", s.counted("item", s.item))
	mux.Handle("POST /v1/images", s.counted("add", s.add))
	mux.Handle("DELETE /v1/images/{id}", s.counted("delete", s.delete))
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, static, "static/openapi.json")
	})
	return mux
}

func (s *StoreServer) counted(route string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h(sw, r)
		s.m.count(route, sw.code)
	})
}

func (s *StoreServer) metrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	s.m.mu.Lock()
	s.m.writeRequests(w)
	s.m.mu.Unlock()
	st := s.st.Stats()
	batches, queries := s.batch.stats()
	for _, g := range []struct {
		name, kind, help string
		v                int64
	}{
		{"lookalike_index_images", "gauge", "Items in the served store.", int64(st.Items)},
		{"lookalike_index_tombstones", "gauge", "Deleted items not yet compacted away.", int64(st.Tombstones)},
		{"lookalike_search_batches_total", "counter", "Batched index scans.", batches},
		{"lookalike_search_batched_queries_total", "counter", "Queries those scans answered.", queries},
	} {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %d\n", g.name, g.help, g.name, g.kind, g.name, g.v)
	}
}

func (s *StoreServer) info(w http.ResponseWriter, _ *http.Request) {
	st := s.st.Stats()
	out := map[string]any{"kind": "codes", "images": st.Items, "bits": st.Bits, "tombstones": st.Tombstones,
		"segments": st.Segments, "dim": st.Dim, "image_search": s.c.Encode != nil}
	for k, v := range s.c.Info {
		out[k] = v
	}
	writeJSON(w, http.StatusOK, out)
}

// CodeResult is one hit of a code store search.
type CodeResult struct {
	Rank     int    `json:"rank"`
	ID       uint64 `json:"id"`
	Distance int    `json:"distance"`
	Label    *int32 `json:"label,omitempty"`
	Path     string `json:"path,omitempty"`
}

// search answers POST /v1/search: JSON {"id": N} or {"code": "HEX"}, or a
// multipart form with an "image" file when the store has a model; k comes
// from the query parameter or the JSON body (default 10, at most 1000).
func (s *StoreServer) search(w http.ResponseWriter, r *http.Request) {
	k, ok := queryK(w, r)
	if !ok {
		return
	}
	var q []uint64
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var body struct {
			ID   *uint64 `json:"id"`
			Code *string `json:"code"`
			K    int     `json:"k"`
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
		dec.DisallowUnknownFields()
		err := dec.Decode(&body)
		if timedOut(err) {
			fail(w, http.StatusRequestTimeout, "request too slow: the body did not arrive within the server's read timeout")
			return
		}
		if err != nil || (body.ID == nil) == (body.Code == nil) {
			fail(w, http.StatusBadRequest, "want a JSON body {\"id\": N, \"k\": K} or {\"code\": \"HEX\", \"k\": K}: %v", err)
			return
		}
		if body.K > 0 {
			k = min(body.K, 1000)
		}
		if body.ID != nil {
			if q, err = s.st.Code(*body.ID); err != nil {
				fail(w, http.StatusNotFound, "no item %d", *body.ID)
				return
			}
		} else if q, err = decodeCode(*body.Code, s.st.Bits()); err != nil {
			fail(w, http.StatusBadRequest, "%v", err)
			return
		}
	} else {
		if s.c.Encode == nil {
			fail(w, http.StatusUnsupportedMediaType, "this store records no model: search by JSON id or code")
			return
		}
		img, status, err := upload(w, r)
		if err != nil {
			fail(w, status, "%v", err)
			return
		}
		if q, status, err = s.encode(w, img); err != nil {
			fail(w, status, "%v", err)
			return
		}
	}
	hits, err := s.batch.search(r.Context(), q, k)
	if err != nil {
		fail(w, http.StatusServiceUnavailable, "search: %v", err)
		return
	}
	ids := make([]uint64, len(hits))
	for i, h := range hits {
		ids[i] = h.ID
	}
	labels, paths, err := s.st.Labels(ids)
	if err != nil {
		fail(w, http.StatusInternalServerError, "%v", err)
		return
	}
	out := make([]CodeResult, len(hits))
	for i, h := range hits {
		out[i] = CodeResult{Rank: i + 1, ID: h.ID, Distance: h.Distance, Path: paths[i]}
		if labels[i] >= 0 {
			out[i].Label = &labels[i]
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"bits": s.st.Bits(), "results": out})
}

// encode runs the model on one image, refusing with 429 when every slot
// is busy rather than queueing.
func (s *StoreServer) encode(w http.ResponseWriter, img image.Image) ([]uint64, int, error) {
	select {
	case s.encoding <- struct{}{}:
	default:
		w.Header().Set("Retry-After", "1")
		return nil, http.StatusTooManyRequests, fmt.Errorf("all %d inference slots are busy", cap(s.encoding))
	}
	defer func() { <-s.encoding }()
	code, err := s.c.Encode(img)
	if err != nil {
		return nil, http.StatusInternalServerError, fmt.Errorf("encode the image: %v", err)
	}
	return code, 0, nil
}

func (s *StoreServer) parseID(w http.ResponseWriter, r *http.Request) (uint64, bool) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		fail(w, http.StatusNotFound, "no item %q", r.PathValue("id"))
		return 0, false
	}
	return id, true
}

// item answers GET /v1/images/{id} with the item's code and metadata.
func (s *StoreServer) item(w http.ResponseWriter, r *http.Request) {
	id, ok := s.parseID(w, r)
	if !ok {
		return
	}
	it, err := s.st.Get(id)
	if errors.Is(err, store.ErrNotFound) {
		fail(w, http.StatusNotFound, "no item %d", id)
		return
	} else if err != nil {
		fail(w, http.StatusInternalServerError, "%v", err)
		return
	}
	out := map[string]any{"id": id, "code": encodeCode(it.Code, s.st.Bits()), "path": it.Path, "hash": it.Hash}
	if it.Label >= 0 {
		out["label"] = it.Label
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *StoreServer) authorized(w http.ResponseWriter, r *http.Request) bool {
	if s.c.APIKey == "" {
		fail(w, http.StatusForbidden, "changes are disabled: start the server with an API key (LOOKALIKE_API_KEY)")
		return false
	}
	return keyMatches(w, r, s.c.APIKey)
}

// newItem is one item of a JSON add.
type newItem struct {
	Code  string `json:"code"`
	Label *int32 `json:"label"`
	Path  string `json:"path"`
	Hash  string `json:"hash"`
}

// add answers POST /v1/images: JSON {"items": [{"code": "HEX", "label":
// L, "path": P, "hash": H}]}, or, with a model, the images of the
// multipart fields "image" (encoded; the path is the file's base name,
// the hash its SHA-256). The store commits them before the answer; a
// request with any bad item adds none.
func (s *StoreServer) add(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	var items []store.Item
	var status int
	var err error
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		items, status, err = s.jsonItems(w, r)
	} else {
		items, status, err = s.imageItems(w, r)
	}
	if err != nil {
		fail(w, status, "%v", err)
		return
	}
	ids, err := s.st.Add(items)
	if err != nil {
		fail(w, http.StatusInsufficientStorage, "store the items: %v", err)
		return
	}
	type added struct {
		ID   uint64 `json:"id"`
		Path string `json:"path,omitempty"`
	}
	out := make([]added, len(ids))
	for i, id := range ids {
		out[i] = added{ID: id, Path: items[i].Path}
	}
	s.c.Logger.Printf("added %d items", len(ids))
	writeJSON(w, http.StatusCreated, map[string]any{"added": out})
}

func (s *StoreServer) jsonItems(w http.ResponseWriter, r *http.Request) ([]store.Item, int, error) {
	var body struct {
		Items []newItem `json:"items"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, int64(s.c.MaxBatch)*(1<<13)+1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("body over %d bytes", tooBig.Limit)
		}
		return nil, http.StatusBadRequest, fmt.Errorf("want a JSON body {\"items\": [{\"code\": \"HEX\", \"label\": L, \"path\": P}]}: %v", err)
	}
	if len(body.Items) == 0 || len(body.Items) > s.c.MaxBatch {
		return nil, http.StatusBadRequest, fmt.Errorf("want 1 to %d items, got %d", s.c.MaxBatch, len(body.Items))
	}
	items := make([]store.Item, len(body.Items))
	for i, it := range body.Items {
		code, err := decodeCode(it.Code, s.st.Bits())
		if err != nil {
			return nil, http.StatusBadRequest, fmt.Errorf("item %d: %v", i, err)
		}
		if len(it.Path) > 1024 || len(it.Hash) > 1024 {
			return nil, http.StatusBadRequest, fmt.Errorf("item %d: path or hash over 1024 bytes", i)
		}
		items[i] = store.Item{Code: code, Meta: store.Meta{Label: -1, Path: it.Path, Hash: it.Hash}}
		if it.Label != nil {
			if *it.Label < 0 {
				return nil, http.StatusBadRequest, fmt.Errorf("item %d: label %d is negative", i, *it.Label)
			}
			items[i].Label = *it.Label
		}
	}
	return items, 0, nil
}

func (s *StoreServer) imageItems(w http.ResponseWriter, r *http.Request) ([]store.Item, int, error) {
	if s.c.Encode == nil {
		return nil, http.StatusUnsupportedMediaType, errors.New("this store records no model: add codes as JSON {\"items\": [{\"code\": \"HEX\"}]}")
	}
	maxImages := min(s.c.MaxBatch, 64)
	r.Body = http.MaxBytesReader(w, r.Body, int64(maxImages)*(MaxUpload+1<<20))
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("want JSON items or a multipart form with image files in fields \"image\": %v", err)
	}
	var items []store.Item
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("read the form: %v", err)
			}
			return nil, http.StatusBadRequest, fmt.Errorf("read the form: %v", err)
		}
		if part.FormName() != "image" {
			continue
		}
		if len(items) == maxImages {
			return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("more than %d images in one request", maxImages)
		}
		data, err := readPart(part)
		if err != nil {
			return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("%s: %v", part.FileName(), err)
		}
		img, err := imageio.DecodeReader(bytes.NewReader(data), imageio.DefaultLimits)
		if err != nil {
			status := http.StatusUnsupportedMediaType
			if errors.Is(err, imageio.ErrTooLarge) {
				status = http.StatusRequestEntityTooLarge
			}
			return nil, status, fmt.Errorf("%s: %v", part.FileName(), err)
		}
		code, status, err := s.encode(w, img)
		if err != nil {
			return nil, status, fmt.Errorf("%s: %v", part.FileName(), err)
		}
		sum := sha256.Sum256(data)
		// The client's file name is a label, never a path on this machine.
		name := path.Base(strings.ReplaceAll(part.FileName(), "\\", "/"))
		if len(name) > 255 || name == "." || name == "/" {
			name = ""
		}
		items = append(items, store.Item{Code: code, Meta: store.Meta{Label: -1, Path: name, Hash: hex.EncodeToString(sum[:])}})
	}
	if len(items) == 0 {
		return nil, http.StatusBadRequest, errors.New("no file in field \"image\"")
	}
	return items, 0, nil
}

// delete answers DELETE /v1/images/{id}: the item stops being found at
// once, and ids do not move. Once the deleted items are an eighth of the
// store (and at least 1024), a background compaction rewrites the
// segments without them.
func (s *StoreServer) delete(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	id, ok := s.parseID(w, r)
	if !ok {
		return
	}
	if err := s.st.Delete(id); errors.Is(err, store.ErrNotFound) {
		fail(w, http.StatusNotFound, "no item %d", id)
		return
	} else if err != nil {
		fail(w, http.StatusInsufficientStorage, "delete: %v", err)
		return
	}
	s.c.Logger.Printf("deleted item %d", id)
	if st := s.st.Stats(); st.Tombstones >= max(1024, st.Items/8) && s.compacting.CompareAndSwap(false, true) {
		go func() {
			defer s.compacting.Store(false)
			start := time.Now()
			if err := s.st.Compact(); err != nil {
				s.c.Logger.Printf("compaction failed: %v", err)
				return
			}
			s.c.Logger.Printf("compacted %d deleted items away in %v", st.Tombstones, time.Since(start).Round(time.Millisecond))
		}()
	}
	writeJSON(w, http.StatusOK, map[string]any{"deleted": map[string]any{"id": id}})
}

// encodeCode writes a code as hex: byte i holds bits 8i..8i+7, least
// significant first, so the string has bits/4 digits rounded up to bytes.
func encodeCode(code []uint64, bits int) string {
	b := make([]byte, (bits+7)/8)
	for i := range b {
		b[i] = byte(code[i/8] >> (8 * (i % 8)))
	}
	return hex.EncodeToString(b)
}

// decodeCode reads a code written by encodeCode, refusing any other length
// and bits set past the code's.
func decodeCode(s string, bits int) ([]uint64, error) {
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("code %q is not hex: %v", s, err)
	}
	if len(b) != (bits+7)/8 {
		return nil, fmt.Errorf("code has %d bytes, this store's %d-bit codes have %d", len(b), bits, (bits+7)/8)
	}
	if r := bits % 8; r != 0 && b[len(b)-1]>>r != 0 {
		return nil, fmt.Errorf("code has bits set past bit %d", bits)
	}
	code := make([]uint64, (bits+63)/64)
	for i, x := range b {
		code[i/8] |= uint64(x) << (8 * (i % 8))
	}
	return code, nil
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/lookalike/lookalike/album"
	"github.com/lookalike/lookalike/codes"
	"github.com/lookalike/lookalike/server"
	"github.com/lookalike/lookalike/store"
)

type serveOptions struct {
	backboneOptions
	Index   string
	Addr    string
	Workers int
	APIKey  string
}

func init() {
	register(&command{
		Name:  "serve",
		Usage: "serve --index DIR [--addr 127.0.0.1:8080] [--workers N]",
		Short: "Serve a photo index or a code store over HTTP: JSON API and a web page",
		Long: `
Serve answers HTTP requests over a photo index (made by 'lookalike index
--index DIR PHOTODIR'):

	GET  /                  a web page: drop or choose an image, see the results
	                        with thumbnails and scores, click one to search with it
	POST /v1/search?k=K     multipart form with the image in field "image", or
	                        JSON {"id": N, "k": K}; {"results": [{"rank", "id",
	                        "path", "score"}]}
	GET  /v1/images/ID      a stored image
	POST /v1/images         add the images of multipart fields "image" (API key)
	DELETE /v1/images/ID    remove an image from the index (API key)
	GET  /v1/index          the index: folder, size, backbone, pooling
	GET  /healthz           "ok"
	GET  /metrics           Prometheus metrics
	GET  /openapi.json      the OpenAPI document of all this

Over a code store (made by 'lookalike index --model MODEL --store --index
DIR') the same routes answer without the page: POST /v1/search takes JSON
{"id": N} (a stored id) or {"code": "HEX"}, or an image when the store
records its model, and returns {"bits", "results": [{"rank", "id",
"distance", "label", "path"}]} ranked by Hamming distance, ties by id;
concurrent searches are batched into one scan of the codes (on half the
cores; the others parse requests meanwhile). GET /v1/images/ID returns the item (code, label, path,
hash); POST /v1/images adds JSON {"items": [{"code": "HEX", "label": L,
"path": P}]} or, with a model, image files; DELETE /v1/images/ID deletes
(ids never move; the deleted are compacted away in the background once
they are an eighth of the store). Every add and delete is committed to
disk before the answer.

Adding and deleting need the API key (--api-key, or the environment
variable LOOKALIKE_API_KEY) in an "Authorization: Bearer KEY" or "X-API-Key"
header; without a key configured they are refused. Added images are stored
under the indexed folder's uploads/ (named by their content's hash) and the
index is saved before the answer, so an acknowledged image survives a
crash. Uploads are limited to 32 MiB and 100 megapixels; at most --workers images
are described at once, and a search that finds them all busy gets 429 with
Retry-After. It binds 127.0.0.1 by default; interrupted, it stops accepting
and finishes the requests in flight.

Example:

	lookalike serve --index photos.idx --addr 127.0.0.1:8080
	lookalike serve --index fmnist.store --api-key "$KEY"`,
		Flags: func(fs *flag.FlagSet) runFunc {
			var o serveOptions
			fs.StringVar(&o.Index, "index", "", "photo index or code store directory (required)")
			fs.StringVar(&o.Addr, "addr", "127.0.0.1:8080", "address to listen on")
			fs.IntVar(&o.Workers, "workers", runtime.NumCPU(), "images described (or, for a code store, encoded) at once")
			fs.StringVar(&o.APIKey, "api-key", os.Getenv("LOOKALIKE_API_KEY"), "key that adding and deleting images need (default $LOOKALIKE_API_KEY; empty: no changes)")
			o.backboneOptions.AddFlags(fs)
			return func(ctx context.Context, args []string, out, errw io.Writer) error {
				return runServe(ctx, o, args, errw)
			}
		},
	})
}

func runServe(ctx context.Context, o serveOptions, args []string, errw io.Writer) error {
	if len(args) > 0 {
		return badInput("unexpected arguments %q", args)
	}
	if o.Index == "" {
		return badInput("--index is required")
	}
	if store.Exists(o.Index) {
		return serveStore(ctx, o, errw)
	}
	if kind, err := indexKind(o.Index); err != nil {
		return inputError{fmt.Errorf("%s is not an index directory: %w", o.Index, err)}
	} else if kind != photosKind {
		return badInput("%s is a %s index; serve works on photo indexes (lookalike index --index DIR PHOTODIR) and code stores (lookalike index --model MODEL --store --index DIR)", o.Index, kind)
	}
	a, err := album.Load(filepath.Join(o.Index, albumFile))
	if err != nil {
		return inputError{err}
	}
	bb, err := o.open()
	if err != nil {
		return err
	}
	defer bb.Close()
	x := &album.Extractor{Backbone: bb, Pooling: a.Settings.Pooling, Sizes: a.Settings.Sizes}
	if x.Head, err = photoHead(o.Index, a); err != nil {
		return err
	}
	logger := log.New(errw, "serve: ", log.LstdFlags)
	s := server.New(a, x, o.Workers, logger)
	if o.APIKey != "" {
		s.EnableChanges(server.Changes{APIKey: o.APIKey, AlbumPath: filepath.Join(o.Index, albumFile),
			Saved: func(a *album.Album) error { return updateMetaCount(o.Index, len(a.Entries)) }})
	}
	srv := newHTTPServer(s.Handler(), defaultServeTimeouts)
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return inputError{err}
	}
	logger.Printf("serving %d images of %s on http://%s/", len(a.Entries), a.Root, ln.Addr())
	return serveUntilDone(ctx, srv, ln, logger)
}

// serveStore serves a code store until ctx ends.
func serveStore(ctx context.Context, o serveOptions, errw io.Writer) error {
	logger := log.New(errw, "serve: ", log.LstdFlags)
	st, err := openCodeStore(o.Index)
	if err != nil {
		return err
	}
	defer st.Close()
	if n := st.Stats().Repairs; n > 0 {
		logger.Printf("undid %d interrupted changes in %s", n, o.Index)
	}
	encode, method, err := storeEncoder(st)
	if err != nil {
		return err
	}
	info := map[string]any{"root": o.Index}
	if method != "" {
		info["method"] = method
	}
	s := server.NewStore(st, server.StoreConfig{APIKey: o.APIKey, Encode: encode, Info: info, Encoders: o.Workers, Logger: logger})
	defer s.Close()
	srv := newHTTPServer(s.Handler(), defaultServeTimeouts)
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return inputError{err}
	}
	logger.Printf("serving %d codes of %d bits from %s on http://%s/", st.Len(), st.Bits(), o.Index, ln.Addr())
	return serveUntilDone(ctx, srv, ln, logger)
}

// serveTimeouts bound how long a client may hold a connection: to send
// its headers, its whole request (a 60 s upload is 10 MB at 1.4 Mbit/s),
// to take the response, and idle between requests.
type serveTimeouts struct {
	Header, Read, Write, Idle time.Duration
}

var defaultServeTimeouts = serveTimeouts{Header: 10 * time.Second, Read: 60 * time.Second, Write: 60 * time.Second, Idle: 120 * time.Second}

// newHTTPServer bounds what a slow or hostile client can hold. A client
// too slow with its headers is disconnected (net/http answers nothing, as
// there is no request yet); one too slow with its body gets 408.
func newHTTPServer(h http.Handler, t serveTimeouts) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: t.Header,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		MaxHeaderBytes:    1 << 16,
	}
}

// serveUntilDone serves on ln until ctx ends, then stops accepting and
// finishes the requests in flight.
func serveUntilDone(ctx context.Context, srv *http.Server, ln net.Listener, logger *log.Logger) error {
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	logger.Printf("shutting down: finishing the requests in flight")
	shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	// Stopping by signal is how a server ends: not a failure.
	logger.Printf("stopped")
	return nil
}

// updateMetaCount rewrites the count in the index's meta.json.
func updateMetaCount(dir string, n int) error {
	path := filepath.Join(dir, metaFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var m indexMeta
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	m.Count = n
	return codes.AtomicWrite(path, func(w io.Writer) error { return writeJSON(w, m) })
}

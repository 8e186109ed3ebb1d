package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/lookalike/lookalike/album"
	"github.com/lookalike/lookalike/codes"
	"github.com/lookalike/lookalike/server"
	"github.com/lookalike/lookalike/store"
)

// runBenchServe serves an index on a loopback port and drives it with
// o.Clients concurrent clients searching by stored id for o.Duration,
// then prints requests/s, latency percentiles and errors. The index is
// the photo index or code store o.Index or, without one, a synthetic
// store of o.N clustered codes of o.Bits bits built in a temporary
// directory.
func runBenchServe(ctx context.Context, o benchOptions, stdout, errw io.Writer) error {
	if o.Clients < 1 || o.Duration <= 0 {
		return badInput("--clients and --duration must be positive")
	}
	switch {
	case o.Index == "":
		return benchSyntheticStore(ctx, o, stdout, errw)
	case store.Exists(o.Index):
		st, err := openCodeStore(o.Index)
		if err != nil {
			return err
		}
		defer st.Close()
		return benchStore(ctx, o, st, o.Index, stdout)
	}
	if kind, err := indexKind(o.Index); err != nil || kind != photosKind {
		return badInput("%s is neither a photo index nor a code store", o.Index)
	}
	a, err := album.Load(filepath.Join(o.Index, albumFile))
	if err != nil {
		return inputError{err}
	}
	if len(a.Entries) == 0 {
		return badInput("%s holds no images", o.Index)
	}
	// Search by id needs no backbone: the stored descriptor is the query.
	n := len(a.Entries)
	r, err := driveSearches(ctx, server.New(a, nil, 1, nil).Handler(), o, func(rng *rand.Rand) int { return rng.IntN(n) })
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "serve: search by stored id, k=10, %d images, %d clients on loopback, %d cores, %.1f s\n",
		n, o.Clients, runtime.GOMAXPROCS(0), r.elapsed.Seconds())
	r.print(stdout)
	return nil
}

// benchSyntheticStore builds the clustered workload of 'bench index' (10
// random centres, each bit flipped with probability 0.15; seed 0) into a
// store and benchmarks serving it.
func benchSyntheticStore(ctx context.Context, o benchOptions, stdout, errw io.Writer) error {
	if err := codes.CheckBits(o.Bits); err != nil {
		return inputError{err}
	}
	if o.N < 1 {
		return badInput("--n must be at least 1")
	}
	dir, err := os.MkdirTemp("", "lookalike-bench-store-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	rng := rand.New(rand.NewPCG(0, 0))
	centres := make([][]bool, 10)
	for i := range centres {
		centres[i] = make([]bool, o.Bits)
		for j := range centres[i] {
			centres[i][j] = rng.IntN(2) == 1
		}
	}
	start := time.Now()
	db := clustered(rng, centres, o.N, o.Bits)
	st, err := store.Create(dir, store.Options{Bits: o.Bits})
	if err != nil {
		return err
	}
	defer st.Close()
	for lo := 0; lo < o.N; lo += storeChunk {
		items := make([]store.Item, 0, storeChunk)
		for i := lo; i < min(lo+storeChunk, o.N); i++ {
			items = append(items, store.Item{Code: db.At(i), Meta: store.Meta{Label: -1}})
		}
		if _, err := st.Add(items); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	built := time.Since(start)
	// Reopening is what a restarted server does: it verifies every file.
	if err := st.Close(); err != nil {
		return err
	}
	start = time.Now()
	if st, err = store.Open(dir); err != nil {
		return err
	}
	fmt.Fprintf(errw, "built a store of %d clustered %d-bit codes in %.1f s; reopened and verified it in %.2f s\n",
		o.N, o.Bits, built.Seconds(), time.Since(start).Seconds())
	return benchStore(ctx, o, st, "synthetic", stdout)
}

// benchStore drives a code store server with searches by stored id.
func benchStore(ctx context.Context, o benchOptions, st *store.Store, name string, stdout io.Writer) error {
	ids := st.IDs()
	if len(ids) == 0 {
		return badInput("%s holds no items", name)
	}
	s := server.NewStore(st, server.StoreConfig{})
	defer s.Close()
	r, err := driveSearches(ctx, s.Handler(), o, func(rng *rand.Rand) int { return int(ids[rng.IntN(len(ids))]) })
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "serve: code store %s, search by stored id, k=10, %d items of %d bits, %d clients on loopback, %d cores, %.1f s\n",
		name, len(ids), st.Bits(), o.Clients, runtime.GOMAXPROCS(0), r.elapsed.Seconds())
	r.print(stdout)
	if m := r.metric("lookalike_search_batches_total"); m > 0 {
		fmt.Fprintf(stdout, "  batching    %.1f queries per scan\n", r.metric("lookalike_search_batched_queries_total")/m)
	}
	return nil
}

// driveReport is what driveSearches measured.
type driveReport struct {
	latencies []time.Duration // sorted
	errors    int
	elapsed   time.Duration
	metrics   string // the server's /metrics after the run
}

func (r *driveReport) print(w io.Writer) {
	pct := func(p float64) time.Duration {
		return r.latencies[min(len(r.latencies)-1, int(p*float64(len(r.latencies))))]
	}
	fmt.Fprintf(w, "  requests/s  %.0f\n  p50         %v\n  p99         %v\n  errors      %d\n",
		float64(len(r.latencies))/r.elapsed.Seconds(), pct(0.50).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), r.errors)
}

// metric reads one unlabelled value of the server's metrics.
func (r *driveReport) metric(name string) float64 {
	for _, line := range strings.Split(r.metrics, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	return 0
}

// driveSearches serves h on a loopback port and runs o.Clients clients,
// each posting {"id": id()} searches one after another for o.Duration.
func driveSearches(ctx context.Context, h http.Handler, o benchOptions, id func(*rand.Rand) int) (*driveReport, error) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()
	url := base + "/v1/search?k=10"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.Clients}, Timeout: 10 * time.Second}

	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	var mu sync.Mutex
	r := &driveReport{}
	var wg sync.WaitGroup
	start := time.Now()
	for c := 0; c < o.Clients; c++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, 1))
			var mine []time.Duration
			bad := 0
			for ctx.Err() == nil {
				body := fmt.Sprintf(`{"id": %d}`, id(rng))
				t0 := time.Now()
				resp, err := client.Post(url, "application/json", bytes.NewBufferString(body))
				if err != nil {
					if ctx.Err() == nil {
						bad++
					}
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					bad++
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			r.latencies = append(r.latencies, mine...)
			r.errors += bad
			mu.Unlock()
		}(uint64(c))
	}
	wg.Wait()
	r.elapsed = time.Since(start)
	if len(r.latencies) == 0 {
		return nil, fmt.Errorf("bench serve: no request succeeded (%d errors)", r.errors)
	}
	sort.Slice(r.latencies, func(i, j int) bool { return r.latencies[i] < r.latencies[j] })
	if resp, err := client.Get(base + "/metrics"); err == nil {
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		resp.Body.Close()
		r.metrics = b.String()
	}
	return r, nil
}

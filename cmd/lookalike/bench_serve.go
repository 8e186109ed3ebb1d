package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/lookalike/lookalike/album"
	"github.com/lookalike/lookalike/server"
)

// runBenchServe serves the photo index o.Index on a loopback port and
// drives it with o.Clients concurrent clients searching by stored id for
// o.Duration, then prints requests/s, latency percentiles and errors.
func runBenchServe(ctx context.Context, o benchOptions, stdout io.Writer) error {
	if o.Index == "" {
		return badInput("bench serve needs --index (a photo index)")
	}
	if kind, err := indexKind(o.Index); err != nil || kind != photosKind {
		return badInput("%s is not a photo index", o.Index)
	}
	a, err := album.Load(filepath.Join(o.Index, albumFile))
	if err != nil {
		return inputError{err}
	}
	if len(a.Entries) == 0 {
		return badInput("%s holds no images", o.Index)
	}
	if o.Clients < 1 || o.Duration <= 0 {
		return badInput("--clients and --duration must be positive")
	}
	// Search by id needs no backbone: the stored descriptor is the query.
	srv := &http.Server{Handler: server.New(a, nil, 1, nil).Handler(), ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/v1/search?k=10"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.Clients}, Timeout: 10 * time.Second}

	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	var mu sync.Mutex
	var latencies []time.Duration
	errors := 0
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
				body := fmt.Sprintf(`{"id": %d}`, rng.IntN(len(a.Entries)))
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
			latencies = append(latencies, mine...)
			errors += bad
			mu.Unlock()
		}(uint64(c))
	}
	wg.Wait()
	elapsed := time.Since(start)
	if len(latencies) == 0 {
		return fmt.Errorf("bench serve: no request succeeded (%d errors)", errors)
	}
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	pct := func(p float64) time.Duration { return latencies[min(len(latencies)-1, int(p*float64(len(latencies))))] }
	fmt.Fprintf(stdout, "serve: search by stored id, k=10, %d images, %d clients on loopback, %.1f s\n", len(a.Entries), o.Clients, elapsed.Seconds())
	fmt.Fprintf(stdout, "  requests/s  %.0f\n  p50         %v\n  p99         %v\n  errors      %d\n",
		float64(len(latencies))/elapsed.Seconds(), pct(0.50).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), errors)
	return nil
}

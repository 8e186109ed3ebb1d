package main

import (
	"bufio"
	"fmt"
	"image"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lookalike/lookalike/server"
	"github.com/lookalike/lookalike/store"
)

// TestServe_SlowClients holds 500 connections open with clients that
// trickle their requests, half stalling in the headers and half in the
// body (uploads and JSON), while a normal client searches. The searches
// must all succeed, promptly; every body-slow client must get a 408 and
// every header-slow one be disconnected at the timeouts; the heap must
// stay bounded.
func TestServe_SlowClients(t *testing.T) {
	if testing.Short() {
		t.Skip("holds 500 connections for seconds")
	}
	st, err := store.Create(t.TempDir(), store.Options{Bits: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	items := make([]store.Item, 10000)
	for i := range items {
		items[i] = store.Item{Code: []uint64{rng.Uint64()}, Meta: store.Meta{Label: -1}}
	}
	if _, err := st.Add(items); err != nil {
		t.Fatal(err)
	}
	// Uploads must reach the body read, so the store has an encoder; what
	// it computes does not matter here.
	encode := func(img image.Image) ([]uint64, error) { return []uint64{uint64(img.Bounds().Dx())}, nil }
	s := server.NewStore(st, server.StoreConfig{Encode: encode})
	defer s.Close()
	timeouts := serveTimeouts{Header: time.Second, Read: 2 * time.Second, Write: 5 * time.Second, Idle: 5 * time.Second}
	srv := newHTTPServer(s.Handler(), timeouts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	addr := ln.Addr().String()

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	const slow = 500
	outcomes := make(chan string, slow)
	var wg sync.WaitGroup
	for i := range slow {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outcomes <- slowClient(addr, i%3)
		}()
	}
	// Let them all connect and stall, then search as a normal client.
	time.Sleep(300 * time.Millisecond)
	var worst time.Duration
	for i := range 50 {
		start := time.Now()
		resp, err := http.Post("http://"+addr+"/v1/search?k=5", "application/json", strings.NewReader(fmt.Sprintf(`{"id": %d}`, i)))
		if err != nil {
			t.Fatalf("search %d among slow clients: %v", i, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("search %d among slow clients: %s", i, resp.Status)
		}
		worst = max(worst, time.Since(start))
	}
	var during runtime.MemStats
	runtime.ReadMemStats(&during)
	wg.Wait()
	close(outcomes)
	counts := map[string]int{}
	for o := range outcomes {
		counts[o]++
	}
	t.Logf("slowest of 50 searches among %d slow clients: %v; heap %d MB -> %d MB; outcomes %v",
		slow, worst, before.HeapAlloc>>20, during.HeapAlloc>>20, counts)
	if worst > time.Second {
		t.Errorf("a search took %v among slow clients", worst)
	}
	// 500 connections cost a few tens of kB each (buffers, goroutines).
	if grown := int64(during.HeapAlloc) - int64(before.HeapAlloc); grown > 64<<20 {
		t.Errorf("heap grew by %d MB with %d slow clients", grown>>20, slow)
	}
	want := map[string]int{"disconnected": 167, "HTTP/1.1 408 Request Timeout": 333}
	for o, n := range counts {
		if want[o] != n {
			t.Errorf("outcomes %v, want %v", counts, want)
			break
		}
	}
}

// slowClient sends a request too slowly and returns what became of it:
// the status line of the response, or "disconnected". Kind 0 stalls in the
// headers, 1 trickles an image upload, 2 a JSON body.
func slowClient(addr string, kind int) string {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return "dial: " + err.Error()
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	var head, body string
	switch kind {
	case 0:
		head = "POST /v1/search HTTP/1.1\r\nHost: x\r\n"
	case 1:
		body = "--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"x.png\"\r\nContent-Type: image/png\r\n\r\n" + strings.Repeat("\x89PNG", 200)
		head = fmt.Sprintf("POST /v1/search HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: %d\r\n\r\n", len(body)+100)
	case 2:
		body = `{"id": 1, "k": 5` + strings.Repeat(" ", 800)
		head = fmt.Sprintf("POST /v1/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body)+100)
	}
	if _, err := io.WriteString(conn, head); err != nil {
		return "write: " + err.Error()
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		// A byte every 50 ms: the body would take 40 s.
		for i := 0; i < len(body); i++ {
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if _, err := conn.Write([]byte{body[i]}); err != nil {
				return
			}
		}
	}()
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		if line == "" && err == io.EOF || isReset(err) {
			return "disconnected"
		}
		return "read: " + err.Error()
	}
	return strings.TrimSpace(line)
}

func isReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset")
}

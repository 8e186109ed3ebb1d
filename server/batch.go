package server

import (
	"context"
	"sync"

	"github.com/lookalike/lookalike/codes"
	"github.com/lookalike/lookalike/store"
)

// maxBatch bounds the queries one batched search carries: the Hamming
// index scans its codes once per 32 queries (index.QueryBlock).
const maxBatch = 32

// batcher gathers the searches of concurrent requests into SearchBatch
// calls. A flat scan of a million codes is bound by memory bandwidth: one
// query alone costs about as much as eight scanned together, so under
// load batching multiplies throughput. A worker takes whatever queries are
// waiting when it comes free, never waiting for more, so a lone query
// pays no extra latency.
type batcher struct {
	st    *store.Store
	queue chan *query
	wg    sync.WaitGroup

	mu      sync.Mutex
	batches int64 // SearchBatch calls
	queries int64 // queries they carried
}

type query struct {
	code []uint64
	k    int
	done chan answer
}

type answer struct {
	hits []store.Hit
	err  error
}

// newBatcher starts workers goroutines searching st.
func newBatcher(st *store.Store, workers int) *batcher {
	b := &batcher{st: st, queue: make(chan *query, 4*maxBatch)}
	for range max(1, workers) {
		b.wg.Add(1)
		go b.work()
	}
	return b
}

// search returns the k nearest live items to code.
func (b *batcher) search(ctx context.Context, code []uint64, k int) ([]store.Hit, error) {
	q := &query{code: code, k: k, done: make(chan answer, 1)}
	select {
	case b.queue <- q:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	a := <-q.done
	return a.hits, a.err
}

func (b *batcher) work() {
	defer b.wg.Done()
	batch := make([]*query, 0, maxBatch)
	for q := range b.queue {
		batch = append(batch[:0], q)
	more:
		for len(batch) < maxBatch {
			select {
			case q, ok := <-b.queue:
				if !ok {
					break more
				}
				batch = append(batch, q)
			default:
				break more
			}
		}
		b.run(batch)
	}
}

// run searches a batch with the largest k asked: results are ordered by
// (distance, id), so each query's top k is a prefix of its top kmax.
func (b *batcher) run(batch []*query) {
	set := &codes.Set{Bits: b.st.Bits()}
	kmax := 0
	for _, q := range batch {
		set.Data = append(set.Data, q.code...)
		kmax = max(kmax, q.k)
	}
	res, err := b.st.SearchBatch(set, kmax)
	for i, q := range batch {
		if err != nil {
			q.done <- answer{err: err}
			continue
		}
		q.done <- answer{hits: res[i][:min(q.k, len(res[i]))]}
	}
	b.mu.Lock()
	b.batches++
	b.queries += int64(len(batch))
	b.mu.Unlock()
}

// stats returns the batches run and the queries they carried.
func (b *batcher) stats() (batches, queries int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.batches, b.queries
}

// close stops the workers once the queued queries are answered; search
// must not be called after it.
func (b *batcher) close() {
	close(b.queue)
	b.wg.Wait()
}

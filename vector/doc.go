// Package vector holds real-valued descriptors and finds the nearest of
// them: exactly (Flat) or approximately (HNSW), by inner product, cosine
// similarity or Euclidean distance (Metric).
//
// # Exact search
//
// Flat scores every stored vector. It keeps them in blocks of 16,
// dimension-major inside a block, so that one AVX-512 register holds one
// dimension of 16 vectors: the kernel multiplies four blocks' rows by four
// queries' broadcast values into 16 accumulators, and no horizontal sums
// are needed. Each core scans its share of the blocks, a 256 KiB chunk at
// a time for all the queries of a batch (so the chunk is read from cache
// for every query after the first), keeping a top-k heap per query that
// the kernel only calls for lanes above its threshold; the cores' lists
// are merged at the end. Results agree with a float64 brute force
// (TestFlat_BruteForce).
//
// # Approximate search
//
// HNSW is the hierarchical navigable small world graph of Malkov and
// Yashunin (IEEE TPAMI 42(4), 2018). Every node is on the bottom layer and
// on each layer above with probability 1/M; a search walks greedily down
// the upper layers, then runs a best-first search on the bottom layer that
// keeps the EfSearch nearest nodes found: EfSearch is the recall/speed
// knob. A new node is linked to M neighbours per layer chosen among the
// EfConstruction nearest found by the paper's heuristic (Algorithm 4: a
// candidate is kept when it is nearer the node than every neighbour kept
// before it), and gains reverse links up to M per upper layer and 2M on
// the bottom one, pruned by the same heuristic.
//
// Storage is flat, as the search reads it: the vectors in one []float32
// (each padded to a multiple of 16 values), the bottom-layer links in one
// []uint32 of fixed-size records (count, then 2M slots), the upper
// layers' in another. The distance kernels score four neighbours at once
// with AVX-512 FMAs, so that the four vectors' cache misses overlap (AVX2
// and portable kernels elsewhere). The visited set is a bitset (128 KiB
// for a million nodes, which stays in L2 cache). The vector and link
// arrays are advised into 2 MiB huge pages (Linux madvise): a search
// touches vectors all over a gigabyte, and with 4 KiB pages nearly every
// one costs a TLB miss. On the 1M graph below that alone raised queries/s
// at efSearch 64 from 4,561 to 7,085.
//
// The graph is built on all cores and is still a function of the seed,
// the vectors and the Add calls alone: nodes are inserted in batches of 2%
// of the graph, each node of a batch searching the graph as it was before
// the batch (in parallel, read only), then the reverse links are added in
// node order, each target's by one worker. A node misses only the 2% of
// nodes inserted just before it, which link to it later anyway: recall is
// the same as inserting one node at a time (TestHNSW_Deterministic checks
// that 1, 2 and 5 workers build the same bytes).
//
// # Why not a library
//
// The module proxy serves one Go HNSW, github.com/coder/hnsw (v0.6.1).
// On this package's benchmark workload (clustered unit vectors of 256
// dimensions, shared/anchors/faiss_float.py), at 100,000 vectors, it
// built in 16.9 s (5,900 inserts/s: Add is single-threaded) and its
// recall@10 was 0.071 at every efSearch from 16 to 512, where FAISS's
// IndexHNSWFlat reached 0.960 at efSearch 16. Its search stops at the
// first expansion that does not improve the best distance, so efSearch
// does not raise recall; it keeps the nearest links instead of the
// heuristic's, stores links in maps and vectors as separate slices, and
// at 20,000 vectors a stored vector found itself in its own top 10 only
// 17 times in 200. No setting reaches recall 0.95, so its speed is moot:
// this package implements the paper instead.
//
// # Figures
//
// lookalike bench ann --n 1000000 --dim 256 --queries 1000: the same
// vectors and the same efSearch sweep on both sides, in the same run, on
// the 2-core development machine (shared with other work, so figures
// move by 10-20% between runs); FAISS 1.7.3 from Debian, 2 OpenMP threads.
// Queries/s at the first efSearch reaching recall@10 0.95:
//
//	                               build   bytes/item  efSearch  recall  queries/s
//	lookalike HNSW (M 32, efC 100)  190 s     1293        56      0.954    6,167
//	faiss IndexHNSWFlat (M 32, 100) 680 s     1296        64      0.958      804
//
// that is 7.7 times FAISS's rate at the same recall, with the same graph
// parameters, built 3.6 times faster. Exact search over the million:
// Flat 99 queries/s, FAISS IndexFlatIP 44 (the same top 10 for every
// query). The graph's file is 1.29 GB, saved in 3.3 s and loaded in 2.8 s.
//
// # Files
//
// HNSW.Save writes a graph atomically (temporary file, fsync, rename);
// LoadHNSW reads it back, checking the magic, the version, the size the
// header implies and the CRC-32C, in that order, then the graph itself
// (every link names a node on that layer, no list overflows), each failure
// with its own error (ErrInvalid, ErrVersionMismatch, ErrTruncated,
// ErrChecksum, ErrCorrupt) and the file's name. The layout is documented
// in file.go. Flat needs no file: it is rebuilt from the vectors as fast as
// they are read.
//
// # Caveats
//
// Searches may run concurrently; Add may not run with them, nor may
// EfSearch change during them. A dimension mismatch panics. The SIMD
// kernels need GOEXPERIMENT=simd on amd64; they end with VZEROUPPER
// (archsimd.ClearAVXUpperBits), without which the SSE scalar code after
// them ran ten times slower.
package vector

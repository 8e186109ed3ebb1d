package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/lookalike/lookalike/codes"
	"github.com/lookalike/lookalike/index"
)

// indexBenchReport is what 'bench index' prints. QPS and Recall are the
// engine's: the exact method index.Engine picks for these queries
// (Method); Scan* and MIH* time each exact method alone.
type indexBenchReport struct {
	Workload        string  `json:"workload"`
	N               int     `json:"n"`
	Bits            int     `json:"bits"`
	Queries         int     `json:"queries"`
	K               int     `json:"k"`
	Cores           int     `json:"cores"`
	QPS             float64 `json:"qps"`
	Recall          float64 `json:"recall"`
	Method          string  `json:"method"`
	EngineScanNs    float64 `json:"engine_scan_ns"`
	EngineMIHNs     float64 `json:"engine_mih_ns"`
	EngineBytes     float64 `json:"engine_bytes_per_item"`
	BuildSeconds    float64 `json:"build_s"`
	BytesPerItem    float64 `json:"bytes_per_item"`
	ScanQPS         float64 `json:"scan_qps"`
	ScanRecall      float64 `json:"scan_recall"`
	MIHQPS          float64 `json:"mih_qps"`
	MIHRecall       float64 `json:"mih_recall"`
	MIHQueries      int     `json:"mih_queries"`
	MIHSubstrings   int     `json:"mih_substrings"`
	MIHBuildSeconds float64 `json:"mih_build_s"`
	MIHBytesPerItem float64 `json:"mih_bytes_per_item"`
	FAISSVersion    string  `json:"faiss_version,omitempty"`
	FAISSFlatQPS    float64 `json:"faiss_flat_qps,omitempty"`
	FAISSHNSWQPS    float64 `json:"faiss_hnsw_qps,omitempty"`
	FAISSHNSWRec    float64 `json:"faiss_hnsw_recall,omitempty"`
	FAISSHNSWBuild  float64 `json:"faiss_hnsw_build_s,omitempty"`
	Ratio           float64 `json:"ratio_vs_faiss_flat,omitempty"`
	RatioHNSW       float64 `json:"ratio_vs_faiss_hnsw,omitempty"`
	// QPSAfterHNSW times the engine again right after FAISS's HNSW
	// search, which comes up to an hour after QPS (HNSW's build at 10M
	// codes): a shared machine's speed can change in that time, so
	// RatioHNSW compares timings taken minutes apart, not an hour.
	QPSAfterHNSW float64 `json:"qps_after_faiss_hnsw,omitempty"`
	FAISSError   string  `json:"faiss_error,omitempty"`
}

// bestQPS is bestRate for a search that can fail: queries/s of the
// fastest of repeat runs.
func bestQPS(repeat, nq int, search func() error) (float64, error) {
	var err error
	qps := bestRate(max(repeat, 1), nq, func() {
		if err == nil {
			err = search()
		}
	})
	return qps, err
}

// mihQueries caps the queries MIH alone is timed on: on clustered codes it
// is orders of magnitude slower than the scan, and a few hundred queries
// measure it well enough.
const mihQueries = 200

// clustered returns n codes drawn as faiss_hamming.py draws them: one of
// the 10 centres with each bit flipped with probability 0.15.
func clustered(rng *rand.Rand, centres [][]bool, n, nbits int) *codes.Set {
	s := &codes.Set{Bits: nbits, Data: make([]uint64, 0, n*codes.WordsFor(nbits))}
	vals := make([]float32, nbits)
	for i := 0; i < n; i++ {
		c := centres[rng.IntN(len(centres))]
		for j := range vals {
			bit := c[j] != (rng.Float64() < 0.15)
			vals[j] = -1
			if bit {
				vals[j] = 1
			}
		}
		s.AppendSigns(vals)
	}
	return s
}

func runBenchIndex(ctx context.Context, o benchOptions, stdout, errw io.Writer) error {
	var db, q *codes.Set
	workload := "clustered (10 centres, flip 0.15, seed 0)"
	if o.Model != "" {
		var err error
		if db, q, err = modelCodes(o); err != nil {
			return err
		}
		o.N, o.Queries, o.Bits = db.Len(), q.Len(), db.Bits
		workload = fmt.Sprintf("real: %s's codes of %s", filepath.Base(o.Model), o.Protocol)
	}
	if err := codes.CheckBits(o.Bits); err != nil {
		return inputError{err}
	}
	if o.Bits%8 != 0 || o.N < 1 || o.Queries < 1 || o.K < 1 || o.K > o.N {
		return badInput("need bits a multiple of 8, n >= 1, queries >= 1 and 1 <= k <= n")
	}
	if db == nil {
		rng := rand.New(rand.NewPCG(0, 0))
		centres := make([][]bool, 10)
		for i := range centres {
			centres[i] = make([]bool, o.Bits)
			for j := range centres[i] {
				centres[i][j] = rng.IntN(2) == 1
			}
		}
		db = clustered(rng, centres, o.N, o.Bits)
		q = clustered(rng, centres, o.Queries, o.Bits)
	}
	r := indexBenchReport{Workload: workload, N: o.N, Bits: o.Bits,
		Queries: o.Queries, K: o.K, Cores: runtime.GOMAXPROCS(0)}

	start := time.Now()
	h := index.NewHamming(db)
	r.BuildSeconds = time.Since(start).Seconds()
	r.BytesPerItem = float64(h.Bytes()) / float64(h.Len())
	eng := index.NewEngine(h)

	nRecall := min(o.Queries, 50)
	// The engine and the scan alone take turns, so that neither gains
	// from running after the other (a warmer cache, a quieter machine).
	var res, scanRes [][]index.Result
	var method index.Method
	for range max(o.ANN.Repeat, 1) {
		qps, err := bestQPS(1, o.Queries, func() (err error) {
			res, method, err = eng.SearchBatch(q, o.K)
			return err
		})
		if err != nil {
			return err
		}
		r.QPS = max(r.QPS, qps)
		if qps, err = bestQPS(1, o.Queries, func() (err error) {
			scanRes, err = h.SearchBatch(q, o.K)
			return err
		}); err != nil {
			return err
		}
		r.ScanQPS = max(r.ScanQPS, qps)
	}
	r.Method = method.String()
	r.Recall = recallAgainstBruteForce(db, q, res, o.K, nRecall)
	r.ScanRecall = recallAgainstBruteForce(db, q, scanRes, o.K, nRecall)
	_, est, err := eng.Choose(q, o.K)
	if err != nil {
		return err
	}
	r.EngineScanNs, r.EngineMIHNs = est.ScanNs, est.MIHNs
	// The engine's memory: MIH's tables count once it has built them.
	r.EngineBytes = float64(eng.Bytes()) / float64(h.Len())

	start = time.Now()
	mih, err := index.NewMIH(h, 0)
	if err != nil {
		return err
	}
	r.MIHBuildSeconds = time.Since(start).Seconds()
	r.MIHSubstrings = mih.Substrings()
	r.MIHBytesPerItem = float64(h.Bytes()+mih.Bytes()) / float64(h.Len())
	r.MIHQueries = min(o.Queries, mihQueries)
	mq := &codes.Set{Bits: q.Bits, Data: q.Data[:r.MIHQueries*q.Words()]}
	// One timing: MIH alone is orders of magnitude slower here, and no
	// bar depends on it.
	if r.MIHQPS, err = bestQPS(1, r.MIHQueries, func() (err error) {
		res, err = mih.SearchBatch(mq, o.K)
		return err
	}); err != nil {
		return err
	}
	r.MIHRecall = recallAgainstBruteForce(db, mq, res, o.K, min(r.MIHQueries, nRecall))

	if !o.NoFAISS {
		fmt.Fprintf(errw, "bench index: lookalike engine %.0f queries/s, scan %.0f; faiss next\n", r.QPS, r.ScanQPS)
		if err := faissBench(ctx, o, db, q, &r, errw); err != nil {
			r.FAISSError = err.Error()
		}
		if r.FAISSFlatQPS > 0 {
			r.Ratio = r.QPS / r.FAISSFlatQPS
		}
		if r.FAISSHNSWQPS > 0 {
			if r.QPSAfterHNSW, err = bestQPS(max(o.ANN.Repeat, 1), o.Queries, func() (err error) {
				_, _, err = eng.SearchBatch(q, o.K)
				return err
			}); err != nil {
				return err
			}
			r.RatioHNSW = r.QPSAfterHNSW / r.FAISSHNSWQPS
		}
	}
	if o.JSON {
		return writeJSON(stdout, r)
	}
	fmt.Fprintf(stdout, "exact Hamming k-NN: %s, n=%d, %d bits, %d queries, k=%d, %d cores\n",
		r.Workload, r.N, r.Bits, r.Queries, r.K, r.Cores)
	fmt.Fprintf(stdout, "  %-36s %10s %8s %9s %10s\n", "index", "queries/s", "recall", "build s", "bytes/item")
	fmt.Fprintf(stdout, "  %-36s %10.0f %8.3f %9.2f %10.1f\n", "lookalike engine (exact, picks "+r.Method+")",
		r.QPS, r.Recall, r.BuildSeconds, r.EngineBytes)
	fmt.Fprintf(stdout, "  %-36s %10.0f %8.3f %9.2f %10.1f\n", "lookalike scan (exact)", r.ScanQPS, r.ScanRecall, r.BuildSeconds, r.BytesPerItem)
	fmt.Fprintf(stdout, "  %-36s %10.0f %8.3f %9.2f %10.1f\n", fmt.Sprintf("lookalike MIH m=%d (exact, %d q)", r.MIHSubstrings, r.MIHQueries),
		r.MIHQPS, r.MIHRecall, r.BuildSeconds+r.MIHBuildSeconds, r.MIHBytesPerItem)
	fmt.Fprintf(stdout, "  engine's estimate per query on a sample: scan %.0f us, MIH %.0f us\n", r.EngineScanNs/1e3, r.EngineMIHNs/1e3)
	if r.FAISSError != "" {
		fmt.Fprintf(stdout, "  faiss: not measured: %s\n", r.FAISSError)
		return nil
	}
	if r.FAISSFlatQPS > 0 {
		fmt.Fprintf(stdout, "  %-36s %10.0f %8.3f %9s %10.1f\n", "faiss "+r.FAISSVersion+" IndexBinaryFlat", r.FAISSFlatQPS, 1.0, "", float64(o.Bits/8))
	}
	if r.FAISSHNSWQPS > 0 {
		fmt.Fprintf(stdout, "  %-36s %10.0f %8.3f %9.2f %10s\n", "faiss IndexBinaryHNSW(16, ef 256)", r.FAISSHNSWQPS, r.FAISSHNSWRec, r.FAISSHNSWBuild, "")
		fmt.Fprintf(stdout, "  %-36s %10.0f %8.3f\n", "lookalike engine, right after HNSW", r.QPSAfterHNSW, r.Recall)
	}
	if r.Ratio > 0 {
		fmt.Fprintf(stdout, "  ratio lookalike engine / faiss flat: %.1fx", r.Ratio)
		if r.RatioHNSW > 0 {
			fmt.Fprintf(stdout, ", / faiss HNSW: %.1fx (timed right after it)", r.RatioHNSW)
		}
		fmt.Fprintln(stdout)
	}
	return nil
}

// modelCodes encodes the database and queries of o's protocol with the
// model o.Model.
func modelCodes(o benchOptions) (db, q *codes.Set, err error) {
	m, enc, err := loadModel(o.Model)
	if err != nil {
		return nil, nil, err
	}
	split, err := o.split()
	if err != nil {
		return nil, nil, err
	}
	if db, err = encodeSet(m, enc, split.Database); err != nil {
		return nil, nil, err
	}
	if q, err = encodeSet(m, enc, split.Query); err != nil {
		return nil, nil, err
	}
	return db, q, nil
}

// recallAgainstBruteForce is faiss_hamming.py's distance-based recall: the
// fraction of the first nq queries whose results hold k items within the
// true k-th distance.
func recallAgainstBruteForce(db, q *codes.Set, res [][]index.Result, k, nq int) float64 {
	ok := 0
	dist := make([]int, db.Len())
	for i := 0; i < nq; i++ {
		hist := make([]int, db.Bits+1)
		for j := range dist {
			dist[j] = codes.Hamming(q.At(i), db.At(j))
			hist[dist[j]]++
		}
		kth, seen := 0, 0
		for ; kth <= db.Bits; kth++ {
			if seen += hist[kth]; seen >= k {
				break
			}
		}
		within := 0
		for _, r := range res[i] {
			if r.Distance <= kth && codes.Hamming(q.At(i), db.At(r.ID)) == r.Distance {
				within++
			}
		}
		if within >= k {
			ok++
		}
	}
	return float64(ok) / float64(nq)
}

// faissScript times FAISS on codes written by faissBench (little-endian
// 64-bit words: the same bits in the same byte order for database and
// queries, so Hamming distances are unchanged).
const faissScript = `
import sys, time, numpy as np, faiss
n, nq, bits, k, hnsw, repeat = map(int, sys.argv[1:7])
db = np.fromfile(sys.argv[7], dtype=np.uint8).reshape(n, bits // 8)
q = np.fromfile(sys.argv[8], dtype=np.uint8).reshape(nq, bits // 8)
print("version", faiss.__version__, flush=True)
def best_qps(index):
    best = 0
    for _ in range(max(repeat, 1)):
        t = time.time(); D, I = index.search(q, k); best = max(best, nq / (time.time() - t))
    return best, D
flat = faiss.IndexBinaryFlat(bits); flat.add(db)
qps, D = best_qps(flat); print("flat", qps, flush=True)
if hnsw:
    hn = faiss.IndexBinaryHNSW(bits, 16)
    t = time.time(); hn.add(db); tb = time.time() - t
    print("built", tb, flush=True)
    hn.hnsw.efSearch = 256
    qps, D2 = best_qps(hn)
    rec = float(np.mean([np.sum(D2[i] <= D[i, -1]) >= k for i in range(nq)]))
    print("hnsw", qps, rec, tb)
`

var faissLine = regexp.MustCompile(`(?m)^(version|flat|hnsw) (.*)$`)

// lineWriter keeps what is written to it and passes each complete line to
// fn as it comes, so that a long FAISS run shows where it is.
type lineWriter struct {
	all     bytes.Buffer
	partial []byte
	fn      func(string)
}

func (l *lineWriter) Write(b []byte) (int, error) {
	l.all.Write(b)
	l.partial = append(l.partial, b...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			return len(b), nil
		}
		l.fn(string(l.partial[:i]))
		l.partial = l.partial[i+1:]
	}
}

// faissBench runs FAISS on the same codes and notes on errw where it
// is: its HNSW index takes most of an hour to build at 10M codes.
func faissBench(ctx context.Context, o benchOptions, db, q *codes.Set, r *indexBenchReport, errw io.Writer) error {
	dir, err := os.MkdirTemp("", "lookalike-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// FAISS takes bits/8 bytes a code: each code's words in little-endian
	// order, cut after its last byte (a 48-bit code's word has 2 spare).
	write := func(name string, s *codes.Set) (string, error) {
		path := filepath.Join(dir, name)
		per, words := s.Bits/8, s.Words()
		buf := make([]byte, 0, per*s.Len())
		word := make([]byte, 8*words)
		for i := range s.Len() {
			for j, w := range s.Data[i*words : (i+1)*words] {
				binary.LittleEndian.PutUint64(word[8*j:], w)
			}
			buf = append(buf, word[:per]...)
		}
		return path, os.WriteFile(path, buf, 0o644)
	}
	dbPath, err := write("db", db)
	if err != nil {
		return err
	}
	qPath, err := write("q", q)
	if err != nil {
		return err
	}
	hnsw := "0"
	if o.HNSW {
		hnsw = "1"
	}
	cmd := exec.CommandContext(ctx, o.Python, "-c", faissScript, strconv.Itoa(o.N), strconv.Itoa(o.Queries),
		strconv.Itoa(o.Bits), strconv.Itoa(o.K), hnsw, strconv.Itoa(o.ANN.Repeat), dbPath, qPath)
	progress := &lineWriter{fn: func(line string) {
		f := strings.Fields(line)
		if len(f) != 2 {
			return
		}
		v, err := strconv.ParseFloat(f[1], 64)
		switch {
		case err != nil:
		case f[0] == "flat" && o.HNSW:
			fmt.Fprintf(errw, "bench index: faiss IndexBinaryFlat %.0f queries/s; building IndexBinaryHNSW\n", v)
		case f[0] == "flat":
			fmt.Fprintf(errw, "bench index: faiss IndexBinaryFlat %.0f queries/s\n", v)
		case f[0] == "built":
			fmt.Fprintf(errw, "bench index: faiss IndexBinaryHNSW built in %.0f s; searching\n", v)
		}
	}}
	cmd.Stdout, cmd.Stderr = progress, progress
	err = cmd.Run()
	out := progress.all.Bytes()
	if err != nil {
		return fmt.Errorf("%s with faiss failed (is python3-faiss installed? scripts/setup.sh --peers): %v: %s", o.Python, err, lastLine(out))
	}
	for _, m := range faissLine.FindAllStringSubmatch(string(out), -1) {
		var f []float64
		for _, v := range regexp.MustCompile(`\S+`).FindAllString(m[2], -1) {
			x, _ := strconv.ParseFloat(v, 64)
			f = append(f, x)
		}
		switch m[1] {
		case "version":
			r.FAISSVersion = m[2]
		case "flat":
			r.FAISSFlatQPS = f[0]
		case "hnsw":
			r.FAISSHNSWQPS, r.FAISSHNSWRec, r.FAISSHNSWBuild = f[0], f[1], f[2]
		}
	}
	return nil
}

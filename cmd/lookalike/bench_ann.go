package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/lookalike/lookalike/vector"
)

// annBenchOptions are the flags of 'bench ann' beyond the shared --n,
// --queries, --k, --json, --no-faiss and --python.
type annBenchOptions struct {
	Dim            int
	M              int
	EfConstruction int
	EfSearch       intList
	TargetRecall   float64
	FAISSM         int
	FAISSEfC       int
	Repeat         int
	// kSet says whether --k was given (its default is bench index's 100;
	// bench ann's is 10).
	kSet func() bool
}

func (o *annBenchOptions) AddFlags(fs *flag.FlagSet) {
	fs.IntVar(&o.Dim, "dim", 256, "ann: dimensions of the vectors")
	fs.IntVar(&o.M, "m", 32, "ann: Lookalike HNSW links per node (2M on the bottom layer)")
	fs.IntVar(&o.EfConstruction, "ef-construction", 100, "ann: Lookalike HNSW build candidate list")
	fs.Var(&o.EfSearch, "ef-search", "ann: comma-separated efSearch values swept on both sides (default "+defaultEfSweep+")")
	fs.Float64Var(&o.TargetRecall, "target-recall", 0.95, "ann: recall@k at which the two indexes' queries/s are compared")
	fs.IntVar(&o.FAISSM, "faiss-m", 32, "ann: FAISS IndexHNSWFlat M (shared/anchors/faiss_float.py's)")
	fs.IntVar(&o.FAISSEfC, "faiss-ef-construction", 100, "ann: FAISS IndexHNSWFlat efConstruction")
	fs.IntVar(&o.Repeat, "repeat", 3, "ann, index: times each search pass runs on each side (the fastest counts)")
	o.kSet = func() bool {
		set := false
		fs.Visit(func(f *flag.Flag) { set = set || f.Name == "k" })
		return set
	}
}

const defaultEfSweep = "10,12,16,20,24,32,40,48,56,64,80,96,128,160,192,256"

// annPoint is one efSearch setting of the sweep.
type annPoint struct {
	EfSearch int     `json:"ef_search"`
	QPS      float64 `json:"qps"`
	Recall   float64 `json:"recall"`
}

// annBenchReport is what 'bench ann' prints. QPS, Recall and EfSearch are
// Lookalike HNSW's at the first efSearch of the sweep whose recall@k
// reaches TargetRecall, FAISSQPS and the rest FAISS IndexHNSWFlat's.
type annBenchReport struct {
	Workload       string     `json:"workload"`
	N              int        `json:"n"`
	Dim            int        `json:"dim"`
	Queries        int        `json:"queries"`
	K              int        `json:"k"`
	Cores          int        `json:"cores"`
	TargetRecall   float64    `json:"target_recall"`
	ExactQPS       float64    `json:"exact_qps"`
	M              int        `json:"m"`
	EfConstruction int        `json:"ef_construction"`
	BuildSeconds   float64    `json:"build_s"`
	BytesPerItem   float64    `json:"bytes_per_item"`
	FileBytes      int64      `json:"file_bytes"`
	SaveSeconds    float64    `json:"save_s"`
	LoadSeconds    float64    `json:"load_s"`
	Sweep          []annPoint `json:"sweep"`
	EfSearch       int        `json:"ef_search"`
	QPS            float64    `json:"qps"`
	Recall         float64    `json:"recall"`

	FAISSVersion        string     `json:"faiss_version,omitempty"`
	FAISSThreads        int        `json:"faiss_threads,omitempty"`
	FAISSFlatQPS        float64    `json:"faiss_flat_qps,omitempty"`
	FAISSFlatAgreement  float64    `json:"faiss_flat_agreement,omitempty"`
	FAISSM              int        `json:"faiss_m,omitempty"`
	FAISSEfConstruction int        `json:"faiss_ef_construction,omitempty"`
	FAISSBuildSeconds   float64    `json:"faiss_build_s,omitempty"`
	FAISSBytesPerItem   float64    `json:"faiss_bytes_per_item,omitempty"`
	FAISSSweep          []annPoint `json:"faiss_sweep,omitempty"`
	FAISSEfSearch       int        `json:"faiss_ef_search,omitempty"`
	FAISSQPS            float64    `json:"faiss_qps,omitempty"`
	FAISSRecall         float64    `json:"faiss_recall,omitempty"`
	Ratio               float64    `json:"ratio_vs_faiss_hnsw,omitempty"`
	FAISSError          string     `json:"faiss_error,omitempty"`
}

// floatWorkload returns n unit vectors drawn as faiss_float.py draws its
// database and queries: one of the centres plus Gaussian noise of
// deviation 0.7 in each dimension, scaled to unit length.
func floatWorkload(rng *rand.Rand, centres []float32, n, dim int) []float32 {
	v := make([]float32, n*dim)
	nc := len(centres) / dim
	for i := range n {
		c := centres[rng.IntN(nc)*dim:][:dim]
		x := v[i*dim : (i+1)*dim]
		var s float64
		for j := range x {
			x[j] = c[j] + 0.7*float32(rng.NormFloat64())
			s += float64(x[j]) * float64(x[j])
		}
		inv := float32(1 / math.Sqrt(s))
		for j := range x {
			x[j] *= inv
		}
	}
	return v
}

func runBenchANN(ctx context.Context, o benchOptions, stdout io.Writer) error {
	if o.ANN.kSet == nil || !o.ANN.kSet() {
		o.K = 10
	}
	if len(o.ANN.EfSearch) == 0 {
		o.ANN.EfSearch.Set(defaultEfSweep)
	}
	a := o.ANN
	if o.N < 1 || o.Queries < 1 || o.K < 1 || o.K > o.N || a.Dim < 1 || a.M < 2 || a.EfConstruction < 1 ||
		a.Repeat < 1 || a.TargetRecall <= 0 || a.TargetRecall > 1 {
		return badInput("need n, queries, dim, ef-construction and repeat >= 1, m >= 2, 1 <= k <= n, 0 < target-recall <= 1")
	}
	for _, ef := range a.EfSearch {
		if ef < 1 {
			return badInput("--ef-search values must be at least 1")
		}
	}
	cores := runtime.GOMAXPROCS(0)
	rng := rand.New(rand.NewPCG(0, 0))
	centres := make([]float32, 1000*a.Dim)
	for i := range centres {
		centres[i] = float32(rng.NormFloat64())
	}
	db := floatWorkload(rng, centres, o.N, a.Dim)
	q := floatWorkload(rng, centres, o.Queries, a.Dim)
	r := annBenchReport{Workload: "clustered unit vectors (1000 centres, noise 0.7, seed 0)", N: o.N, Dim: a.Dim,
		Queries: o.Queries, K: o.K, Cores: cores, TargetRecall: a.TargetRecall, M: a.M, EfConstruction: a.EfConstruction}

	// Exact inner product: the ground truth, and its speed.
	flat := vector.NewFlat(a.Dim, vector.InnerProduct)
	flat.Add(db)
	var truth [][]vector.Result
	r.ExactQPS = bestRate(a.Repeat, o.Queries, func() { truth = flat.SearchBatch(q, o.K) })
	flat = nil
	truthIDs := make([][]int, len(truth))
	for i, t := range truth {
		for _, x := range t {
			truthIDs[i] = append(truthIDs[i], x.ID)
		}
	}

	runtime.GC()
	start := time.Now()
	var err error
	h := vector.BuildHNSW(db, a.Dim, vector.HNSWConfig{Metric: vector.InnerProduct, M: a.M, EfConstruction: a.EfConstruction})
	r.BuildSeconds = time.Since(start).Seconds()
	r.BytesPerItem = float64(h.Bytes()) / float64(h.Len())
	if h, err = saveAndLoad(h, &r); err != nil {
		return err
	}
	for _, ef := range a.EfSearch {
		if err := ctx.Err(); err != nil {
			return err
		}
		h.EfSearch = ef
		var res [][]vector.Result
		qps := bestRate(a.Repeat, o.Queries, func() { res = h.SearchBatch(q, o.K) })
		ids := make([][]int, len(res))
		for i, rs := range res {
			for _, x := range rs {
				ids[i] = append(ids[i], x.ID)
			}
		}
		r.Sweep = append(r.Sweep, annPoint{ef, qps, recallAtK(ids, truthIDs, o.K)})
	}
	r.EfSearch, r.QPS, r.Recall = firstReaching(r.Sweep, a.TargetRecall)

	if !o.NoFAISS {
		h = nil
		if err := faissFloatBench(ctx, o, db, q, truthIDs, &r); err != nil {
			r.FAISSError = err.Error()
		}
		r.FAISSEfSearch, r.FAISSQPS, r.FAISSRecall = firstReaching(r.FAISSSweep, a.TargetRecall)
		if r.QPS > 0 && r.FAISSQPS > 0 {
			r.Ratio = r.QPS / r.FAISSQPS
		}
	}
	if o.JSON {
		return writeJSON(stdout, r)
	}
	printANNReport(stdout, r, o.NoFAISS)
	return nil
}

// saveAndLoad times writing h to a file and reading it back, and returns
// the graph read, which the sweep then searches.
func saveAndLoad(h *vector.HNSW, r *annBenchReport) (*vector.HNSW, error) {
	dir, err := os.MkdirTemp("", "lookalike-bench-ann")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "graph.lkv")
	start := time.Now()
	if err := h.Save(path); err != nil {
		return nil, err
	}
	r.SaveSeconds = time.Since(start).Seconds()
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	r.FileBytes = st.Size()
	runtime.GC()
	start = time.Now()
	g, err := vector.LoadHNSW(path)
	r.LoadSeconds = time.Since(start).Seconds()
	return g, err
}

// bestRate runs f repeat times and returns items per second of the
// fastest run, each run after a garbage collection.
func bestRate(repeat, items int, f func()) float64 {
	best := 0.0
	for range repeat {
		runtime.GC()
		start := time.Now()
		f()
		best = max(best, float64(items)/time.Since(start).Seconds())
	}
	return best
}

// recallAtK is faiss_float.py's recall: the mean fraction of each query's
// true k nearest found among its k results.
func recallAtK(got, truth [][]int, k int) float64 {
	hit := 0
	for i := range got {
		want := make(map[int]bool, k)
		for _, id := range truth[i][:min(k, len(truth[i]))] {
			want[id] = true
		}
		for _, id := range got[i][:min(k, len(got[i]))] {
			if want[id] {
				hit++
			}
		}
	}
	return float64(hit) / float64(k*len(got))
}

// firstReaching returns the first point of the sweep whose recall reaches
// target, or zeros.
func firstReaching(sweep []annPoint, target float64) (ef int, qps, recall float64) {
	for _, p := range sweep {
		if p.Recall >= target {
			return p.EfSearch, p.QPS, p.Recall
		}
	}
	return 0, 0, 0
}

func printANNReport(w io.Writer, r annBenchReport, noFAISS bool) {
	fmt.Fprintf(w, "real-valued k-NN by inner product: %s, n=%d, dim=%d, %d queries, k=%d, %d cores\n",
		r.Workload, r.N, r.Dim, r.Queries, r.K, r.Cores)
	fmt.Fprintf(w, "  exact: lookalike Flat %.0f queries/s", r.ExactQPS)
	if r.FAISSFlatQPS > 0 {
		fmt.Fprintf(w, ", faiss IndexFlatIP %.0f queries/s (same top-%d: %.4f)", r.FAISSFlatQPS, r.K, r.FAISSFlatAgreement)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  %-44s %9s %10s\n", "approximate index", "build s", "bytes/item")
	fmt.Fprintf(w, "  %-44s %9.1f %10.0f\n", fmt.Sprintf("lookalike HNSW (M %d, efConstruction %d)", r.M, r.EfConstruction), r.BuildSeconds, r.BytesPerItem)
	if r.FAISSBuildSeconds > 0 {
		fmt.Fprintf(w, "  %-44s %9.1f %10.0f\n", fmt.Sprintf("faiss %s IndexHNSWFlat (M %d, efC %d)", r.FAISSVersion, r.FAISSM, r.FAISSEfConstruction),
			r.FAISSBuildSeconds, r.FAISSBytesPerItem)
	}
	fmt.Fprintf(w, "  lookalike HNSW file: %.1f MB, saved in %.1f s, loaded in %.1f s (the sweep searches the loaded graph)\n",
		float64(r.FileBytes)/1e6, r.SaveSeconds, r.LoadSeconds)
	fmt.Fprintf(w, "  %8s %14s %9s %14s %9s\n", "efSearch", "lookalike q/s", "recall", "faiss q/s", "recall")
	for i, p := range r.Sweep {
		fq, fr := "", ""
		if i < len(r.FAISSSweep) {
			fq, fr = fmt.Sprintf("%.0f", r.FAISSSweep[i].QPS), fmt.Sprintf("%.3f", r.FAISSSweep[i].Recall)
		}
		fmt.Fprintf(w, "  %8d %14.0f %9.3f %14s %9s\n", p.EfSearch, p.QPS, p.Recall, fq, fr)
	}
	at := func(name string, ef int, qps, rec float64) {
		if ef == 0 {
			fmt.Fprintf(w, "  %s: no efSearch of the sweep reaches recall@%d %.2f\n", name, r.K, r.TargetRecall)
			return
		}
		fmt.Fprintf(w, "  %s at recall@%d >= %.2f: %.0f queries/s (efSearch %d, recall %.3f)\n", name, r.K, r.TargetRecall, qps, ef, rec)
	}
	at("lookalike HNSW", r.EfSearch, r.QPS, r.Recall)
	switch {
	case noFAISS:
	case r.FAISSError != "":
		fmt.Fprintf(w, "  faiss: not measured: %s\n", r.FAISSError)
	default:
		at("faiss IndexHNSWFlat", r.FAISSEfSearch, r.FAISSQPS, r.FAISSRecall)
		if r.Ratio > 0 {
			fmt.Fprintf(w, "  ratio lookalike / faiss at that recall: %.2fx\n", r.Ratio)
		}
	}
}

// faissFloatScript times FAISS's exact and HNSW inner-product search on
// the vectors faissFloatBench writes (float32, little endian), with the
// same efSearch sweep, and writes each pass's result ids (int64) so that
// recall is computed in Go against the same ground truth as Lookalike's.
const faissFloatScript = `
import sys, time, numpy as np, faiss
n, nq, dim, k, threads, m, efc, repeat = map(int, sys.argv[1:9])
dbp, qp, outdir, efs = sys.argv[9], sys.argv[10], sys.argv[11], [int(x) for x in sys.argv[12].split(",")]
faiss.omp_set_num_threads(threads)
db = np.fromfile(dbp, dtype=np.float32).reshape(n, dim)
q = np.fromfile(qp, dtype=np.float32).reshape(nq, dim)
print("version", faiss.__version__, faiss.omp_get_max_threads(), flush=True)
def best(f):
    t = 1e30
    for _ in range(repeat):
        s = time.time(); r = f(); t = min(t, time.time() - s)
    return r, nq / t
flat = faiss.IndexFlatIP(dim); flat.add(db)
(_, I), qps = best(lambda: flat.search(q, k))
I.astype(np.int64).tofile(outdir + "/flat"); del flat
print("flat", qps, flush=True)
hn = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT); hn.hnsw.efConstruction = efc
t = time.time(); hn.add(db); tb = time.time() - t
g = hn.hnsw
mem = n * dim * 4 + g.neighbors.size() * 4 + g.offsets.size() * 8 + g.levels.size() * 4
print("build", tb, mem / n, flush=True)
for ef in efs:
    hn.hnsw.efSearch = ef
    (_, I), qps = best(lambda: hn.search(q, k))
    I.astype(np.int64).tofile(outdir + "/hnsw%d" % ef)
    print("hnsw", ef, qps, flush=True)
`

var faissFloatLine = regexp.MustCompile(`(?m)^(version|flat|build|hnsw) (.*)$`)

func faissFloatBench(ctx context.Context, o benchOptions, db, q []float32, truth [][]int, r *annBenchReport) error {
	a := o.ANN
	dir, err := os.MkdirTemp("", "lookalike-bench-ann")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	dbPath, qPath := filepath.Join(dir, "db"), filepath.Join(dir, "q")
	if err := writeFloats(dbPath, db); err != nil {
		return err
	}
	if err := writeFloats(qPath, q); err != nil {
		return err
	}
	efs := make([]string, len(a.EfSearch))
	for i, ef := range a.EfSearch {
		efs[i] = strconv.Itoa(ef)
	}
	r.FAISSThreads, r.FAISSM, r.FAISSEfConstruction = r.Cores, a.FAISSM, a.FAISSEfC
	args := []string{"-c", faissFloatScript}
	for _, v := range []int{o.N, o.Queries, a.Dim, o.K, r.Cores, a.FAISSM, a.FAISSEfC, a.Repeat} {
		args = append(args, strconv.Itoa(v))
	}
	args = append(args, dbPath, qPath, dir, strings.Join(efs, ","))
	out, err := exec.CommandContext(ctx, o.Python, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s with faiss failed (is python3-faiss installed? scripts/setup.sh --peers): %v: %s", o.Python, err, lastLine(out))
	}
	for _, m := range faissFloatLine.FindAllStringSubmatch(string(out), -1) {
		f := strings.Fields(m[2])
		num := func(i int) float64 {
			x, _ := strconv.ParseFloat(f[i], 64)
			return x
		}
		switch m[1] {
		case "version":
			r.FAISSVersion = f[0]
		case "flat":
			r.FAISSFlatQPS = num(0)
			ids, err := readIDs(filepath.Join(dir, "flat"), o.Queries, o.K)
			if err != nil {
				return err
			}
			r.FAISSFlatAgreement = recallAtK(ids, truth, o.K)
		case "build":
			r.FAISSBuildSeconds, r.FAISSBytesPerItem = num(0), num(1)
		case "hnsw":
			ef := int(num(0))
			ids, err := readIDs(filepath.Join(dir, "hnsw"+f[0]), o.Queries, o.K)
			if err != nil {
				return err
			}
			r.FAISSSweep = append(r.FAISSSweep, annPoint{ef, num(1), recallAtK(ids, truth, o.K)})
		}
	}
	if len(r.FAISSSweep) != len(a.EfSearch) {
		return fmt.Errorf("unexpected faiss output: %s", lastLine(out))
	}
	return nil
}

// writeFloats writes v as little-endian float32s.
func writeFloats(path string, v []float32) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var b [4]byte
	for _, x := range v {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(x))
		w.Write(b[:])
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// readIDs reads nq*k little-endian int64 result ids (-1: none).
func readIDs(path string, nq, k int) ([][]int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) != 8*nq*k {
		return nil, fmt.Errorf("%s: %d bytes, want %d", path, len(b), 8*nq*k)
	}
	ids := make([][]int, nq)
	for i := range ids {
		ids[i] = make([]int, k)
		for j := range ids[i] {
			ids[i][j] = int(int64(binary.LittleEndian.Uint64(b[8*(i*k+j):])))
		}
	}
	return ids, nil
}

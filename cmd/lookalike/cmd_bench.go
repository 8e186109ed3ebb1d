package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"time"

	"github.com/lookalike/lookalike/dataset"
	"github.com/lookalike/lookalike/hashing"
	"github.com/lookalike/lookalike/training"
)

type benchOptions struct {
	dataOptions
	Bits         int
	Epochs       int
	TorchScript  string
	TorchThreads int
	Python       string
	JSON         bool
	BitsList     intList
	Methods      string
	Out          string
	Seed         int64
	N, Queries   int
	K            int
	HNSW         bool
	Fresh        bool
	Models       string
	NoFAISS      bool
	Photos       string
	Report       string
	Index        string
	Clients      int
	Duration     time.Duration
	ANN          annBenchOptions
	Model        string
	Every        int
	Base         string
	BatchSize    int
	Optimizer    string
	LearningRate float64
}

// benchReport is what 'bench train' prints.
type benchReport struct {
	Network          string  `json:"network"`
	Bits             int     `json:"bits"`
	BatchSize        int     `json:"batch_size"`
	Cores            int     `json:"cores"`
	Epochs           int     `json:"epochs"`
	LookalikeImagesS float64 `json:"lookalike_images_per_s"`
	TorchImagesS     float64 `json:"torch_images_per_s,omitempty"`
	TorchThreads     int     `json:"torch_threads,omitempty"`
	TorchVersion     string  `json:"torch_version,omitempty"`
	Ratio            float64 `json:"ratio,omitempty"`
	TorchError       string  `json:"torch_error,omitempty"`
}

func init() {
	register(&command{
		Name:  "bench",
		Usage: "bench train [--epochs 2] [--bits 48] [--json]\n       lookalike bench quality [--methods a,b] [--bits 16,32,48,64] [--epochs 30] [--models a.lkm,b.lkm] [--out docs/results.md] [--fresh]\n       lookalike bench index [--n 1000000] [--bits 64] [--queries 1000] [--k 100] [--hnsw] [--json]\n       lookalike bench ann [--n 1000000] [--dim 256] [--queries 1000] [--k 10] [--m 16] [--ef-construction 100] [--json]\n       lookalike bench photos [--photos DIR] [--seed 0] [--report docs/neardup.md]\n       lookalike bench serve [--index DIR | --n 1000000 --bits 64] [--clients 16] [--duration 5s]\n       lookalike bench curve --methods gah,dsh [--bits 48] [--epochs 30] [--every 5] [--base dsh] [--batch 128] [--out docs/curve.md]",
		Short: "Measure training and search speed against PyTorch and FAISS",
		Long: `
Bench train trains DSH on the reference network (conv32-bn-relu-pool,
conv64-bn-relu-pool, fc512-relu, fc BITS; batch 128; Adam) over the fmnist-1k
training images for --epochs epochs and reports images/s, leaving out the
first step (graph compilation). It then runs the PyTorch reference
(shared/anchors/torch_dsh_fmnist.py, Debian python3-torch) for the same
epochs on the same machine, with --torch-threads threads, and prints both
rates and their ratio (Lookalike / PyTorch).

Bench quality trains every method (--methods, default all) at every code
length (--bits, default 16,32,48,64) on the protocol's training images,
evaluates each on the protocol, runs the PyTorch DSH reference at the same
lengths when dsh is selected (or says why not), and writes the results page
--out (default docs/results.md) with a PR-curve plot at 48 bits and a
mAP-against-bits plot beside it. The rows are kept in a JSON file beside the
page (docs/results.json): a run replaces the rows of the methods and lengths
it trained and keeps the others, so the table can be rebuilt a few methods
at a time; --fresh drops the kept rows. The page lists every run whose rows
it shows. With --models, it trains nothing: it evaluates the model files
given (trained by 'lookalike train' on the protocol) and adds their rows,
each naming the train command its model records.

Bench index builds the clustered workload of shared/anchors/faiss_hamming.py
(10 random centres, each bit flipped with probability 0.15; seed 0): --n
database codes and --queries queries of --bits bits. It times exact k-NN
over all queries (all cores) with Lookalike's engine, which picks the faster
exact method from a sample of the queries, then with each method alone: the
Hamming index's scan, which skips the clusters of codes too far from a
query, and multi-index hashing (on the first 200 queries). It checks their
recall against brute force, and runs FAISS (Debian python3-faiss) on the
very same codes in the same run: IndexBinaryFlat and, with --hnsw,
IndexBinaryHNSW (M 16, efSearch 256). It prints queries/s, recall, build
time and memory per item of each, and the engine's ratio to FAISS's
indexes; with --json, qps and recall are the engine's. Every search, ours
and FAISS's, runs --repeat times and the fastest counts: on a shared
machine single timings of the same search vary by a fifth.

Bench ann draws the workload of shared/anchors/faiss_float.py: --n database
vectors and --queries queries of --dim dimensions (default 256), each one
of 1000 random centres plus Gaussian noise of deviation 0.7 per dimension,
scaled to unit length (seed 0). It times exact inner-product search with
package vector's Flat index (the ground truth), builds package vector's
HNSW graph (--m, --ef-construction) on all cores, and sweeps efSearch
(--ef-search, default 10 to 256) measuring queries/s (the fastest of
--repeat passes, all cores) and recall@k (default k 10) against the ground
truth. It then hands the very same vectors to FAISS (Debian python3-faiss)
through temporary files: IndexFlatIP, and IndexHNSWFlat with
faiss_float.py's M 32 and efConstruction 100 (--faiss-m,
--faiss-ef-construction) swept over the same efSearch values, its recall
computed against the same ground truth. It prints each side's build time,
memory per item and sweep, the queries/s of each at the first efSearch
reaching --target-recall (default 0.95), and their ratio; with --json,
qps, recall and ef_search are Lookalike's at that point, faiss_* FAISS's.

Bench photos builds the near-duplicate benchmark of package neardup from the
photos of --photos (default: python3-skimage's): every original with one
copy per edit (crop of 10-80%, scale, rotation, flip, JPEG quality 10-90,
colour change, blur, overlaid text), drawn with --seed. Each original
queries all copies; it prints mAP and top-1 for raw pixels, the default
model's features and each pooling, multi-scale and whitened, and the
learned heads of package learned (Gordo et al.'s R-MAC projection and
SOLAR's attention and whitening, trained on openclipart-png images
disjoint from the benchmark's, with the same kinds of edits; skipped with
a note when those images are missing) and, on those training images'
R-MAC descriptors with an image's copies as its class, 64-bit codes of
the hashing methods of --methods (deep ones train the reference network's
fully connected part on the descriptors), then times
'index' on the copies (decode, resize, inference) next to the PyTorch
pipeline (scripts/torch_mobilenet_pipeline.py: PIL and torchvision's
MobileNetV2 at the same input size) and writes --report.

Bench serve serves the photo index or code store --index on a loopback port
and drives it with --clients concurrent clients searching by stored id
(k=10) for --duration; it prints requests/s, p50 and p99 latency and
errors. Without --index it first builds a code store of --n codes of --bits
bits (default 64) drawn as bench index draws them, in a temporary
directory, and reopens it as a restarted server would; for a code store it
also prints how many queries each batched scan answered. The clients run
in the same process: they share the cores with the server.

Bench curve trains each deep method of --methods (seed --seed, --epochs
epochs, default 30, batch --batch, optimizer --optimizer at --lr, annealed
along a cosine) and, after every --every epochs (default 5) and the
last, evaluates mAP@all of the model so far as 'lookalike eval' does
(queries and database encoded, Hamming ranking). It prints a table of
training step against mAP@all per method, and the step at which each
method first reaches the final mAP@all of the base method (--base, default
the last of --methods): a measure of how fast each converges. With --out
it also writes them as a markdown page (the command line, date, seed,
protocol, the table and the steps to reach the base's final mAP) with a
plot of mAP@all against step beside it (the page's name with .png).

Examples:

	lookalike bench train --epochs 2
	lookalike bench index --n 1000000 --bits 64 --queries 1000 --k 100
	lookalike bench index --model dsh48.lkm --protocol fmnist-full --k 100
	lookalike bench ann --n 1000000 --dim 256 --queries 1000
	lookalike bench quality --methods lsh,pcah,itq --bits 16,32,64
	lookalike bench photos
	lookalike bench serve --index photos.idx --clients 16 --duration 5s
	lookalike bench serve --n 1000000 --bits 64 --clients 16 --duration 10s
	lookalike bench curve --methods gah,dsh --bits 48 --epochs 30 --every 5 --out docs/curve.md`,
		Flags: func(fs *flag.FlagSet) runFunc {
			var o benchOptions
			o.dataOptions.AddFlags(fs, "training images")
			fs.Var(&o.BitsList, "bits", "code length (default 48 for train, 64 for index and serve); for quality a comma-separated list (default 16,32,48,64)")
			fs.StringVar(&o.Methods, "methods", "", "quality: comma-separated methods; photos: methods whose codes learn on descriptors (default all)")
			fs.StringVar(&o.Out, "out", "", "quality: results page to write (default docs/results.md; plots go beside it); curve: markdown page to write, its plot beside it (default none)")
			fs.Int64Var(&o.Seed, "seed", 0, "quality, curve: training seed; photos: edit seed")
			fs.IntVar(&o.N, "n", 1_000_000, "index, serve: database codes")
			fs.IntVar(&o.Queries, "queries", 1000, "index: queries")
			fs.IntVar(&o.K, "k", 100, "index: neighbours per query")
			fs.StringVar(&o.Models, "models", "", "quality: comma-separated trained model files to evaluate and add to the page, instead of training")
			fs.BoolVar(&o.Fresh, "fresh", false, "quality: drop the rows of earlier runs kept beside --out")
			fs.BoolVar(&o.HNSW, "hnsw", false, "index: also time FAISS IndexBinaryHNSW (slow to build)")
			fs.BoolVar(&o.NoFAISS, "no-faiss", false, "index: skip FAISS")
			fs.StringVar(&o.Model, "model", "", "index: real codes: the model's codes of --protocol's database and queries instead of clustered ones (--n, --queries and --bits then come from them)")
			fs.StringVar(&o.Photos, "photos", DefaultPhotos, "photos: folder of original photos")
			fs.StringVar(&o.Report, "report", "docs/neardup.md", "photos: page to write (empty: none)")
			fs.StringVar(&o.Index, "index", "", "serve: photo index or code store to serve (default: a synthetic store of --n codes)")
			fs.IntVar(&o.Clients, "clients", 16, "serve: concurrent clients")
			fs.DurationVar(&o.Duration, "duration", 5*time.Second, "serve: how long to drive the server")
			fs.IntVar(&o.Epochs, "epochs", 0, "train: epochs to time for each side (default 2); quality: epochs of deep methods (default: as train's)")
			fs.StringVar(&o.TorchScript, "torch-script", "../shared/anchors/torch_dsh_fmnist.py", "PyTorch reference script; empty skips it")
			fs.IntVar(&o.TorchThreads, "torch-threads", runtime.NumCPU(), "threads for PyTorch (Lookalike uses all cores)")
			fs.StringVar(&o.Python, "python", "/usr/bin/python3", "Python with Debian's python3-torch")
			fs.BoolVar(&o.JSON, "json", false, "print the report as JSON")
			fs.IntVar(&o.Every, "every", 5, "curve: evaluate after every this many epochs (and the last)")
			fs.IntVar(&o.BatchSize, "batch", 128, "curve: images per training step")
			fs.StringVar(&o.Optimizer, "optimizer", "", "curve: adam, or sgd (momentum 0.9) (default each method's: "+methodOptimizers()+")")
			fs.Float64Var(&o.LearningRate, "lr", 0, "curve: learning rate (default the optimizer's: adam 1e-3, sgd 0.01)")
			fs.StringVar(&o.Base, "base", "", "curve: method whose final mAP the others race to (default the last of --methods)")
			o.ANN.AddFlags(fs)
			return func(ctx context.Context, args []string, out, errw io.Writer) error {
				return runBench(ctx, o, args, out, errw)
			}
		},
	})
}

func runBench(ctx context.Context, o benchOptions, args []string, stdout, errw io.Writer) error {
	if len(args) != 1 {
		return badInput("usage: lookalike bench train|index|ann|quality|photos|serve|curve [flags]")
	}
	if len(o.BitsList) > 0 {
		o.Bits = o.BitsList[0]
	}
	switch args[0] {
	case "index":
		if o.Bits == 0 {
			o.Bits = 64
		}
		return runBenchIndex(ctx, o, stdout, errw)
	case "ann":
		return runBenchANN(ctx, o, stdout)
	case "photos":
		return runBenchPhotos(ctx, o, stdout, errw)
	case "serve":
		if o.Bits == 0 {
			o.Bits = 64
		}
		return runBenchServe(ctx, o, stdout, errw)
	case "quality":
		if o.Out == "" {
			o.Out = "docs/results.md"
		}
		return runBenchQuality(ctx, o, stdout, errw)
	case "curve":
		if o.Bits == 0 {
			o.Bits = 48
		}
		if o.Epochs == 0 {
			o.Epochs = 30
		}
		return runBenchCurve(ctx, o, stdout, errw)
	case "train":
	default:
		return badInput("usage: lookalike bench train|index|ann|quality|photos|serve|curve [flags]")
	}
	if o.Bits == 0 {
		o.Bits = 48
	}
	if o.Epochs == 0 {
		o.Epochs = 2
	}
	if o.Epochs < 1 {
		return badInput("--epochs must be at least 1")
	}
	split, err := o.split()
	if err != nil {
		return err
	}
	m, _ := hashing.Lookup("dsh")
	c := training.NewConfig(m.(hashing.Deep), o.Bits)
	c.Epochs = o.Epochs
	r := benchReport{Network: c.Net.String(), Bits: o.Bits, BatchSize: c.BatchSize, Cores: runtime.NumCPU(), Epochs: o.Epochs}
	rate, err := trainRate(ctx, c, split.Train)
	if err != nil {
		return err
	}
	r.LookalikeImagesS = rate
	if o.TorchScript != "" {
		r.TorchThreads = o.TorchThreads
		r.TorchVersion, r.TorchImagesS, err = torchRate(ctx, o, split.Train.Len())
		if err != nil {
			r.TorchError = err.Error()
		} else {
			r.Ratio = r.LookalikeImagesS / r.TorchImagesS
		}
	}
	if o.JSON {
		return writeJSON(stdout, r)
	}
	fmt.Fprintf(stdout, "training throughput, %s, batch %d, %d epochs of %d images, %d cores\n",
		r.Network, r.BatchSize, r.Epochs, split.Train.Len(), r.Cores)
	fmt.Fprintf(stdout, "  lookalike (GoMLX pure Go)      %8.0f images/s\n", r.LookalikeImagesS)
	if r.TorchError != "" {
		fmt.Fprintf(stdout, "  pytorch reference              not measured: %s\n", r.TorchError)
		return nil
	}
	if r.TorchImagesS > 0 {
		fmt.Fprintf(stdout, "  pytorch %-8s (%d threads)  %8.0f images/s\n", r.TorchVersion, r.TorchThreads, r.TorchImagesS)
		fmt.Fprintf(stdout, "  ratio lookalike/pytorch        %8.2fx\n", r.Ratio)
	}
	return nil
}

// trainRate trains for c.Epochs and returns images/s after the first step.
func trainRate(ctx context.Context, c training.Config, set *dataset.Set) (float64, error) {
	var images int
	var start time.Time
	c.OnStep = func(step, batch int) {
		if step == 1 {
			start = time.Now()
		} else {
			images += batch
		}
	}
	if _, err := training.Train(ctx, c, set); err != nil {
		return 0, err
	}
	return float64(images) / time.Since(start).Seconds(), nil
}

var torchLine = regexp.MustCompile(`torch (\S+) .*s/epoch=([0-9.]+)`)

// torchRate runs the PyTorch reference and converts its seconds per epoch
// (over n training images) to images/s.
func torchRate(ctx context.Context, o benchOptions, n int) (version string, rate float64, err error) {
	if _, err := os.Stat(o.TorchScript); err != nil {
		return "", 0, fmt.Errorf("reference script: %w", err)
	}
	cmd := exec.CommandContext(ctx, o.Python, o.TorchScript, strconv.Itoa(o.Bits), strconv.Itoa(o.Epochs))
	cmd.Env = append(os.Environ(), "THREADS="+strconv.Itoa(o.TorchThreads), "DATA="+o.Data)
	out, err := cmd.CombinedOutput()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) || errors.Is(err, exec.ErrNotFound) {
			return "", 0, fmt.Errorf("%s failed (is python3-torch installed?): %v: %s", o.Python, err, lastLine(out))
		}
		return "", 0, err
	}
	m := torchLine.FindSubmatch(out)
	if m == nil {
		return "", 0, fmt.Errorf("unexpected reference output: %s", lastLine(out))
	}
	secs, _ := strconv.ParseFloat(string(m[2]), 64)
	return string(m[1]), float64(n) / secs, nil
}

func lastLine(b []byte) string {
	s := string(b)
	for len(s) > 0 && s[len(s)-1] == '\n' {
		s = s[:len(s)-1]
	}
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '\n' {
			return s[i+1:]
		}
	}
	return s
}

package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lookalike/lookalike/codes"
	"github.com/lookalike/lookalike/eval"
	"github.com/lookalike/lookalike/hashing"
	"github.com/lookalike/lookalike/modelfile"
	"github.com/lookalike/lookalike/training"
)

// qualityRow is one trained and evaluated (method, bits): a row of the
// results page, kept with the run that made it in the page's JSON file.
type qualityRow struct {
	Method  string       `json:"method"`
	Bits    int          `json:"bits,omitempty"`
	Report  *eval.Report `json:"report,omitempty"`
	Seconds float64      `json:"training_s,omitempty"`
	Note    string       `json:"note,omitempty"`
	// Labelled is the number of labelled training images of a model
	// trained on scarce labels (train --labelled), 0 for all.
	Labelled int `json:"labelled,omitempty"`
	// Torch marks a row of the PyTorch reference script.
	Torch bool `json:"torch,omitempty"`
	// Epochs, Seed, Command and Date say which run made the row.
	Epochs  int    `json:"epochs,omitempty"`
	Seed    int64  `json:"seed"`
	Command string `json:"command"`
	Date    string `json:"date"`
	Cores   int    `json:"cores"`
}

// label is the row's method cell: the method, and how many labelled
// images it learned from when they were scarce.
func (r qualityRow) label() string {
	if r.Labelled > 0 {
		return fmt.Sprintf("%s (%d labels)", r.Method, r.Labelled)
	}
	return r.Method
}

// runBenchQuality trains and evaluates every selected method at every
// selected code length on one protocol and writes the results page.
func runBenchQuality(ctx context.Context, o benchOptions, stdout, errw io.Writer) error {
	if o.Models != "" {
		return runBenchQualityModels(ctx, o, stdout, errw)
	}
	methods := o.methodList()
	if len(o.BitsList) == 0 {
		o.BitsList = intList{16, 32, 48, 64}
	}
	lengths := []int(o.BitsList)
	for _, m := range methods {
		if _, err := hashing.Lookup(m); err != nil {
			return inputError{err}
		}
	}
	for _, b := range lengths {
		if err := codes.CheckBits(b); err != nil {
			return inputError{err}
		}
	}
	split, err := o.split()
	if err != nil {
		return err
	}
	start := time.Now()
	pixels, err := eval.Euclidean(split.Query.Pixels, split.Query.Labels, split.Database.Pixels, split.Database.Labels, split.Query.ImageSize())
	if err != nil {
		return err
	}
	fmt.Fprintf(errw, "euclidean on pixels: mAP@all %.4f (%.0f s)\n", pixels.MAPAll, time.Since(start).Seconds())
	run := qualityRow{Seed: o.Seed, Command: qualityCommand(o, split.Protocol), Date: time.Now().UTC().Format("2006-01-02"), Cores: runtime.NumCPU()}
	reference := run
	reference.Method, reference.Report, reference.Note = "euclidean (pixels, real-valued)", pixels, "reference"
	rows := []qualityRow{reference}
	for _, m := range methods {
		for _, b := range lengths {
			to := trainOptions{dataOptions: o.dataOptions, Method: m, Bits: b, Epochs: o.Epochs, BatchSize: 128,
				Schedule: "cosine", Seed: o.Seed, Filters: intList{32, 64}, Hidden: intList{512}, Quiet: true}
			start := time.Now()
			model, err := fit(ctx, to, split.Train, split.Unlabelled, split.Protocol, "", errw)
			if err != nil {
				return fmt.Errorf("%s %d bits: %w", m, b, err)
			}
			seconds := time.Since(start).Seconds()
			enc, err := model.Encoder()
			if err != nil {
				return err
			}
			r, err := evaluate(model, enc, split)
			if err != nil {
				return err
			}
			r.Protocol, r.Method, r.Seed = split.Protocol, m, o.Seed
			row := run
			row.Method, row.Bits, row.Report, row.Seconds = m, b, r, seconds
			if method, _ := hashing.Lookup(m); isDeep(method) {
				row.Epochs = model.Header.Training.Epochs
			}
			rows = append(rows, row)
			fmt.Fprintf(errw, "%s %d bits: mAP@all %.4f (%.0f s)\n", m, b, r.MAPAll, seconds)
		}
	}
	// The PyTorch reference trains as long as DSH did.
	torch := o
	if torch.Epochs == 0 {
		torch.Epochs = defaultEpochs(split.Train.Len())
	}
	for _, r := range torchRows(ctx, torch, methods, lengths, split.Protocol, errw) {
		r.Seed, r.Command, r.Date, r.Cores, r.Epochs, r.Torch = run.Seed, run.Command, run.Date, run.Cores, torch.Epochs, true
		rows = append(rows, r)
	}
	return saveResults(o, split.Protocol, rows, stdout)
}

// runBenchQualityModels evaluates trained model files (--models) on the
// protocol and adds their rows to the results page: a long training run
// made once with 'lookalike train' joins the table without training again.
// Each row names the train command that the model's header records.
func runBenchQualityModels(ctx context.Context, o benchOptions, stdout, errw io.Writer) error {
	split, err := o.split()
	if err != nil {
		return err
	}
	var rows []qualityRow
	for _, path := range strings.Split(o.Models, ",") {
		model, err := modelfile.ReadFile(path)
		if err != nil {
			return inputError{err}
		}
		h := model.Header
		if base, _, _ := strings.Cut(h.Training.Protocol, "/"); base != split.Protocol {
			return badInput("%s was trained on protocol %q, not %s: its training images may be among the queries", path, h.Training.Protocol, split.Protocol)
		}
		enc, err := model.Encoder()
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		r, err := evaluate(model, enc, split)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		r.Protocol, r.Method, r.Seed = split.Protocol, h.Method, h.Training.Seed
		labelled := 0
		if strings.Contains(h.Training.Protocol, "/labelled-") {
			labelled = h.Training.Images
		}
		rows = append(rows, qualityRow{
			Labelled: labelled, Method: h.Method, Bits: h.Bits, Report: r, Seconds: h.Training.Seconds, Epochs: h.Training.Epochs, Seed: h.Training.Seed,
			Command: trainCommand(h) + ", then lookalike bench quality --models", Date: time.Now().UTC().Format("2006-01-02"), Cores: runtime.NumCPU(),
		})
		fmt.Fprintf(errw, "%s (%s %d bits): mAP@all %.4f\n", path, h.Method, h.Bits, r.MAPAll)
		if labelled == 0 {
			// The PyTorch reference of a DSH model trains as long, in
			// this run.
			to := o
			to.Epochs, to.Seed = h.Training.Epochs, h.Training.Seed
			command := fmt.Sprintf("SEED=%d %s %s %d %d, run by lookalike bench quality --models", to.Seed, o.Python, o.TorchScript, h.Bits, to.Epochs)
			for _, t := range torchRows(ctx, to, []string{h.Method}, []int{h.Bits}, split.Protocol, errw) {
				t.Seed, t.Command, t.Date, t.Cores, t.Epochs, t.Torch = to.Seed, command, rows[len(rows)-1].Date, runtime.NumCPU(), to.Epochs, true
				rows = append(rows, t)
			}
		}
	}
	return saveResults(o, split.Protocol, rows, stdout)
}

// trainCommand is the train command line that the training record of a
// model header describes.
func trainCommand(h modelfile.Header) string {
	t := h.Training
	protocol, labelled, _ := strings.Cut(t.Protocol, "/labelled-")
	cmd := fmt.Sprintf("lookalike train --method %s --bits %d --protocol %s --epochs %d --seed %d", h.Method, h.Bits, protocol, t.Epochs, t.Seed)
	if t.BatchSize != 0 && t.BatchSize != 128 {
		cmd += fmt.Sprintf(" --batch %d", t.BatchSize)
	}
	if labelled != "" {
		cmd += " --labelled " + labelled
	}
	if f := intList(h.Network.Filters); !slices.Equal(f, intList{32, 64}) {
		cmd += " --filters " + f.String()
	}
	if hidden := intList(h.Network.Hidden); !slices.Equal(hidden, intList{512}) {
		cmd += " --hidden " + hidden.String()
	}
	// The flags name what differs from what train gives the method.
	opt, rate := training.Adam, training.DefaultLearningRate(training.Adam)
	if m, err := hashing.Lookup(h.Method); err == nil {
		if o, ok := m.(hashing.Optimized); ok {
			opt, rate = o.Optimizer()
		}
	}
	if used := cmp.Or(t.Optimizer, training.Adam); used != opt {
		cmd += " --optimizer " + used
		_, rate = chooseOptimizer(opt, rate, used, 0)
	}
	if t.LearningRate != 0 && t.LearningRate != rate {
		cmd += fmt.Sprintf(" --lr %g", t.LearningRate)
	}
	if t.Schedule != "cosine" {
		cmd += " --lr-schedule " + cmp.Or(t.Schedule, "constant")
	}
	return cmd
}

var torchMAP = regexp.MustCompile(`train_s=([0-9.]+).*mAP@all=([0-9.]+)`)

// torchRows runs the PyTorch DSH reference at each length when dsh is
// selected, or says why it could not.
func torchRows(ctx context.Context, o benchOptions, methods []string, lengths []int, protocol string, errw io.Writer) []qualityRow {
	selected := false
	for _, m := range methods {
		selected = selected || m == "dsh"
	}
	if !selected || protocol != "fmnist-1k" {
		return nil
	}
	var rows []qualityRow
	for _, b := range lengths {
		row := qualityRow{Method: "dsh (PyTorch reference)", Bits: b}
		cmd := exec.CommandContext(ctx, o.Python, o.TorchScript, strconv.Itoa(b), strconv.Itoa(o.Epochs))
		cmd.Env = append(os.Environ(), "THREADS="+strconv.Itoa(o.TorchThreads), "DATA="+o.Data, "SEED="+strconv.FormatInt(o.Seed, 10))
		out, err := cmd.CombinedOutput()
		m := torchMAP.FindSubmatch(out)
		if err != nil || m == nil {
			row.Note = fmt.Sprintf("not measured: %s %s failed (python3-torch missing? scripts/setup.sh --peers): %v", o.Python, o.TorchScript, err)
			rows = append(rows, row)
			break
		}
		row.Seconds, _ = strconv.ParseFloat(string(m[1]), 64)
		mapAll, _ := strconv.ParseFloat(string(m[2]), 64)
		row.Report = &eval.Report{MAPAll: mapAll}
		row.Note = "mAP@all only (the script computes no other metric)"
		fmt.Fprintf(errw, "pytorch dsh %d bits: mAP@all %.4f\n", b, mapAll)
		rows = append(rows, row)
	}
	return rows
}

// writeResults writes the markdown page and its plots.
func writeResults(o benchOptions, protocol string, rows, torch []qualityRow, stdout io.Writer) error {
	dir := filepath.Dir(o.Out)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("# Retrieval quality\n\nGenerated by `lookalike bench quality`; do not edit by hand. Each run replaces the rows of the methods and code lengths it trained and keeps the others (all are kept in " + filepath.Base(resultsJSON(o.Out)) + "; `--fresh` starts over). The rows come from these runs:\n\n")
	for _, r := range runsOf(append(slices.Clone(rows), torch...)) {
		fmt.Fprintf(&b, "- `%s` on %s (%d cores)\n", r.Command, r.Date, r.Cores)
	}
	fmt.Fprintf(&b, "\nProtocol %s (shared/protocols.md). Deep methods train for the epochs of their row; shallow methods learn from the training images' pixels. Training seconds are wall time on the machine of the run, shared with whatever else ran there.\n\n", protocol)
	unsupervised, supervised := bySupervision(rows)
	if len(unsupervised) > 0 {
		b.WriteString("## Unsupervised methods\n\nTrained without labels, shallow ones on the pixels and deep ones end to end on the same images; labels serve only to score the retrieval.\n\n")
		writeTable(&b, unsupervised, nil)
	}
	if len(supervised) > 0 || len(torch) > 0 {
		if len(unsupervised) > 0 {
			b.WriteString("\n")
		}
		b.WriteString("## Supervised methods\n\nTrained with the training images' labels.\n\n")
		writeTable(&b, supervised, torch)
	}
	prPlot := filepath.Join(dir, "pr-48.png")
	mapPlot := filepath.Join(dir, "map-bits.png")
	var curves []eval.Curve
	byMethod := map[string]*eval.Series{}
	var order []string
	for _, r := range rows {
		if r.Note == "reference" {
			continue
		}
		if r.Bits == 48 && r.Report.PR != nil {
			curves = append(curves, eval.Curve{Label: r.label(), Points: r.Report.PR})
		}
		s, ok := byMethod[r.label()]
		if !ok {
			s = &eval.Series{Label: r.label()}
			byMethod[r.label()] = s
			order = append(order, r.label())
		}
		s.X = append(s.X, float64(r.Bits))
		s.Y = append(s.Y, r.Report.MAPAll)
	}
	if len(curves) > 0 {
		if err := eval.WritePlot(prPlot, "PR curves at 48 bits, "+protocol, curves); err != nil {
			return err
		}
		fmt.Fprintf(&b, "\n![PR curves at 48 bits](%s)\n", filepath.Base(prPlot))
	}
	p := eval.LinePlot{Title: "mAP@all against code length, " + protocol, XLabel: "bits", YLabel: "mAP@all", Markers: true}
	for _, m := range order {
		p.Series = append(p.Series, *byMethod[m])
		p.XMax = max(p.XMax, byMethod[m].X[len(byMethod[m].X)-1])
	}
	p.XMax = 80 * math.Ceil(p.XMax/80) // ticks at multiples of 8
	if err := p.Write(mapPlot); err != nil {
		return err
	}
	fmt.Fprintf(&b, "\n![mAP against bits](%s)\n", filepath.Base(mapPlot))
	// The photo benchmark has its own generator and page; say where.
	b.WriteString("\nPretrained CNN descriptors (raw features, MAC, SPoC, R-MAC, GeM, PCA whitening, Gordo, SOLAR) and codes learned on them, on near-duplicates of real photos: [neardup.md](neardup.md), written by `lookalike bench photos`.\n")
	if err := codes.AtomicWrite(o.Out, func(w io.Writer) error { _, err := io.WriteString(w, b.String()); return err }); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\nwrote %s, %s and %s\n", b.String(), o.Out, prPlot, mapPlot)
	return nil
}

// bySupervision splits rows into those of methods trained without labels,
// led by the real-valued reference when there are any, and those of
// supervised ones; in each, the shallow methods come before the deep ones,
// and otherwise rows keep their order.
func bySupervision(rows []qualityRow) (unsupervised, supervised []qualityRow) {
	var reference []qualityRow
	shallowFirst := slices.Clone(rows)
	slices.SortStableFunc(shallowFirst, func(a, b qualityRow) int { return cmp.Compare(deepRank(a.Method), deepRank(b.Method)) })
	for _, r := range shallowFirst {
		if r.Note == "reference" {
			reference = append(reference, r)
			continue
		}
		if m, err := hashing.Lookup(r.Method); err == nil && m.Info().Supervised {
			supervised = append(supervised, r)
		} else {
			unsupervised = append(unsupervised, r)
		}
	}
	if len(unsupervised) > 0 || len(supervised) == 0 {
		unsupervised = append(reference, unsupervised...)
	} else {
		supervised = append(reference, supervised...)
	}
	return unsupervised, supervised
}

// deepRank is 1 for deep methods, 0 for the others.
func deepRank(method string) int {
	m, err := hashing.Lookup(method)
	if err != nil {
		return 0
	}
	if _, ok := m.(hashing.Deep); ok {
		return 1
	}
	return 0
}

// writeTable writes one results table of rows, then the PyTorch rows.
func writeTable(b *strings.Builder, rows, torch []qualityRow) {
	b.WriteString("| method | bits | mAP@all | P@r<=2 (empty) | mAP@1000 | training s | epochs |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		if r.Note == "reference" {
			fmt.Fprintf(b, "| %s | | %.4f | | %.4f | | |\n", r.Method, r.Report.MAPAll, r.Report.MAPAt1000)
			continue
		}
		pr2 := fmt.Sprintf("%.4f (%.0f%%)", r.Report.PR2, 100*r.Report.EmptyR2)
		if r.Report.PR == nil {
			pr2 = "n/a (asymmetric distance)"
		}
		fmt.Fprintf(b, "| %s | %d | %.4f | %s | %.4f | %.1f | %s |\n", r.label(), r.Bits, r.Report.MAPAll, pr2, r.Report.MAPAt1000, r.Seconds, epochsCell(r.Epochs))
	}
	for _, r := range torch {
		if r.Report == nil {
			fmt.Fprintf(b, "| %s | %d | %s | | | | |\n", r.Method, r.Bits, r.Note)
			continue
		}
		fmt.Fprintf(b, "| %s | %d | %.4f | | | %.1f | %s |\n", r.Method, r.Bits, r.Report.MAPAll, r.Seconds, epochsCell(r.Epochs))
	}
}

// methodList returns the selected methods, all by default.
func (o *benchOptions) methodList() []string {
	if o.Methods == "" {
		return hashing.Names()
	}
	return strings.Split(o.Methods, ",")
}

package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/lookalike/lookalike/codes"
	"github.com/lookalike/lookalike/dataset"
	"github.com/lookalike/lookalike/eval"
	"github.com/lookalike/lookalike/hashing"
	"github.com/lookalike/lookalike/modelfile"
	"github.com/lookalike/lookalike/training"
)

// curvePoint is one evaluation of a model during training.
type curvePoint struct {
	Epoch, Step int
	MAP         float64
}

// curve is the learning curve of one method.
type curve struct {
	Method string
	// Optimizer and Rate are those the method trained with.
	Optimizer string
	Rate      float64
	Points    []curvePoint
}

// reach returns the first point at or above target, or false.
func (c curve) reach(target float64) (curvePoint, bool) {
	for _, p := range c.Points {
		if p.MAP >= target {
			return p, true
		}
	}
	return curvePoint{}, false
}

// runBenchCurve trains every selected deep method and evaluates mAP@all
// after every --every epochs (and the last), then compares the steps each
// takes to reach the base method's final mAP.
func runBenchCurve(ctx context.Context, o benchOptions, stdout, errw io.Writer) error {
	if o.Methods == "" {
		return badInput("bench curve needs --methods (e.g. gah,dsh)")
	}
	if o.Every < 1 {
		return badInput("--every must be at least 1")
	}
	if o.Epochs < 1 {
		return badInput("--epochs must be at least 1")
	}
	if o.BatchSize < 2 {
		return badInput("--batch must be at least 2")
	}
	if err := training.CheckOptimizer(o.Optimizer); err != nil {
		return badInput("--optimizer: %v", err)
	}
	if o.LearningRate < 0 || math.IsNaN(o.LearningRate) || math.IsInf(o.LearningRate, 0) {
		return badInput("--lr %v must be positive", o.LearningRate)
	}
	if err := codes.CheckBits(o.Bits); err != nil {
		return inputError{err}
	}
	methods := o.methodList()
	base := o.Base
	if base == "" {
		base = methods[len(methods)-1]
	}
	for _, name := range append(methods, base) {
		m, err := hashing.Lookup(name)
		if err != nil {
			return inputError{err}
		}
		if _, ok := m.(hashing.Deep); !ok {
			return badInput("bench curve trains deep methods; %s is not one", name)
		}
	}
	train, split, protocol, err := o.curveData(errw)
	if err != nil {
		return err
	}
	var curves []curve
	stepsPerEpoch := 0
	for _, name := range uniq(append(append([]string{}, methods...), base)) {
		m, _ := hashing.Lookup(name)
		c := training.NewConfig(m.(hashing.Deep), o.Bits)
		c.Epochs, c.Seed, c.Protocol, c.BatchSize = o.Epochs, o.Seed, protocol, o.BatchSize
		c.Optimizer, c.LearningRate = chooseOptimizer(c.Optimizer, c.LearningRate, o.Optimizer, o.LearningRate)
		c.Net.Height, c.Net.Width, c.Net.Channels = train.Height, train.Width, train.Channels
		stepsPerEpoch = train.Len() / c.BatchSize
		cv := curve{Method: name, Optimizer: c.Optimizer, Rate: c.LearningRate}
		c.OnEpoch = func(epoch int, model *modelfile.Model) error {
			if epoch%o.Every != 0 && epoch != o.Epochs {
				return nil
			}
			enc, err := model.Encoder()
			if err != nil {
				return err
			}
			r, err := evaluate(model, enc, split)
			if err != nil {
				return err
			}
			cv.Points = append(cv.Points, curvePoint{Epoch: epoch, Step: epoch * stepsPerEpoch, MAP: r.MAPAll})
			fmt.Fprintf(errw, "%s epoch %d (step %d): mAP@all %.4f\n", name, epoch, epoch*stepsPerEpoch, r.MAPAll)
			return nil
		}
		start := time.Now()
		if _, err := training.Train(ctx, c, train); err != nil {
			return fmt.Errorf("bench curve: %s: %w", name, err)
		}
		fmt.Fprintf(errw, "%s: trained and evaluated in %.0f s\n", name, time.Since(start).Seconds())
		curves = append(curves, cv)
	}
	writeCurves(stdout, protocol, o, stepsPerEpoch, base, curves)
	if o.Out == "" {
		return nil
	}
	plot, err := writeCurvePage(o, protocol, stepsPerEpoch, base, curves)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s and %s\n", o.Out, plot)
	return nil
}

// optimizers describes what the curves trained with: one optimizer and
// rate, or each method's.
func optimizers(curves []curve) string {
	name := func(c curve) string {
		if c.Optimizer == training.SGD {
			return fmt.Sprintf("SGD with momentum %g at learning rate %g", training.SGDMomentum, c.Rate)
		}
		return fmt.Sprintf("Adam at learning rate %g", c.Rate)
	}
	same := true
	for _, c := range curves {
		same = same && name(c) == name(curves[0])
	}
	if same && len(curves) > 0 {
		return name(curves[0])
	}
	var parts []string
	for _, c := range curves {
		parts = append(parts, c.Method+" "+name(c))
	}
	return strings.Join(parts, ", ")
}

// curveData loads the training images and the queries and database: a
// protocol's split, or a folder whose every image is all three.
func (o benchOptions) curveData(errw io.Writer) (*dataset.Set, *dataset.Split, string, error) {
	if o.Images != "" {
		to := trainOptions{dataOptions: o.dataOptions}
		set, _, protocol, err := to.trainingSet(errw)
		if err != nil {
			return nil, nil, "", err
		}
		return set, &dataset.Split{Protocol: protocol, Train: set, Query: set, Database: set}, protocol, nil
	}
	split, err := o.split()
	if err != nil {
		return nil, nil, "", err
	}
	return split.Train, split, split.Protocol, nil
}

func uniq(names []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// writeCurves prints the step -> mAP table and the step at which each
// method first reaches the base method's final mAP.
func writeCurves(w io.Writer, protocol string, o benchOptions, stepsPerEpoch int, base string, curves []curve) {
	fmt.Fprintf(w, "learning curves, %s, %d bits, %d epochs of %d steps, seed %d: mAP@all\n",
		protocol, o.Bits, o.Epochs, stepsPerEpoch, o.Seed)
	fmt.Fprintf(w, "%6s %6s", "step", "epoch")
	for _, c := range curves {
		fmt.Fprintf(w, " %8s", c.Method)
	}
	fmt.Fprintln(w)
	for i := range curves[0].Points {
		p := curves[0].Points[i]
		fmt.Fprintf(w, "%6d %6d", p.Step, p.Epoch)
		for _, c := range curves {
			fmt.Fprintf(w, " %8.4f", c.Points[i].MAP)
		}
		fmt.Fprintln(w)
	}
	target := finalMAP(base, curves)
	fmt.Fprintf(w, "base %s final mAP@all %.4f\n", base, target)
	for _, c := range curves {
		if p, ok := c.reach(target); ok {
			fmt.Fprintf(w, "%s reaches it at step %d (epoch %d)\n", c.Method, p.Step, p.Epoch)
		} else {
			fmt.Fprintf(w, "%s does not reach it within %d epochs\n", c.Method, o.Epochs)
		}
	}
}

// finalMAP is the base method's last mAP@all.
func finalMAP(base string, curves []curve) float64 {
	for _, c := range curves {
		if c.Method == base {
			return c.Points[len(c.Points)-1].MAP
		}
	}
	return 0
}

// curveCommand is the command line that reproduces a curve page.
func curveCommand(o benchOptions, protocol, base string) string {
	data := "--protocol " + protocol
	if o.Images != "" {
		data = "--images " + o.Images
	}
	opt := ""
	if o.Optimizer != "" {
		opt = " --optimizer " + o.Optimizer
	}
	if o.LearningRate != 0 {
		opt += fmt.Sprintf(" --lr %g", o.LearningRate)
	}
	return fmt.Sprintf("lookalike bench curve %s --methods %s --base %s --bits %d --epochs %d --every %d --batch %d%s --seed %d --out %s",
		data, strings.Join(o.methodList(), ","), base, o.Bits, o.Epochs, o.Every, o.BatchSize, opt, o.Seed, o.Out)
}

// writeCurvePage writes the learning curves as the markdown page o.Out,
// with a plot of mAP@all against training step beside it (the page's name
// with .png), and returns the plot's path.
func writeCurvePage(o benchOptions, protocol string, stepsPerEpoch int, base string, curves []curve) (string, error) {
	dir := filepath.Dir(o.Out)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	plot := strings.TrimSuffix(o.Out, filepath.Ext(o.Out)) + ".png"
	var b strings.Builder
	fmt.Fprintf(&b, "# Learning curves\n\nGenerated by `%s` on %s (%d cores); do not edit by hand.\n\n",
		curveCommand(o, protocol, base), time.Now().UTC().Format("2006-01-02"), runtime.NumCPU())
	fmt.Fprintf(&b, "Protocol %s, %d bits, seed %d, %d epochs of %d steps (batch %d, %s, cosine schedule); mAP@all after every %d epochs and the last, "+
		"queries and database encoded and ranked by Hamming distance as `lookalike eval` does.\n\n",
		protocol, o.Bits, o.Seed, o.Epochs, stepsPerEpoch, o.BatchSize, optimizers(curves), o.Every)
	b.WriteString("| step | epoch |")
	for _, c := range curves {
		fmt.Fprintf(&b, " %s |", c.Method)
	}
	b.WriteString("\n|---:|---:|")
	b.WriteString(strings.Repeat("---:|", len(curves)))
	b.WriteString("\n")
	for i, p := range curves[0].Points {
		fmt.Fprintf(&b, "| %d | %d |", p.Step, p.Epoch)
		for _, c := range curves {
			fmt.Fprintf(&b, " %.4f |", c.Points[i].MAP)
		}
		b.WriteString("\n")
	}
	target := finalMAP(base, curves)
	fmt.Fprintf(&b, "\n## Steps to reach %s's final mAP@all (%.4f)\n\n| method | steps | epoch |\n|---|---:|---:|\n", base, target)
	for _, c := range curves {
		if p, ok := c.reach(target); ok {
			fmt.Fprintf(&b, "| %s | %d | %d |\n", c.Method, p.Step, p.Epoch)
		} else {
			fmt.Fprintf(&b, "| %s | not within %d | |\n", c.Method, o.Epochs*stepsPerEpoch)
		}
	}
	p := eval.LinePlot{Title: fmt.Sprintf("mAP@all against training step, %s, %d bits", protocol, o.Bits),
		XLabel: "step", YLabel: "mAP@all", XMax: float64(o.Epochs * stepsPerEpoch), Markers: true}
	for _, c := range curves {
		s := eval.Series{Label: c.Method}
		for _, pt := range c.Points {
			s.X = append(s.X, float64(pt.Step))
			s.Y = append(s.Y, pt.MAP)
		}
		p.Series = append(p.Series, s)
	}
	if err := p.Write(plot); err != nil {
		return "", err
	}
	fmt.Fprintf(&b, "\n![mAP@all against step](%s)\n", filepath.Base(plot))
	err := codes.AtomicWrite(o.Out, func(w io.Writer) error { _, err := io.WriteString(w, b.String()); return err })
	return plot, err
}

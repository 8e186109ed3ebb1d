package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/lookalike/lookalike/codes"
	"github.com/lookalike/lookalike/dataset"
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
	Points []curvePoint
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
		c.Net.Height, c.Net.Width, c.Net.Channels = train.Height, train.Width, train.Channels
		stepsPerEpoch = train.Len() / c.BatchSize
		cv := curve{Method: name}
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
	return nil
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
	var target float64
	for _, c := range curves {
		if c.Method == base {
			target = c.Points[len(c.Points)-1].MAP
		}
	}
	fmt.Fprintf(w, "base %s final mAP@all %.4f\n", base, target)
	for _, c := range curves {
		if p, ok := c.reach(target); ok {
			fmt.Fprintf(w, "%s reaches it at step %d (epoch %d)\n", c.Method, p.Step, p.Epoch)
		} else {
			fmt.Fprintf(w, "%s does not reach it within %d epochs\n", c.Method, o.Epochs)
		}
	}
}

package training

import (
	"fmt"
	"io"
	"time"
)

// progress draws one self-rewriting line: epoch, step, loss and images/s.
type progress struct {
	w          io.Writer
	total      int
	start      time.Time
	last       time.Time
	images     int
	firstStep  int
	drawn      bool
	lossMoving float64
}

func newProgress(w io.Writer, total int) *progress {
	return &progress{w: w, total: total, start: time.Now()}
}

func (p *progress) step(epoch, epochs, step int, loss float64, batch int) {
	if p.w == nil {
		return
	}
	if p.firstStep == 0 {
		// The first step compiles the graph; leave it out of the rate.
		p.firstStep, p.start = step, time.Now()
		p.lossMoving = loss
	} else {
		p.images += batch
		p.lossMoving = 0.9*p.lossMoving + 0.1*loss
	}
	now := time.Now()
	if p.drawn && now.Sub(p.last) < 200*time.Millisecond && step != p.total {
		return
	}
	p.last, p.drawn = now, true
	rate := float64(p.images) / max(now.Sub(p.start).Seconds(), 1e-9)
	width := 30
	filled := width * step / max(p.total, 1)
	bar := make([]byte, width)
	for i := range bar {
		if i < filled {
			bar[i] = '#'
		} else {
			bar[i] = '.'
		}
	}
	fmt.Fprintf(p.w, "\r[%s] epoch %d/%d step %d/%d loss %.4f %.0f images/s ", bar, epoch, epochs, step, p.total, p.lossMoving, rate)
}

func (p *progress) done() {
	if p.w != nil && p.drawn {
		fmt.Fprintln(p.w)
	}
}

package eval

import (
	"fmt"
	"html"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"path/filepath"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/lookalike/lookalike/codes"
)

// Curve is one labelled precision-recall curve.
type Curve struct {
	Label  string
	Points []PRPoint
}

// Plot geometry, in pixels.
const (
	plotW, plotH            = 640, 480
	marginL, marginR        = 60, 20
	marginT, marginB        = 40, 50
	innerW, innerH          = plotW - marginL - marginR, plotH - marginT - marginB
	legendX, legendY, lineH = marginL + 10, marginT + 16, 16
)

var palette = []color.RGBA{
	{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255},
	{148, 103, 189, 255}, {140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255},
}

// xy maps (x, y) in [0,1]^2 to pixel coordinates.
func xy(x, y float64) (int, int) {
	return marginL + int(x*innerW+0.5), marginT + innerH - int(y*innerH+0.5)
}

// Series is one labelled line of a LinePlot, X and Y of equal length.
type Series struct {
	Label string
	X, Y  []float64
}

// LinePlot is a line chart with a y axis from 0 to 1 and an x axis from
// XMin to XMax.
type LinePlot struct {
	Title, XLabel, YLabel string
	XMin, XMax            float64
	Series                []Series
	// Markers draws a marker at every point, so that a series of one
	// point (a method measured at one code length) still shows, and
	// before each label of the legend. Series that share a colour (the
	// palette repeats after 8) get different shapes: filled squares,
	// diamonds, then hollow squares.
	Markers bool
}

// markerR is the half side of a marker, in pixels.
const markerR = 3

// shape is the marker shape of the i-th series.
func shape(i int) int { return i / len(palette) % 3 }

// inMarker reports whether the pixel (dx, dy) from a marker's centre is
// painted in the series colour for shape s.
func inMarker(s, dx, dy int) bool {
	switch s {
	case 1: // diamond
		return abs(dx)+abs(dy) <= markerR+1
	case 2: // hollow square
		return max(abs(dx), abs(dy)) == markerR
	}
	return max(abs(dx), abs(dy)) <= markerR
}

// svgMarker writes the marker of shape s at (x, y).
func svgMarker(b *strings.Builder, s, x, y int, col color.RGBA) {
	switch s {
	case 1:
		r := markerR + 1
		fmt.Fprintf(b, `<polygon points="%d,%d %d,%d %d,%d %d,%d" fill="rgb(%d,%d,%d)"/>`+"\n", x, y-r, x+r, y, x, y+r, x-r, y, col.R, col.G, col.B)
	case 2:
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="white" stroke="rgb(%d,%d,%d)"/>`+"\n", x-markerR, y-markerR, 2*markerR, 2*markerR, col.R, col.G, col.B)
	default:
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="rgb(%d,%d,%d)"/>`+"\n", x-markerR, y-markerR, 2*markerR+1, 2*markerR+1, col.R, col.G, col.B)
	}
}

// pngMarker paints the marker of shape s at (x, y).
func pngMarker(img *image.RGBA, s, x, y int, col color.RGBA) {
	for dy := -markerR - 1; dy <= markerR+1; dy++ {
		for dx := -markerR - 1; dx <= markerR+1; dx++ {
			if inMarker(s, dx, dy) {
				img.Set(x+dx, y+dy, col)
			}
		}
	}
}

// legendText is where a legend label starts: after its marker, if any.
func (p LinePlot) legendText() int {
	if p.Markers {
		return legendX + 2*markerR + 6
	}
	return legendX
}

// WritePlot writes curves as precision (y) against recall (x) to path, as
// SVG or PNG by its extension.
func WritePlot(path, title string, curves []Curve) error {
	p := LinePlot{Title: title, XLabel: "recall", YLabel: "precision", XMin: 0, XMax: 1}
	for _, c := range curves {
		s := Series{Label: c.Label}
		for _, pt := range c.Points {
			s.X = append(s.X, pt.Recall)
			s.Y = append(s.Y, pt.Precision)
		}
		p.Series = append(p.Series, s)
	}
	return p.Write(path)
}

// Write writes the plot to path, as SVG or PNG by its extension.
func (p LinePlot) Write(path string) error {
	ext := strings.ToLower(filepath.Ext(path))
	if ext != ".svg" && ext != ".png" {
		return fmt.Errorf("eval: plot file %s must end in .svg or .png", path)
	}
	return codes.AtomicWrite(path, func(w io.Writer) error {
		if ext == ".svg" {
			return p.svg(w)
		}
		return p.png(w)
	})
}

// scale maps a data point to the unit square.
func (p LinePlot) scale(x, y float64) (float64, float64) {
	return (x - p.XMin) / max(p.XMax-p.XMin, 1e-12), y
}

// tick returns the label of the i-th of 10 x-axis ticks.
func (p LinePlot) tick(i int) string {
	v := p.XMin + (p.XMax-p.XMin)*float64(i)/10
	if p.XMax-p.XMin >= 10 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func (p LinePlot) svg(w io.Writer) error {
	title := p.Title
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", plotW, plotH)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="24" font-size="14">%s</text>`+"\n", marginL, html.EscapeString(title))
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="black"/>`+"\n", marginL, marginT, innerW, innerH)
	for i := 0; i <= 10; i++ {
		v := float64(i) / 10
		x, _ := xy(v, 0)
		_, y := xy(0, v)
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#ddd"/>`, x, marginT, x, marginT+innerH)
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#ddd"/>`+"\n", marginL, y, marginL+innerW, y)
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`, x, marginT+innerH+16, p.tick(i))
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%.1f</text>`+"\n", marginL-6, y+4, v)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`+"\n", marginL+innerW/2, plotH-12, html.EscapeString(p.XLabel))
	fmt.Fprintf(&b, `<text x="16" y="%d" transform="rotate(-90 16 %d)" text-anchor="middle">%s</text>`+"\n", marginT+innerH/2, marginT+innerH/2, html.EscapeString(p.YLabel))
	for i, c := range p.Series {
		col := palette[i%len(palette)]
		var pts []string
		for j := range c.X {
			x, y := xy(p.scale(c.X[j], c.Y[j]))
			pts = append(pts, fmt.Sprintf("%d,%d", x, y))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="rgb(%d,%d,%d)" stroke-width="2" points="%s"/>`+"\n", col.R, col.G, col.B, strings.Join(pts, " "))
		if p.Markers {
			for j := range c.X {
				x, y := xy(p.scale(c.X[j], c.Y[j]))
				svgMarker(&b, shape(i), x, y, col)
			}
			svgMarker(&b, shape(i), legendX+markerR, legendY+i*lineH-4, col)
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="rgb(%d,%d,%d)">%s</text>`+"\n", p.legendText(), legendY+i*lineH, col.R, col.G, col.B, html.EscapeString(c.Label))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func (p LinePlot) png(w io.Writer) error {
	img := image.NewRGBA(image.Rect(0, 0, plotW, plotH))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	grey := color.RGBA{221, 221, 221, 255}
	for i := 0; i <= 10; i++ {
		v := float64(i) / 10
		x, _ := xy(v, 0)
		_, y := xy(0, v)
		line(img, x, marginT, x, marginT+innerH, grey)
		line(img, marginL, y, marginL+innerW, y, grey)
		text(img, x-8, marginT+innerH+16, p.tick(i), color.Black)
		text(img, marginL-30, y+4, fmt.Sprintf("%.1f", v), color.Black)
	}
	x0, y0 := xy(0, 0)
	x1, y1 := xy(1, 1)
	for _, s := range [][4]int{{x0, y0, x1, y0}, {x0, y1, x1, y1}, {x0, y0, x0, y1}, {x1, y0, x1, y1}} {
		line(img, s[0], s[1], s[2], s[3], color.Black)
	}
	text(img, marginL, 24, p.Title, color.Black)
	text(img, marginL+innerW/2-20, plotH-12, p.XLabel, color.Black)
	text(img, 4, marginT-8, p.YLabel, color.Black)
	for i, c := range p.Series {
		col := palette[i%len(palette)]
		for j := 1; j < len(c.X); j++ {
			ax, ay := xy(p.scale(c.X[j-1], c.Y[j-1]))
			bx, by := xy(p.scale(c.X[j], c.Y[j]))
			line(img, ax, ay, bx, by, col)
			line(img, ax, ay+1, bx, by+1, col)
		}
		if p.Markers {
			for j := range c.X {
				x, y := xy(p.scale(c.X[j], c.Y[j]))
				pngMarker(img, shape(i), x, y, col)
			}
			pngMarker(img, shape(i), legendX+markerR, legendY+i*lineH-4, col)
		}
		text(img, p.legendText(), legendY+i*lineH, c.Label, col)
	}
	return png.Encode(w, img)
}

// line draws with Bresenham's algorithm.
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.Color) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for {
		img.Set(x0, y0, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

func text(img *image.RGBA, x, y int, s string, c color.Color) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func sign(x int) int {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return 0
}

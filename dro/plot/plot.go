// Package plot draws tDRO's figures with gonum/plot: the domain weights
// over training steps, and the final weights per domain next to uniform
// (the paper's Figure 3). Each figure is written as PNG and SVG.
package plot

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/tdro/tdro/internal/plotfile"
)

// Formats are the file formats every figure is written in.
var Formats = []string{"png", "svg"}

// palette is Tableau-10 plus two, distinct enough for a dozen domains;
// beyond that, dashes tell lines of the same colour apart.
var palette = []color.RGBA{
	{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255},
	{148, 103, 189, 255}, {140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255},
	{188, 189, 34, 255}, {23, 190, 207, 255}, {0, 0, 128, 255}, {128, 128, 0, 255},
}

var dashes = [][]vg.Length{nil, {vg.Points(6), vg.Points(3)}, {vg.Points(2), vg.Points(2)}}

func style(i int) (color.Color, []vg.Length) {
	return palette[i%len(palette)], dashes[(i/len(palette))%len(dashes)]
}

// Trajectories draws each domain's weight against the step: steps[t] is
// the step of row alpha[t], and alpha[t][g] domain g's weight then. A grey
// dashed line marks uniform (1/k). It writes base.png and base.svg.
func Trajectories(base, title string, names []string, steps []int, alpha [][]float64) error {
	k := len(names)
	if k == 0 {
		return errors.New("plot: no domains")
	}
	if len(steps) == 0 || len(steps) != len(alpha) {
		return fmt.Errorf("plot: %d steps for %d rows of weights", len(steps), len(alpha))
	}
	p := gplot.New()
	p.Title.Text = title
	p.X.Label.Text = "step"
	p.Y.Label.Text = "domain weight"
	p.Add(plotter.NewGrid())
	minW, maxW := 1/float64(k), 1/float64(k)
	for g := range k {
		pts := make(plotter.XYs, len(steps))
		for t := range steps {
			if len(alpha[t]) != k {
				return fmt.Errorf("plot: row %d has %d weights for %d domains", t, len(alpha[t]), k)
			}
			pts[t] = plotter.XY{X: float64(steps[t]), Y: alpha[t][g]}
			minW, maxW = math.Min(minW, alpha[t][g]), math.Max(maxW, alpha[t][g])
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return fmt.Errorf("plot %s: %w", names[g], err)
		}
		line.Color, line.Dashes = style(g)
		line.Width = vg.Points(1.5)
		p.Add(line)
		p.Legend.Add(names[g], line)
	}
	uniform, err := uniformLine(float64(steps[0]), float64(steps[len(steps)-1]), 1/float64(k))
	if err != nil {
		return err
	}
	p.Add(uniform)
	p.Legend.Add(fmt.Sprintf("uniform (1/%d)", k), uniform)
	// Zoom on the weights' range (uniform included): early in a run they
	// move by fractions of a percent, invisible on [0,1].
	pad := math.Max((maxW-minW)*0.08, 0.005)
	p.Y.Min, p.Y.Max = math.Max(0, minW-pad), math.Min(1, maxW+pad)
	p.Y.Tick.Marker = labelledTicks{}
	return save(base, p, vg.Points(640), vg.Points(360))
}

func uniformLine(x0, x1, y float64) (*plotter.Line, error) {
	if x1 == x0 {
		x1 = x0 + 1
	}
	line, err := plotter.NewLine(plotter.XYs{{X: x0, Y: y}, {X: x1, Y: y}})
	if err != nil {
		return nil, err
	}
	line.Color = color.Gray{Y: 110}
	line.Dashes = []vg.Length{vg.Points(4), vg.Points(4)}
	line.Width = vg.Points(1)
	return line, nil
}

// Bars draws the final weight of each domain as a horizontal bar next to
// the uniform weight 1/k (the paper's Figure 3), domains in the given
// order from the top. It writes base.png and base.svg.
func Bars(base, title string, names []string, weights []float64) error {
	k := len(names)
	if k == 0 {
		return errors.New("plot: no domains")
	}
	if len(weights) != k {
		return fmt.Errorf("plot: %d weights for %d domains", len(weights), k)
	}
	// Horizontal bars are drawn bottom-up: reverse so the first domain is on top.
	learned := make(plotter.Values, k)
	uniform := make(plotter.Values, k)
	labels := make([]string, k)
	for g := range k {
		learned[k-1-g] = weights[g]
		uniform[k-1-g] = 1 / float64(k)
		labels[k-1-g] = names[g]
	}
	height := vg.Points(9)
	p := gplot.New()
	p.Title.Text = title
	p.X.Label.Text = "domain weight"
	p.Add(plotter.NewGrid())
	uBars, err := plotter.NewBarChart(uniform, height)
	if err != nil {
		return err
	}
	uBars.Horizontal = true
	uBars.Color = color.Gray{Y: 190}
	uBars.LineStyle.Width = 0
	uBars.Offset = height / 2
	wBars, err := plotter.NewBarChart(learned, height)
	if err != nil {
		return err
	}
	wBars.Horizontal = true
	wBars.Color = palette[0]
	wBars.LineStyle.Width = 0
	wBars.Offset = -height / 2
	p.Add(uBars, wBars)
	p.Legend.Add("tDRO", wBars)
	p.Legend.Add(fmt.Sprintf("uniform (1/%d)", k), uBars)
	// The learned value at the end of each bar.
	var ends plotter.XYs
	var texts []string
	maxW := 1 / float64(k)
	for i, v := range learned {
		ends = append(ends, plotter.XY{X: v, Y: float64(i)})
		texts = append(texts, fmt.Sprintf(" %.3f", v))
		maxW = math.Max(maxW, v)
	}
	values, err := plotter.NewLabels(plotter.XYLabels{XYs: ends, Labels: texts})
	if err != nil {
		return err
	}
	for i := range values.TextStyle {
		values.TextStyle[i].YAlign = draw.YTop
		values.TextStyle[i].Font.Size = vg.Points(8)
	}
	p.Add(values)
	p.NominalY(labels...)
	p.X.Min, p.X.Max = 0, maxW*1.15
	p.X.Tick.Marker = labelledTicks{}
	p.Y.Min, p.Y.Max = -0.7, float64(k)-0.3
	return save(base, p, vg.Points(560), vg.Points(math.Max(220, float64(60+24*k))))
}

// labelledTicks labels five to ten evenly spaced round values (1, 2 or 5
// times a power of ten); gonum's default labels only two or three.
type labelledTicks struct{}

func (labelledTicks) Ticks(lo, hi float64) []gplot.Tick {
	if !(hi > lo) {
		return gplot.DefaultTicks{}.Ticks(lo, hi)
	}
	// The largest of 1, .5, .2, .1, .05 times the range's power of ten that
	// still cuts the range into at least four steps.
	base := math.Pow(10, math.Floor(math.Log10(hi-lo)))
	step := base / 20
	for _, m := range []float64{1, 0.5, 0.2, 0.1} {
		if (hi-lo)/(m*base) >= 4-1e-9 {
			step = m * base
			break
		}
	}
	var ticks []gplot.Tick
	for i := math.Ceil(lo/step - 1e-9); i*step <= hi+1e-12; i++ {
		v := i * step
		if v == 0 {
			v = 0 // not -0
		}
		ticks = append(ticks, gplot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', decimals(step), 64)})
	}
	return ticks
}

// decimals is how many decimals show a multiple of step exactly.
func decimals(step float64) int {
	return max(0, int(math.Ceil(-math.Log10(step)-1e-9)))
}

// save draws p with its legend to the right of the plot area and writes
// base.<format> for every format, atomically.
func save(base string, p *gplot.Plot, w, h vg.Length) error {
	return plotfile.Save(strings.TrimSuffix(base, filepath.Ext(base)), p, w, h, true, Formats...)
}

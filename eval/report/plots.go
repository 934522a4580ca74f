package report

import (
	"fmt"
	"image/color"
	"math"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/tdro/tdro/eval"
	"github.com/tdro/tdro/eval/metrics"
	"github.com/tdro/tdro/internal/plotfile"
)

// palette is Tableau-10: distinct, colour-blind-friendlier colours.
var palette = []color.RGBA{
	{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255},
	{148, 103, 189, 255}, {140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255},
	{188, 189, 34, 255}, {23, 190, 207, 255},
}

// DatasetBars draws the table as horizontal grouped bars: one group per
// dataset (top to bottom in table order), one bar per run. It returns SVG.
func DatasetBars(t *Table) ([]byte, error) {
	nd, nr := len(t.Datasets), len(t.Runs)
	if nd == 0 || nr == 0 {
		return nil, fmt.Errorf("report: empty table")
	}
	barH := vg.Points(7)
	if nr > 3 {
		barH = vg.Points(18 / float64(nr))
	}
	p := gplot.New()
	p.Title.Text = fmt.Sprintf("%s per dataset", t.Measure)
	p.X.Label.Text = t.Measure.String()
	p.Add(plotter.NewGrid())
	labels := make([]string, nd)
	for i, ds := range t.Datasets {
		labels[nd-1-i] = ds
	}
	top := 0.0
	for j, run := range t.Runs {
		vals := make(plotter.Values, nd)
		for i := range t.Datasets {
			if c := t.Cells[i][j]; c.OK {
				vals[nd-1-i] = c.Value
				top = max(top, c.Value)
			}
		}
		bars, err := plotter.NewBarChart(vals, barH)
		if err != nil {
			return nil, err
		}
		bars.Horizontal = true
		bars.Color = palette[j%len(palette)]
		bars.LineStyle.Width = 0
		// The first run's bar on top within each group.
		bars.Offset = barH * vg.Length(float64(nr-1)/2-float64(j))
		p.Add(bars)
		p.Legend.Add(run, bars)
	}
	p.NominalY(labels...)
	p.X.Min = 0
	if top > 0 {
		p.X.Max = 1.05 * top // the longest bar ends inside the frame
	}
	height := vg.Points(70) + vg.Length(nd)*(barH*vg.Length(nr)+vg.Points(8))
	return svg(p, vg.Points(640), height, true)
}

// DiffHistogram draws the distribution of per-query differences of m (run
// minus baseline) pooled over every dataset both runs scored, with the
// mean difference and zero marked. It returns SVG.
func DiffHistogram(r *eval.Results, run, baseline string, m metrics.Measure) ([]byte, error) {
	ra, rb := r.Run(run), r.Run(baseline)
	if ra == nil || rb == nil {
		return nil, fmt.Errorf("report: runs %q and %q must both be in the results", run, baseline)
	}
	var diffs plotter.Values
	for _, d := range ra.Datasets {
		bd := rb.Dataset(d.Dataset)
		if bd == nil {
			continue
		}
		a, b, err := Paired(d, bd, m)
		if err != nil {
			return nil, fmt.Errorf("report: %s: %w", d.Dataset, err)
		}
		for i := range a {
			diffs = append(diffs, a[i]-b[i])
		}
	}
	if len(diffs) == 0 {
		return nil, fmt.Errorf("report: %s and %s share no dataset", run, baseline)
	}
	wins, losses, mean := 0, 0, 0.0
	for _, x := range diffs {
		mean += x
		if x > 0 {
			wins++
		} else if x < 0 {
			losses++
		}
	}
	mean /= float64(len(diffs))
	p := gplot.New()
	p.Title.Text = fmt.Sprintf("%s − %s, %s per query (n=%d: %d better, %d worse, %d tied)",
		run, baseline, m, len(diffs), wins, losses, len(diffs)-wins-losses)
	p.X.Label.Text = fmt.Sprintf("difference in %s", m)
	p.Y.Label.Text = "queries"
	p.Add(plotter.NewGrid())
	h, err := plotter.NewHist(diffs, 40)
	if err != nil {
		return nil, err
	}
	h.FillColor = palette[0]
	h.LineStyle.Color = color.White
	h.LineStyle.Width = vg.Points(0.5)
	p.Add(h)
	ymax := 0.0
	for _, b := range h.Bins {
		ymax = math.Max(ymax, b.Weight)
	}
	for _, v := range []struct {
		x     float64
		col   color.Color
		label string
	}{{0, color.Gray{Y: 90}, "no difference"}, {mean, palette[3], fmt.Sprintf("mean %+.4f", mean)}} {
		l, err := plotter.NewLine(plotter.XYs{{X: v.x, Y: 0}, {X: v.x, Y: ymax * 1.05}})
		if err != nil {
			return nil, err
		}
		l.Color = v.col
		l.Width = vg.Points(1.5)
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(l)
		p.Legend.Add(v.label, l)
	}
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.XOffs = vg.Points(4)
	return svg(p, vg.Points(640), vg.Points(300), true)
}

// svg renders p for inlining in HTML, with its legend to the right of the
// axes when legendOutside (so it never hides bars).
func svg(p *gplot.Plot, w, h vg.Length, legendOutside bool) ([]byte, error) {
	return plotfile.InlineSVG(p, w, h, legendOutside)
}

package study

import (
	"fmt"
	"image/color"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/tdro/tdro/internal/plotfile"
)

// errPoints are points with vertical error bars: plotter.XYer and YErrorer.
type errPoints struct {
	plotter.XYs
	plotter.YErrors
}

// PlotDifferences draws every run's mean difference to the baseline with
// its interval (the study's answer as a figure: intervals, not points),
// and a line at 0. It writes base.svg and base.png.
func (r *Report) PlotDifferences(base string, skip ...string) error {
	p := gplot.New()
	p.Title.Text = fmt.Sprintf("%s minus %s, %d seeds (%.0f%% intervals)", r.Measure, r.Options.Baseline, len(r.Seeds), 100*r.Options.Level)
	p.Y.Label.Text = "difference"
	p.Add(plotter.NewGrid())
	var pts errPoints
	var names []string
	skipped := map[string]bool{}
	for _, s := range skip {
		skipped[s] = true
	}
	for _, rw := range r.Runs {
		if skipped[rw.Run] {
			continue
		}
		d := rw.Diff.Diff
		pts.XYs = append(pts.XYs, plotter.XY{X: float64(len(names)), Y: d.Mean})
		pts.YErrors = append(pts.YErrors, struct{ Low, High float64 }{d.Mean - d.Lo, d.Hi - d.Mean})
		names = append(names, rw.Run)
	}
	if len(names) == 0 {
		return fmt.Errorf("study plot: no runs")
	}
	sc, err := plotter.NewScatter(pts)
	if err != nil {
		return err
	}
	sc.GlyphStyle.Color = color.RGBA{31, 119, 180, 255}
	sc.GlyphStyle.Radius = vg.Points(3)
	bars, err := plotter.NewYErrorBars(pts)
	if err != nil {
		return err
	}
	bars.Color = sc.GlyphStyle.Color
	zero, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: 0}, {X: float64(len(names)) - 0.5, Y: 0}})
	if err != nil {
		return err
	}
	zero.Color = color.Gray{Y: 120}
	zero.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(zero, bars, sc)
	p.NominalX(names...)
	p.X.Min, p.X.Max = -0.5, float64(len(names))-0.5
	return plotfile.Save(base, p, vg.Length(1.1*float64(len(names))+2.5)*vg.Inch, 3.2*vg.Inch, false, "svg", "png")
}

package pipeline

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/tdro/tdro/internal/plotfile"
)

// Curve is one training run's loss over steps.
type Curve struct {
	Name  string
	Steps []float64
	Loss  []float64
}

// ReadLossLog reads the per-step "step" and "loss" fields of a training
// JSONL log. Lines without a numeric loss (headers, eval lines) are skipped.
func ReadLossLog(path, name string) (Curve, error) {
	c := Curve{Name: name}
	f, err := os.Open(path)
	if err != nil {
		return c, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for line := 1; sc.Scan(); line++ {
		var rec struct {
			Step *float64 `json:"step"`
			Loss *float64 `json:"loss"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return c, fmt.Errorf("%s line %d: %w", path, line, err)
		}
		if rec.Step == nil || rec.Loss == nil {
			continue
		}
		c.Steps = append(c.Steps, *rec.Step)
		c.Loss = append(c.Loss, *rec.Loss)
	}
	if err := sc.Err(); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	if len(c.Loss) == 0 {
		return c, fmt.Errorf("%s: no lines with \"step\" and \"loss\"", path)
	}
	return c, nil
}

// smooth is an exponential moving average, so that curves of noisy
// per-batch losses can be told apart.
func smooth(y []float64, beta float64) []float64 {
	out := make([]float64, len(y))
	avg := 0.0
	for i, v := range y {
		avg = beta*avg + (1-beta)*v
		out[i] = avg / (1 - pow(beta, i+1)) // bias-corrected like Adam's moments
	}
	return out
}

func pow(b float64, n int) float64 {
	r := 1.0
	for ; n > 0; n-- {
		r *= b
	}
	return r
}

// PlotLossCurves draws the smoothed training losses into base.png and
// base.svg and returns the PNG's path.
func PlotLossCurves(curves []Curve, title, base string) (string, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "step"
	p.Y.Label.Text = "InfoNCE loss (EMA 0.9)"
	p.Y.Tick.Marker = distinctTicks{}
	p.Legend.Top = true // losses fall from the upper left: the upper right corner is where the curves are not
	for i, c := range curves {
		pts := make(plotter.XYs, len(c.Loss))
		ys := smooth(c.Loss, 0.9)
		for j := range pts {
			pts[j].X, pts[j].Y = c.Steps[j], ys[j]
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return "", fmt.Errorf("loss curve %s: %w", c.Name, err)
		}
		line.Color = plotutil.Color(i)
		line.Width = vg.Points(1.5)
		line.Dashes = plotutil.Dashes(i)
		p.Add(line)
		p.Legend.Add(c.Name, line)
	}
	p.Add(plotter.NewGrid())
	return savePlot(p, base)
}

func savePlot(p *plot.Plot, base string) (string, error) {
	return base + ".png", plotfile.Save(base, p, 8*vg.Inch, 4*vg.Inch, false, "svg", "png")
}

// distinctTicks is gonum's default ticker with labels that never repeat:
// over a narrow range (a loss between 1.9 and 2.1) the default's short
// labels can print two ticks as "2". Labels get one more decimal until
// the major ticks all read differently.
type distinctTicks struct{}

func (distinctTicks) Ticks(min, max float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(min, max)
	for prec := 0; prec <= 6 && repeats(ticks); prec++ {
		for i := range ticks {
			if ticks[i].Label != "" {
				ticks[i].Label = strconv.FormatFloat(ticks[i].Value, 'f', prec, 64)
			}
		}
	}
	return ticks
}

func repeats(ticks []plot.Tick) bool {
	seen := map[string]bool{}
	for _, t := range ticks {
		if t.Label == "" {
			continue
		}
		if seen[t.Label] {
			return true
		}
		seen[t.Label] = true
	}
	return false
}

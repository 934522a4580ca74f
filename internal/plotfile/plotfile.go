// Package plotfile renders gonum plots the one way tdro's reports use:
// optionally with the legend to the right of the axes (so it never hides
// data), as SVG for inlining and as files written atomically.
package plotfile

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/tdro/tdro/internal/atomicfile"
)

// Render draws p at w x h in format ("svg", "png", ...). With
// legendOutside the legend is drawn in a column right of the axes.
func Render(p *plot.Plot, w, h vg.Length, format string, legendOutside bool) ([]byte, error) {
	c, err := draw.NewFormattedCanvas(w, h, format)
	if err != nil {
		return nil, err
	}
	dc := draw.New(c)
	if legendOutside {
		legend := p.Legend
		p.Legend = plot.NewLegend() // drawn by hand, outside the axes
		defer func() { p.Legend = legend }()
		legend.Top, legend.Left = true, true
		r := legend.Rectangle(dc)
		lw := r.Max.X - r.Min.X + vg.Points(20)
		p.Draw(draw.Crop(dc, 0, -lw, 0, 0))
		legend.Draw(draw.Crop(dc, w-lw+vg.Points(8), 0, 0, -vg.Points(28)))
	} else {
		p.Draw(dc)
	}
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// InlineSVG is Render as SVG without the XML prolog, for embedding in HTML.
func InlineSVG(p *plot.Plot, w, h vg.Length, legendOutside bool) ([]byte, error) {
	b, err := Render(p, w, h, "svg", legendOutside)
	if err != nil {
		return nil, err
	}
	if i := bytes.Index(b, []byte("<svg")); i > 0 {
		b = b[i:]
	}
	return b, nil
}

// Save writes base.<format> for each format, atomically, creating base's
// directory.
func Save(base string, p *plot.Plot, w, h vg.Length, legendOutside bool, formats ...string) error {
	if err := os.MkdirAll(filepath.Dir(base), 0o755); err != nil {
		return err
	}
	for _, format := range formats {
		b, err := Render(p, w, h, format, legendOutside)
		if err != nil {
			return fmt.Errorf("plot %s.%s: %w", base, format, err)
		}
		if err := atomicfile.WriteFile(base+"."+format, b); err != nil {
			return err
		}
	}
	return nil
}

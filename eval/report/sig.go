package report

import (
	"fmt"
	"html/template"
	"strings"

	"github.com/tdro/tdro/eval"
	"github.com/tdro/tdro/eval/significance"
)

// SigRow is one run tested against the baseline on one dataset and measure.
type SigRow struct {
	Measure  string `json:"measure"`
	Run      string `json:"run"`
	Baseline string `json:"baseline"`
	Dataset  string `json:"dataset"`
	significance.Result
	Mark string `json:"mark"`
}

// Significance lists the p-values behind the tables' marks: every run
// against o.Baseline, per measure and dataset (nil without a baseline).
func Significance(r *eval.Results, o Options) ([]SigRow, error) {
	if o.Baseline == "" {
		return nil, nil
	}
	var rows []SigRow
	for _, m := range o.measures() {
		t, err := NewTable(r, m, o)
		if err != nil {
			return nil, err
		}
		for j, run := range t.Runs {
			for i, ds := range t.Datasets {
				if c := t.Cells[i][j]; c.Test != nil {
					rows = append(rows, SigRow{Measure: m.String(), Run: run, Baseline: o.Baseline, Dataset: ds, Result: *c.Test, Mark: c.Mark()})
				}
			}
		}
	}
	return rows, nil
}

// SigMarkdown renders the p-value rows as a Markdown table.
func SigMarkdown(rows []SigRow) string {
	if len(rows) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("| measure | run | dataset | n | Δ mean | t | p (t-test) | p (randomization) | |\n|---|---|---|---:|---:|---:|---:|---:|---|\n")
	for _, r := range rows {
		exact := ""
		if r.Exact {
			exact = " (exact)"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %+.4f | %.3f | %.3g | %.3g%s | %s |\n",
			r.Measure, mdEscape(r.Run), mdEscape(r.Dataset), r.N, r.MeanDiff, r.T, r.PTTest, r.PRandom, exact, r.Mark)
	}
	return b.String()
}

// SigHTML renders the p-value rows as an HTML table (class tdro-details).
func SigHTML(rows []SigRow) template.HTML {
	if len(rows) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(`<table class="tdro-details tdro-sig"><thead><tr><th>measure</th><th>run</th><th>dataset</th><th>n</th><th>Δ mean</th><th>t</th><th>p (t-test)</th><th>p (randomization)</th><th></th></tr></thead><tbody>`)
	for _, r := range rows {
		exact := ""
		if r.Exact {
			exact = " (exact)"
		}
		fmt.Fprintf(&b, `<tr><td class="l">%s</td><td class="l">%s</td><td class="l">%s</td><td>%d</td><td>%+.4f</td><td>%.3f</td><td>%.3g</td><td>%.3g%s</td><td class="l"><sup class="sig">%s</sup></td></tr>`,
			template.HTMLEscapeString(r.Measure), template.HTMLEscapeString(r.Run), template.HTMLEscapeString(r.Dataset),
			r.N, r.MeanDiff, r.T, r.PTTest, r.PRandom, exact, r.Mark)
	}
	b.WriteString("</tbody></table>")
	return template.HTML(b.String())
}

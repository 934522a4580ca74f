package report

import (
	"bytes"
	"fmt"
	"html/template"
	"sort"
	"strings"
	"time"

	"github.com/tdro/tdro/eval"
)

// HTMLTable renders the table as an HTML fragment (<table class="tdro-results">)
// with the same content as Markdown: best in bold, marks, mean row. Cells
// carry the p-values in a tooltip.
func (t *Table) HTMLTable() template.HTML {
	var b strings.Builder
	b.WriteString(`<table class="tdro-results"><thead><tr><th>dataset</th>`)
	for _, r := range t.Runs {
		cls := ""
		if r == t.Baseline {
			cls = ` class="baseline"`
		}
		fmt.Fprintf(&b, "<th%s>%s</th>", cls, template.HTMLEscapeString(r))
	}
	b.WriteString("</tr></thead><tbody>")
	row := func(name string, cells []Cell, cls string) {
		fmt.Fprintf(&b, `<tr%s><th scope="row">%s</th>`, cls, template.HTMLEscapeString(name))
		for _, c := range cells {
			b.WriteString(c.html())
		}
		b.WriteString("</tr>")
	}
	for i, ds := range t.Datasets {
		row(ds, t.Cells[i], "")
	}
	row(t.MeanLabel(), t.Mean, ` class="mean"`)
	b.WriteString("</tbody></table>")
	return template.HTML(b.String())
}

func (c Cell) html() string {
	if !c.OK {
		return `<td class="na">–</td>`
	}
	v := fmt.Sprintf("%.4f", c.Value)
	if c.Best {
		v = "<b>" + v + "</b>"
	}
	title := ""
	if c.Test != nil {
		title = fmt.Sprintf(` title="Δ=%+.4f over %d queries; t-test p=%.3g, randomization p=%.3g"`,
			c.Test.MeanDiff, c.Test.N, c.Test.PTTest, c.Test.PRandom)
	}
	// Every cell has a mark slot of the same width, so the numbers of a
	// column stay aligned whether or not they carry a mark.
	return fmt.Sprintf(`<td%s>%s<sup class="sig">%s</sup></td>`, title, v, c.Mark())
}

// HTMLTables renders one table per measure (see Markdown) as HTML.
func HTMLTables(r *eval.Results, o Options) (template.HTML, error) {
	var b strings.Builder
	for _, m := range o.measures() {
		t, err := NewTable(r, m, o)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "<h3>%s</h3>\n%s\n", template.HTMLEscapeString(m.String()), t.HTMLTable())
	}
	return template.HTML(b.String()), nil
}

type pageSection struct {
	Measure string
	Table   template.HTML
	Bars    template.HTML
}

type pageDiff struct {
	Run  string
	Plot template.HTML
}

type pageDetail struct {
	Run, Dataset string
	Stats        eval.Stats
	Timing       eval.Timing
	Warnings     []string
}

type page struct {
	Title     string
	Generated string
	Baseline  string
	Legend    string
	Runs      []string
	Datasets  int
	Sections  []pageSection
	Diffs     []pageDiff
	// Instructions are Instructions(r): the query instruction per dataset.
	Instructions [][2]string
	DiffOf       string
	Details      []pageDetail
	Sig          template.HTML
	CSS          template.CSS
}

// CSS styles the fragments (HTMLTable); embed it once in a page that uses them.
const CSS = `
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#222;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}h3{margin:1.4rem 0 .5rem}
.meta{color:#666;font-size:.9rem}
table.tdro-results,table.tdro-details{border-collapse:collapse;font-variant-numeric:tabular-nums;margin:.5rem 0 1rem}
table.tdro-results th,table.tdro-results td,table.tdro-details th,table.tdro-details td{padding:.28rem .7rem;border-bottom:1px solid #e5e5e5}
table.tdro-results td,table.tdro-details td{text-align:right}
table.tdro-results thead th,table.tdro-details thead th{border-bottom:2px solid #888;text-align:right;white-space:nowrap}
table.tdro-results thead th:first-child,table.tdro-results tbody th,table.tdro-details th:first-child,table.tdro-details td.l{text-align:left}
table.tdro-results tbody th{font-weight:normal;white-space:nowrap}
table.tdro-results tr.mean{border-top:2px solid #888}table.tdro-results tr.mean th{font-style:italic}
table.tdro-results tr.mean td,table.tdro-results tr.mean th{border-top:2px solid #888}
table.tdro-results th.baseline{color:#555}
table.tdro-results tbody tr:hover{background:#f5f8fc}
sup.sig{color:#b3261e;font-weight:bold;display:inline-block;width:.8em;margin-left:1px;text-align:left}
.legend{font-size:.9rem;color:#444}
figure{margin:1rem 0}figure svg{max-width:100%;height:auto}
.warn{color:#8a5300}
table.tdro-details td.l{white-space:nowrap}
table.tdro-details thead th:nth-child(-n+2),table.tdro-sig thead th:nth-child(3){text-align:left}
table.tdro-details td.warn{white-space:normal}
`

var pageTmpl = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>{{.CSS}}</style></head><body>
<h1>{{.Title}}</h1>
<p class="meta">{{len .Runs}} runs × {{.Datasets}} datasets{{if .Baseline}} · baseline: <b>{{.Baseline}}</b>{{end}} · generated {{.Generated}}</p>
{{if .Legend}}<p class="legend">{{.Legend}} Hover a cell for the difference and both p-values.</p>{{end}}
{{range .Sections}}<h2>{{.Measure}}</h2>
{{.Table}}
<figure>{{.Bars}}</figure>
{{end}}
{{if .Sig}}<h2>Significance against {{.Baseline}}</h2>
{{.Sig}}{{end}}
{{if .Diffs}}<h2>Per-query differences against {{.Baseline}} ({{.DiffOf}})</h2>
{{range .Diffs}}<figure>{{.Plot}}</figure>{{end}}{{end}}
<h2>Query instructions</h2>
<table class="tdro-details"><thead><tr><th>dataset</th><th>instruction — runs</th></tr></thead><tbody>
{{range .Instructions}}<tr><td class="l">{{index . 0}}</td><td class="l">{{index . 1}}</td></tr>
{{end}}</tbody></table>
<h2>Details</h2>
<table class="tdro-details"><thead><tr><th>run</th><th>dataset</th><th>docs</th><th>queries</th><th>evaluated</th><th>empty q.</th><th>unknown judged</th><th>encode s</th><th>search s</th><th>tokens/s</th><th>cached</th></tr></thead><tbody>
{{range .Details}}<tr><td class="l">{{.Run}}</td><td class="l">{{.Dataset}}</td><td>{{.Stats.Docs}}</td><td>{{.Stats.Queries}}</td><td>{{.Stats.Evaluated}}</td><td>{{.Stats.EmptyQueries}}</td><td>{{.Stats.UnknownJudged}}</td><td>{{if .Timing.EncodeCorpus}}{{printf "%.1f" .Timing.EncodeCorpus}}{{else}}–{{end}}</td><td>{{printf "%.2f" .Timing.Search}}</td><td>{{if .Timing.TokensPerSecond}}{{printf "%.0f" .Timing.TokensPerSecond}}{{else}}–{{end}}</td><td>{{if .Timing.Cached}}yes{{else}}no{{end}}</td></tr>
{{range .Warnings}}<tr><td></td><td class="l warn" colspan="10">⚠ {{.}}</td></tr>{{end}}{{end}}
</tbody></table>
</body></html>
`))

// HTML renders a self-contained page: the tables of Markdown with a bar
// plot per measure, the per-query difference distribution of every run
// against the baseline (first measure), and per-dataset counts, timings and
// warnings. Plots are inline SVG.
func HTML(r *eval.Results, title string, o Options) ([]byte, error) {
	pg := page{Title: title, Generated: time.Now().UTC().Format("2006-01-02 15:04 UTC"), Baseline: o.Baseline,
		Runs: runNames(r), Datasets: len(r.Datasets()), CSS: template.CSS(CSS)}
	if o.Baseline != "" {
		pg.Legend = Legend(o.Baseline)
	}
	ms := o.measures()
	for _, m := range ms {
		t, err := NewTable(r, m, o)
		if err != nil {
			return nil, err
		}
		bars, err := DatasetBars(t)
		if err != nil {
			return nil, err
		}
		pg.Sections = append(pg.Sections, pageSection{Measure: m.String(), Table: t.HTMLTable(), Bars: template.HTML(bars)})
	}
	sig, err := Significance(r, o)
	if err != nil {
		return nil, err
	}
	pg.Sig = SigHTML(sig)
	if o.Baseline != "" {
		pg.DiffOf = ms[0].String()
		for _, run := range r.Runs {
			if run.Name == o.Baseline {
				continue
			}
			svg, err := DiffHistogram(r, run.Name, o.Baseline, ms[0])
			if err != nil {
				return nil, err
			}
			pg.Diffs = append(pg.Diffs, pageDiff{Run: run.Name, Plot: template.HTML(svg)})
		}
	}
	pg.Instructions = Instructions(r)
	for _, run := range r.Runs {
		for _, d := range run.Datasets {
			pg.Details = append(pg.Details, pageDetail{Run: run.Name, Dataset: d.Dataset, Stats: d.Stats, Timing: d.Timing, Warnings: d.Warnings})
		}
	}
	sort.SliceStable(pg.Details, func(i, j int) bool { return pg.Details[i].Dataset < pg.Details[j].Dataset })
	var b bytes.Buffer
	if err := pageTmpl.Execute(&b, pg); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

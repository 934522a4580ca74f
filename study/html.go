package study

import (
	"bytes"
	"fmt"
	"html/template"
)

var page = template.Must(template.New("study").Funcs(template.FuncMap{
	"iv":  ivText,
	"p":   pText,
	"num": num,
	"diff": func(p Paired) string {
		return fmt.Sprintf("%+.4f [%+.4f, %+.4f]", p.Diff.Mean, p.Diff.Lo, p.Diff.Hi)
	},
	"signed": func(v float64) string { return fmt.Sprintf("%+.4f", v) },
	"pv":     func(v float64) string { return fmt.Sprintf("%.2g", v) },
	"pct":    func(v float64) string { return fmt.Sprintf("%.0f%%", 100*v) },
}).Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>{{.Title}}</title><style>{{.CSS}}</style></head><body>
<h1>{{.Title}}</h1>
<p>Mean {{.R.Measure}} over {{len .R.Sets}} evaluation sets and {{len .R.Seeds}} seeds; differences against {{.R.Options.Baseline}} paired by seed, {{pct .R.Options.Level}} t intervals, paired t-test.</p>
<table><tr><th>run</th><th>mean</th><th>difference</th><th>p</th><th>MDE (80% power)</th></tr>
<tr><td>{{.R.Baseline.Run}}</td><td>{{iv .R.Baseline.Mean}}</td><td>—</td><td>—</td><td>—</td></tr>
{{range .R.Runs}}<tr><td>{{.Run}}</td><td>{{iv .Mean}}</td><td>{{diff .Diff}}</td><td>{{p .Diff.P .Diff.Diff.N}}</td><td>{{num .MDE}}</td></tr>
{{end}}</table>
<ul>{{range .R.Runs}}<li>{{.Verdict}}</li>{{end}}</ul>
{{if .Plot}}<p><img src="{{.Plot}}" alt="differences with intervals"></p>{{end}}
<h2>Per set</h2>
<p>Mean over seeds with its interval; Δ is the mean over queries of the seed-averaged difference; p from a paired t-test over queries, Holm-corrected within each run.</p>
<table><tr><th>run</th><th>set</th><th>mean</th><th>Δ</th><th>p</th><th>p (Holm)</th></tr>
{{range .R.PerSet}}<tr><td>{{.Run}}</td><td>{{.Set}}</td><td>{{iv .Mean}}</td><td>{{signed .Diff}}</td><td>{{pv .P}}</td><td>{{pv .Holm}}</td></tr>
{{end}}</table>
{{range .R.Learned}}<h2>{{.Learner}}'s weights across seeds</h2>
<p>Rank correlation between seeds: mean {{num .RankCorrelation}}, min {{num .MinRankCorrelation}}.</p>
<table><tr><th>domain</th><th>weight</th><th>sd</th></tr>
{{range .Weights}}<tr><td>{{.Domain}}</td><td>{{printf "%.4f" .Mean}}</td><td>{{printf "%.4f" .SD}}</td></tr>
{{end}}</table>{{end}}
{{.Extra}}
</body></html>
`))

// HTML renders the report as a page, leading with the answer; plot is the
// differences figure's path relative to the page ("" for none), css the
// style sheet and extra trusted HTML appended at the end (a cost table).
func (r *Report) HTML(title, plot, css string, extra template.HTML) ([]byte, error) {
	var b bytes.Buffer
	err := page.Execute(&b, struct {
		Title, Plot string
		CSS         template.CSS
		R           *Report
		Extra       template.HTML
	}{title, plot, template.CSS(css), r, extra})
	return b.Bytes(), err
}

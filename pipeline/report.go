package pipeline

import (
	"bytes"
	"fmt"
	"html/template"
	"path/filepath"
	"strings"
	texttemplate "text/template"
	"time"

	evalreport "github.com/tdro/tdro/eval/report"
	"github.com/tdro/tdro/internal/atomicfile"
)

// Report is everything report.md and report.html show. Paths are relative
// to the run directory, where both reports live.
type Report struct {
	Title     string
	Command   string
	Config    string // preset / config file
	Generated time.Time
	Total     string        // sum of the stages' wall times
	TotalCPU  string        // sum of the stages' CPU times
	Stages    []DiagramNode // every stage, for the table
	Diagram   []DiagramNode // the data flow, for the figure
	Notes     []string

	Learner     string // what learned the stage-1 weights: tDRO, DoReMi, RegMix
	WeightsPlot string // uniform vs learned weights bar chart (stage 1's plot)
	TrajPlot    string // weight trajectories over steps (dro's plot)
	Weights     []WeightRow

	Mixtures []MixtureRow

	LossPlot string

	ResultsMarkdown string        // eval's Markdown tables (datasets x runs, significance marks, legend)
	ResultsHTML     template.HTML // the same tables in HTML
	ResultsLegend   string        // the significance legend under the HTML tables
	ResultsPlot     string        // nDCG@10 per dataset and run (eval's bar chart, SVG)

	HeldOut *HeldOutTable // prepare.heldout_per_domain: every model's in-domain retrieval
}

// HeldOutTable is every model's nDCG@10 on the held-out records of each
// training domain.
type HeldOutTable struct {
	PerDomain int // held-out records per domain
	Domains   []string
	Rows      []HeldOutRow
}

// HeldOutRow is one model's line.
type HeldOutRow struct {
	Run    string
	Mean   float64
	Scores []float64 // in Domains' order
}

// WeightRow is one domain's learned weight.
type WeightRow struct {
	Domain, Language string
	Records          int
	Uniform, TDRO    float64
	Selected         map[string]bool // mixture name -> domain kept
}

// MixtureRow is the data one fine-tuning mixture draws from.
type MixtureRow struct {
	Name      string
	Strategy  string
	Domains   int
	Records   int
	Tokens    int64
	PctRecord float64 // of the uniform mixture's records
	PctTokens float64
}

var reportFuncs = map[string]any{
	"pct":         func(v float64) string { return fmt.Sprintf("%.1f%%", v) },
	"w":           func(v float64) string { return fmt.Sprintf("%.3f", v) },
	"num":         thousands,
	"num64":       func(v int64) string { return thousands(int(v)) },
	"diagramText": DiagramText,
	"diagramSVG":  func(n []DiagramNode) template.HTML { return template.HTML(DiagramSVG(n)) },
	"css":         func() template.CSS { return template.CSS(evalreport.CSS) },
	"mark": func(b bool) string {
		if b {
			return "✓"
		}
		return ""
	},
}

func thousands(n int) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[0] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

const reportMD = `# {{.Title}}

Generated {{.Generated.Format "2006-01-02 15:04 UTC"}} by ` + "`{{.Command}}`" + ` ({{.Config}}). Total wall time of the stages: **{{.Total}}** (CPU time {{.TotalCPU}}).

## Pipeline

` + "```" + `
{{diagramText .Diagram}}` + "```" + `

| stage | what | wall time | CPU time | this run |
|---|---|---:|---:|---|
{{range .Stages}}| {{.Name}} | {{.Label}} | {{.Time}} | {{.CPU}} | {{.Status}} |
{{end}}
{{range .Notes}}- {{.}}
{{end}}
## Learned domain weights (stage 1, {{.Learner}})

![uniform vs {{.Learner}} weights]({{.WeightsPlot}})
{{if .TrajPlot}}
![weight trajectories]({{.TrajPlot}})
{{end}}
| domain | language | records | uniform | {{.Learner}} |{{range $m, $_ := (index .Weights 0).Selected}} {{$m}} |{{end}}
|---|---|---:|---:|---:|{{range (index .Weights 0).Selected}}:-:|{{end}}
{{range .Weights}}| {{.Domain}} | {{.Language}} | {{num .Records}} | {{w .Uniform}} | {{w .TDRO}} |{{range .Selected}} {{mark .}} |{{end}}
{{end}}
## Data used per mixture

Records and tokens (queries and positive passages, run's tokenizer) of the domains each mixture samples from.

| mixture | strategy | domains | records | tokens | records vs uniform | tokens vs uniform |
|---|---|---:|---:|---:|---:|---:|
{{range .Mixtures}}| {{.Name}} | {{.Strategy}} | {{.Domains}} | {{num .Records}} | {{num64 .Tokens}} | {{pct .PctRecord}} | {{pct .PctTokens}} |
{{end}}
## Training loss

![loss curves]({{.LossPlot}})

## Retrieval results

{{.ResultsMarkdown}}
![nDCG@10 per dataset]({{.ResultsPlot}})
{{with .HeldOut}}
## In-domain retrieval on held-out training records

nDCG@10 on {{.PerDomain}} records per training domain held out of all training (each domain's queries against its own passages and hard negatives): the split to tune a recipe on, apart from the evaluation sets.

| run | mean |{{range .Domains}} {{.}} |{{end}}
|---|---:|{{range .Domains}}---:|{{end}}
{{range .Rows}}| {{.Run}} | {{w .Mean}} |{{range .Scores}} {{w .}} |{{end}}
{{end}}{{end}}`

const reportHTML = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>{{css}}
body { font-family: -apple-system, "Segoe UI", Roboto, "Noto Sans", "Noto Sans CJK SC", sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1.2em; color: #222; line-height: 1.45; }
h1 { font-size: 1.7em; margin-bottom: .2em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; padding-bottom: .2em; }
.meta { color: #555; } code { background: #f3f3f3; padding: 0 .3em; border-radius: 3px; }
table { border-collapse: collapse; margin: .8em 0; font-size: .93em; }
th, td { border: 1px solid #d6d6d6; padding: .3em .65em; } th { background: #f2f5fa; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; } td.c { text-align: center; }
img { max-width: 100%; border: 1px solid #eee; } .diagram { overflow-x: auto; }
ul.notes { color: #444; }
.figs { display: flex; flex-wrap: wrap; gap: 1em; } .figs img { flex: 1 1 480px; max-width: 540px; }
</style></head><body>
<h1>{{.Title}}</h1>
<p class="meta">Generated {{.Generated.Format "2006-01-02 15:04 UTC"}} by <code>{{.Command}}</code> ({{.Config}}). Total wall time of the stages: <b>{{.Total}}</b> (CPU time {{.TotalCPU}}).</p>

<h2>Pipeline</h2>
<div class="diagram">{{diagramSVG .Diagram}}</div>
<p class="meta">Blue: ran in this invocation; amber: resumed from a checkpoint; grey: up to date, skipped (time of the run that made it).</p>
<table><tr><th>stage</th><th>what</th><th class="n">wall time</th><th class="n">CPU time</th><th>this run</th></tr>
{{range .Stages}}<tr><td>{{.Name}}</td><td>{{.Label}}</td><td class="n">{{.Time}}</td><td class="n">{{.CPU}}</td><td>{{.Status}}</td></tr>
{{end}}</table>
<ul class="notes">{{range .Notes}}<li>{{.}}</li>{{end}}</ul>

<h2>Learned domain weights (stage 1, {{.Learner}})</h2>
<div class="figs"><img src="{{.WeightsPlot}}" alt="uniform vs {{.Learner}} weights">{{if .TrajPlot}}<img src="{{.TrajPlot}}" alt="weight trajectories">{{end}}</div>
<table><tr><th>domain</th><th>language</th><th class="n">records</th><th class="n">uniform</th><th class="n">{{.Learner}}</th>{{range $m, $_ := (index .Weights 0).Selected}}<th>{{$m}}</th>{{end}}</tr>
{{range .Weights}}<tr><td>{{.Domain}}</td><td>{{.Language}}</td><td class="n">{{num .Records}}</td><td class="n">{{w .Uniform}}</td><td class="n">{{w .TDRO}}</td>{{range .Selected}}<td class="c">{{mark .}}</td>{{end}}</tr>
{{end}}</table>

<h2>Data used per mixture</h2>
<p class="meta">Records and tokens (queries and positive passages, run's tokenizer) of the domains each mixture samples from.</p>
<table><tr><th>mixture</th><th>strategy</th><th class="n">domains</th><th class="n">records</th><th class="n">tokens</th><th class="n">records vs uniform</th><th class="n">tokens vs uniform</th></tr>
{{range .Mixtures}}<tr><td>{{.Name}}</td><td>{{.Strategy}}</td><td class="n">{{.Domains}}</td><td class="n">{{num .Records}}</td><td class="n">{{num64 .Tokens}}</td><td class="n">{{pct .PctRecord}}</td><td class="n">{{pct .PctTokens}}</td></tr>
{{end}}</table>

<h2>Training loss</h2>
<img src="{{.LossPlot}}" alt="loss curves">

<h2>Retrieval results</h2>
<div class="results">{{.ResultsHTML}}</div>
<p class="meta">{{.ResultsLegend}} Hover a cell for the difference and both p-values.</p>
<img src="{{.ResultsPlot}}" alt="nDCG@10 per dataset">
{{with .HeldOut}}
<h2>In-domain retrieval on held-out training records</h2>
<p class="meta">nDCG@10 on {{.PerDomain}} records per training domain held out of all training (each domain's queries against its own passages and hard negatives): the split to tune a recipe on, apart from the evaluation sets.</p>
<table><tr><th>run</th><th class="n">mean</th>{{range .Domains}}<th class="n">{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr><td>{{.Run}}</td><td class="n">{{w .Mean}}</td>{{range .Scores}}<td class="n">{{w .}}</td>{{end}}</tr>
{{end}}</table>{{end}}
</body></html>
`

var (
	mdTemplate   = texttemplate.Must(texttemplate.New("report.md").Funcs(reportFuncs).Parse(reportMD))
	htmlTemplate = template.Must(template.New("report.html").Funcs(reportFuncs).Parse(reportHTML))
)

// Write renders report.md and report.html into dir.
func (r *Report) Write(dir string) error {
	if len(r.Weights) == 0 {
		return fmt.Errorf("report: no domain weights")
	}
	var md, h bytes.Buffer
	if err := mdTemplate.Execute(&md, r); err != nil {
		return fmt.Errorf("report.md: %w", err)
	}
	if err := htmlTemplate.Execute(&h, r); err != nil {
		return fmt.Errorf("report.html: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "report.md"), md.Bytes()); err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, "report.html"), h.Bytes())
}

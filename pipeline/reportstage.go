package pipeline

import (
	"context"
	"fmt"
	"html"
	"html/template"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/dro"
	"github.com/tdro/tdro/eval"
	"github.com/tdro/tdro/eval/metrics"
	evalreport "github.com/tdro/tdro/eval/report"
	"github.com/tdro/tdro/eval/significance"
)

// stageLabel is what the diagram calls a stage.
func stageLabel(name string) string {
	switch name {
	case "base":
		return "init model"
	case "prepare":
		return "data prepare"
	case "train-" + referenceRun:
		return "0: reference (uniform)"
	case "dro":
		return "1: tDRO weights"
	case "transfer":
		return "transfer"
	case "eval-bm25":
		return "eval BM25"
	case "eval-" + referenceRun:
		return "eval uniform"
	}
	if len(name) > 6 && name[:6] == "train-" {
		return "2: fine-tune " + name[6:]
	}
	if len(name) > 5 && name[:5] == "eval-" {
		return "eval " + name[5:]
	}
	return name
}

// reportStage renders report.md and report.html from what the other stages
// wrote.
func reportStage(opt Options, models, evals []string) Stage {
	cfg := opt.Config
	var after []string
	if cfg.Model.Init == "" {
		after = append(after, "base")
	}
	after = append(after, "prepare", "train-"+referenceRun, "dro", "transfer")
	for _, m := range models[1:] {
		after = append(after, "train-"+m)
	}
	after = append(after, evals...)
	return Stage{
		Name: "report", After: after,
		Config:  struct{ Command, Config string }{opt.Command, opt.ConfigName},
		Outputs: []string{"report.md", "report.html", plotsDir},
		Run: func(ctx context.Context, s *Step) error {
			r := &Report{
				Title:     "tdro run: " + filepath.Base(opt.Out),
				Command:   opt.Command,
				Config:    opt.ConfigName,
				Generated: time.Now().UTC(),
				Notes: []string{
					"The uniform baseline is the stage-0 reference model: stage 2 uses the same recipe, seed and starting model on each transferred mixture, so the uniform run is not trained twice.",
					fmt.Sprintf("tDRO weights: %s after %d steps (measure %s, eta %g); mixtures: %s.", cfg.DRO.SelectFrom, cfg.DRO.Steps, cfg.DRO.Measure, cfg.DRO.Eta, transferList(cfg.Transfer)),
				},
			}
			total := 0.0
			for _, name := range after {
				m, err := LoadManifest(s.Dir, name)
				if err != nil || m == nil {
					return fmt.Errorf("manifest of stage %s: %v", name, err)
				}
				total += m.Seconds
				st := Ran
				if m.Resumed {
					st = Resumed
				}
				if res, ok := s.results[name]; ok {
					st = res.Status
				}
				r.Stages = append(r.Stages, DiagramNode{Name: name, Label: stageLabel(name), After: diagramAfter(name, after, models), Time: FormatSeconds(m.Seconds), Status: st})
			}
			r.Total = FormatSeconds(total)

			if err := r.addWeights(s.Dir, cfg); err != nil {
				return err
			}
			var curves []Curve
			for _, m := range models {
				c, err := ReadLossLog(s.Path(trainLog(m)), runLabel(m))
				if err != nil {
					return err
				}
				curves = append(curves, c)
			}
			loss, err := PlotLossCurves(curves, "training loss (stage 0 and stage 2)", s.Path(plotsDir, "loss"))
			if err != nil {
				return err
			}
			r.LossPlot, _ = filepath.Rel(s.Dir, loss)
			if err := r.addResults(opt, s.Dir, models); err != nil {
				return err
			}
			return r.Write(s.Dir)
		},
	}
}

// diagramAfter draws the pipeline's real data flow rather than every
// dependency: evaluations hang off their model, the report is left out.
func diagramAfter(name string, all, models []string) []string {
	switch {
	case name == "eval-bm25":
		return []string{"prepare"}
	case len(name) > 5 && name[:5] == "eval-":
		return []string{"train-" + name[5:]}
	case name == "transfer":
		return []string{"dro"}
	case name == "dro":
		return []string{"train-" + referenceRun}
	case name == "train-"+referenceRun:
		if contains(all, "base") {
			return []string{"base", "prepare"}
		}
		return []string{"prepare"}
	case len(name) > 6 && name[:6] == "train-":
		return []string{"transfer"}
	}
	return nil
}

func runLabel(model string) string {
	if model == referenceRun {
		return "uniform (reference)"
	}
	return "tDRO " + model
}

func transferList(ts []TransferConfig) string {
	s := ""
	for i, t := range ts {
		if i > 0 {
			s += ", "
		}
		s += t.Name + " (" + strategyLabel(t) + ")"
	}
	return s
}

// addWeights fills the weight chart and table and the data-per-mixture rows.
func (r *Report) addWeights(dir string, cfg *Config) error {
	mix, err := data.LoadMixture(filepath.Join(dir, mixtureFile))
	if err != nil {
		return err
	}
	w, err := dro.LoadWeights(filepath.Join(dir, droDir, weightsFile(cfg.DRO.SelectFrom)))
	if err != nil {
		return err
	}
	stats, err := loadStats(dir)
	if err != nil {
		return err
	}
	for _, p := range []*string{&r.WeightsPlot, &r.TrajPlot} {
		name := map[*string]string{&r.WeightsPlot: "alpha_final.png", &r.TrajPlot: "alpha_steps.png"}[p]
		*p = filepath.ToSlash(filepath.Join(droDir, dro.PlotsDir, name))
	}
	uniform := 1 / float64(len(mix.Domains))
	for _, d := range mix.Domains {
		row := WeightRow{Domain: d.Name, Language: d.Language, Records: stats.Domains[d.Name].Records,
			Uniform: uniform, TDRO: w.DomainWeights[d.Name], Selected: map[string]bool{}}
		for _, m := range stats.Mixtures[1:] {
			_, row.Selected[m.Name] = m.Weights[d.Name]
		}
		r.Weights = append(r.Weights, row)
	}
	sort.SliceStable(r.Weights, func(i, j int) bool { return r.Weights[i].TDRO > r.Weights[j].TDRO })
	base := stats.Mixtures[0]
	for _, m := range stats.Mixtures {
		r.Mixtures = append(r.Mixtures, MixtureRow{Name: m.Name, Strategy: m.Strategy, Domains: len(m.Domains),
			Records: m.Records, Tokens: m.Tokens,
			PctRecord: 100 * float64(m.Records) / float64(base.Records), PctTokens: 100 * float64(m.Tokens) / float64(base.Tokens)})
	}
	return nil
}

// loadResults rebuilds every run's per-query scores from the TREC run files
// the evaluation stages kept (eval.ScoreRun on the same sampled sets).
func loadResults(opt Options, dir string, runs []string) (*eval.Results, error) {
	cols, err := evalSets(opt.Data, opt.Config.Eval)
	if err != nil {
		return nil, err
	}
	var parts []*eval.Results
	for _, m := range runs {
		name := runName(m)
		rr := &eval.RunResult{Name: name}
		for _, c := range cols {
			run, _, err := metrics.ReadRun(filepath.Join(dir, evalDir(m), "runs", c.Name, name+".trec"))
			if err != nil {
				return nil, err
			}
			o := evalOptions(opt, name)
			d, err := eval.ScoreRun(c, run, o)
			if err != nil {
				return nil, fmt.Errorf("score %s on %s: %w", name, c.Name, err)
			}
			rr.Datasets = append(rr.Datasets, d)
		}
		parts = append(parts, &eval.Results{Runs: []*eval.RunResult{rr}})
	}
	return eval.Merge(parts...)
}

// addResults fills the results tables: every model against the uniform
// baseline with significance marks, BM25 beside.
func (r *Report) addResults(opt Options, dir string, models []string) error {
	runs := append([]string{}, models...)
	if opt.Config.Eval.BM25 {
		runs = append(runs, "bm25")
	}
	res, err := loadResults(opt, dir, runs)
	if err != nil {
		return err
	}
	o := evalreport.Options{Baseline: runName(referenceRun), Randomization: significance.Randomization{Seed: opt.Config.Seed}}
	if r.ResultsMarkdown, err = evalreport.Markdown(res, o); err != nil {
		return err
	}
	var h strings.Builder
	for _, m := range []metrics.Measure{{Kind: metrics.NDCG, K: 10}, {Kind: metrics.Recall, K: 100}} {
		t, err := evalreport.NewTable(res, m, o)
		if err != nil {
			return err
		}
		h.WriteString(tableHTML(t))
	}
	r.ResultsHTML = template.HTML(h.String())
	r.ResultsLegend = evalreport.Legend(o.Baseline)
	return nil
}

// tableHTML renders one of eval's tables (values, best in bold,
// significance marks) as HTML.
func tableHTML(t *evalreport.Table) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<h3>%s</h3>\n<table><tr><th>dataset</th>", html.EscapeString(t.Measure.String()))
	for _, run := range t.Runs {
		fmt.Fprintf(&b, "<th class=\"n\">%s</th>", html.EscapeString(run))
	}
	b.WriteString("</tr>\n")
	row := func(name string, cells []evalreport.Cell, class string) {
		fmt.Fprintf(&b, "<tr class=\"%s\"><td>%s</td>", class, name)
		for _, c := range cells {
			v := "–"
			if c.OK {
				v = fmt.Sprintf("%.4f", c.Value)
				if c.Best {
					v = "<b>" + v + "</b>"
				}
				v += "<sup>" + c.Mark() + "</sup>"
			}
			fmt.Fprintf(&b, "<td class=\"n\">%s</td>", v)
		}
		b.WriteString("</tr>\n")
	}
	for i, ds := range t.Datasets {
		row(html.EscapeString(ds), t.Cells[i], "")
	}
	row("<i>mean</i>", t.Mean, "mean")
	b.WriteString("</table>\n")
	return b.String()
}

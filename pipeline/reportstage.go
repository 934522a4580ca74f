package pipeline

import (
	"context"
	"fmt"
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
	"github.com/tdro/tdro/internal/atomicfile"
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
					baseNote(cfg.Model),
					queryNote(cfg.Eval),
					fmt.Sprintf("tDRO weights: %s after %d steps (measure %s, eta %g); mixtures: %s.", cfg.DRO.SelectFrom, cfg.DRO.Steps, cfg.DRO.Measure, cfg.DRO.Eta, transferList(cfg.Transfer)),
				},
			}
			if e := cfg.Eval; e.MaxQueries > 0 || e.MaxDocs > 0 {
				r.Notes = append(r.Notes, fmt.Sprintf("Evaluation sets are capped at %s queries and %s documents each: a fixed sample by id hash, the same for every run, keeping every judged document of a kept query. Numbers compare the runs of this report; they are higher than on the full sets.", capText(e.MaxQueries), capText(e.MaxDocs)))
			}
			total, cpu := 0.0, 0.0
			for _, name := range after {
				m, err := LoadManifest(s.Dir, name)
				if err != nil || m == nil {
					return fmt.Errorf("manifest of stage %s: %v", name, err)
				}
				total += m.Seconds
				cpu += m.CPUSeconds
				st := Ran
				if m.Resumed {
					st = Resumed
				}
				if res, ok := s.results[name]; ok {
					st = res.Status
				}
				r.Stages = append(r.Stages, DiagramNode{Name: name, Label: stageLabel(name), Time: FormatSeconds(m.Seconds), CPU: FormatSeconds(m.CPUSeconds), Status: st, seconds: m.Seconds})
			}
			r.Total, r.TotalCPU = FormatSeconds(total), FormatSeconds(cpu)
			r.Diagram = flowDiagram(r.Stages, models)

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

// flowDiagram is the pipeline's data flow: the training chain, then one
// box for all the evaluations (their stages are listed in the table).
func flowDiagram(stages []DiagramNode, models []string) []DiagramNode {
	var out []DiagramNode
	eval := DiagramNode{Name: "eval", Label: fmt.Sprintf("evaluate %d models + base", len(models)), Status: Skipped}
	var ft []string
	for _, n := range stages {
		switch {
		case strings.HasPrefix(n.Name, "eval-"):
			eval.seconds += n.seconds
			if n.Name == "eval-bm25" {
				eval.Label += " + BM25"
			}
			if n.Status != Skipped {
				eval.Status = Ran
			}
			continue
		case n.Name == "dro":
			n.After = []string{"train-" + referenceRun}
		case n.Name == "transfer":
			n.After = []string{"dro"}
		case n.Name == "train-"+referenceRun:
			n.After = []string{"prepare"}
			if stages[0].Name == "base" {
				n.After = []string{"base", "prepare"}
			}
		case strings.HasPrefix(n.Name, "train-"):
			n.After = []string{"transfer"}
			ft = append(ft, n.Name)
		}
		out = append(out, n)
	}
	if len(ft) == 0 {
		ft = []string{"train-" + referenceRun}
	}
	eval.After, eval.Time = ft, FormatSeconds(eval.seconds)
	return append(out, eval)
}

func capText(n int) string {
	if n <= 0 {
		return "all"
	}
	return thousands(n)
}

// queryNote says how the dense models saw the evaluation queries.
func queryNote(e EvalConfig) string {
	if e.PlainQueries {
		return "Dense models encode the evaluation queries plainly (eval.plain_queries), without the instructions their training queries carried."
	}
	return "Dense models encode each query as they were trained to, \"Instruct: {instruction}\\nQuery: {query}\", with the evaluation set's instruction (E5-Mistral's for BEIR, the same style for the SMART collections and XQuAD-R); documents and BM25 queries carry none."
}

// baseNote says what the "base" column of the results is.
func baseNote(m ModelConfig) string {
	if m.Init != "" {
		return "base is the checkpoint every training starts from (" + m.Init + "), evaluated before any training: the columns beside it show what fine-tuning changed."
	}
	return "base is the seeded random initialisation every training starts from, evaluated untrained: the columns beside it show what training changed."
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
	runs := append(append([]string{}, models...), baseRun)
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
	if r.ResultsHTML, err = evalreport.HTMLTables(res, o); err != nil {
		return err
	}
	t, err := evalreport.NewTable(res, metrics.Measure{Kind: metrics.NDCG, K: 10}, o)
	if err != nil {
		return err
	}
	bars, err := evalreport.DatasetBars(t)
	if err != nil {
		return err
	}
	r.ResultsPlot = filepath.ToSlash(filepath.Join(plotsDir, "results_ndcg10.svg"))
	if err := atomicfile.WriteFile(filepath.Join(dir, r.ResultsPlot), bars); err != nil {
		return err
	}
	r.ResultsLegend = evalreport.Legend(o.Baseline)
	return nil
}

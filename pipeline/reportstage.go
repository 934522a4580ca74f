package pipeline

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
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

// reportStage renders report.md and report.html from what the other stages
// wrote: it comes after every other stage.
func reportStage(opt Options, stages []Stage) Stage {
	cfg := opt.Config
	after := stageNames(stages)
	models := trainedRuns(cfg)
	return Stage{
		Name: "report", Kind: KindReport, After: after, Label: "report",
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
					baseNote(cfg),
					queryNote(cfg.Eval),
					learnerNote(cfg),
				},
				Learner: learnerLabel(cfg.primaryLearner()),
			}
			if e := cfg.Eval; e.MaxQueries > 0 || e.MaxDocs > 0 {
				r.Notes = append(r.Notes, fmt.Sprintf("Evaluation sets are capped at %s queries and %s documents each: a fixed sample by id hash, the same for every run, keeping every judged document of a kept query. Numbers compare the runs of this report; they are higher than on the full sets.", capText(e.MaxQueries), capText(e.MaxDocs)))
			}
			total, cpu := 0.0, 0.0
			for _, st := range stages {
				name := st.Name
				m, err := s.Manifest(name)
				if err != nil || m == nil {
					return fmt.Errorf("manifest of stage %s: %v", name, err)
				}
				total += m.Seconds
				cpu += m.CPUSeconds
				status := Ran
				if m.Resumed {
					status = Resumed
				}
				if res, ok := s.Result(name); ok {
					status = res.Status
				}
				r.Stages = append(r.Stages, DiagramNode{Name: name, Label: st.Label, After: st.Flow, group: st.Group,
					Time: FormatSeconds(m.Seconds), CPU: FormatSeconds(m.CPUSeconds), Status: status, seconds: m.Seconds})
			}
			r.Total, r.TotalCPU = FormatSeconds(total), FormatSeconds(cpu)
			r.Diagram = flowDiagram(r.Stages)

			if err := r.addWeights(s.Dir, cfg); err != nil {
				return err
			}
			var curves []Curve
			for _, m := range models {
				c, err := ReadLossLog(s.Path(trainLog(m)), runLabel(m, cfg.transfers()))
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
			if err := r.addResults(opt, s.Dir); err != nil {
				return err
			}
			if cfg.Prepare.HeldOut > 0 {
				if r.HeldOut, err = heldOutTable(s.Dir, cfg); err != nil {
					return err
				}
			}
			return r.Write(s.Dir)
		},
	}
}

// flowDiagram is the pipeline's data flow as the stages declare it (their
// Flow arrows); the stages of one group become one box, "evaluate N runs",
// with the arrows of all its members.
func flowDiagram(stages []DiagramNode) []DiagramNode {
	var out []DiagramNode
	box := map[string]int{} // group -> index in out
	members := map[string]int{}
	label := map[string]string{}   // group -> its first member's label
	inGroup := map[string]string{} // member -> its group
	for _, n := range stages {
		if n.group != "" {
			inGroup[n.Name] = n.group
		}
	}
	for _, n := range stages {
		for i, a := range n.After { // an arrow to a member is an arrow to its box
			if g, ok := inGroup[a]; ok && g != n.group {
				n.After = slices.Clone(n.After)
				n.After[i] = g
			}
		}
		if n.group == "" {
			out = append(out, n)
			continue
		}
		i, ok := box[n.group]
		if !ok {
			i = len(out)
			box[n.group] = i
			label[n.group] = n.Label
			out = append(out, DiagramNode{Name: n.group, Status: Skipped})
		}
		g := &out[i]
		if n.group != evalGroup || strings.HasPrefix(n.Name, "eval-") { // a model's held-out score is part of its evaluation
			members[n.group]++
		}
		g.seconds += n.seconds
		if n.Status != Skipped {
			g.Status = Ran
		}
		for _, a := range n.After {
			if !slices.Contains(g.After, a) {
				g.After = append(g.After, a)
			}
		}
	}
	for group, i := range box {
		out[i].Label = fmt.Sprintf("%s (%d)", label[group], members[group])
		if group == evalGroup {
			out[i].Label = fmt.Sprintf("evaluate %d runs", members[group])
		}
		out[i].Time = FormatSeconds(out[i].seconds)
	}
	return out
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
func baseNote(cfg *Config) string {
	starts := "every training starts from,"
	if p := cfg.Pretrain; p != nil {
		starts = fmt.Sprintf("pre-trained for %d steps on crop pairs of the training passages (%s) before every training,", p.Steps, modelDir(pretrainedRun))
	}
	var s string
	if m := cfg.Model; m.Init != "" {
		s = "base is the checkpoint (" + m.Init + ") " + starts + " evaluated before any training: the columns beside it show what fine-tuning changed."
	} else {
		s = "base is the seeded random initialisation " + starts + " evaluated untrained: the columns beside it show what training changed."
	}
	if r := cfg.Prepare.Remine; r != nil {
		s += fmt.Sprintf(" Hard negatives: %d per record re-mined by a retriever trained on the BM25-mined data (%s, %s/); every training reads them.", r.negatives(cfg.Prepare), modelDir(retrieverRun), minedDir)
	}
	return s
}

// runLabel names a trained model in plots: the reference, a size-based
// baseline, or a mixture from the tDRO weights.
func runLabel(model string, transfers []TransferConfig) string {
	if model == referenceRun {
		return "uniform (reference)"
	}
	for _, t := range transfers {
		switch {
		case t.Name != model:
		case t.Strategy == dro.Proportional || t.Strategy == dro.Temperature:
			return "baseline " + model
		case t.Strategy == StrategyODM:
			return "online mixing " + model
		}
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

// loadResults reads every run's results, per-query values included, from
// the JSON its evaluation stage wrote.
func loadResults(dir string, runs []string) (*eval.Results, error) {
	parts := make([]*eval.Results, len(runs))
	for i, m := range runs {
		r, err := evalreport.ReadJSON(filepath.Join(dir, evalDir(m), "json"))
		if err != nil {
			return nil, fmt.Errorf("results of %s: %w", runName(m), err)
		}
		parts[i] = r
	}
	return eval.Merge(parts...)
}

// addResults fills the results tables: every model against the uniform
// baseline with significance marks, BM25 beside.
func (r *Report) addResults(opt Options, dir string) error {
	res, err := loadResults(dir, evaluatedRuns(opt.Config))
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

// learnerNote says how each learner's stage-1 weights were learned and
// which mixtures they became.
func learnerNote(cfg *Config) string {
	s := ""
	for _, l := range cfg.weightLearners() {
		if l == LearnerRegMix {
			rc := cfg.regmix()
			s += fmt.Sprintf("RegMix weights (%s): a %s regression over %d proxy runs of %d steps on random mixtures (Dirichlet alpha %g), each scored by in-domain retrieval (nDCG@10) on %d held-out records per training domain, never on the evaluation sets (regmix/fit.json). ",
				cfg.learnerDir(l), rc.Regressor, rc.Runs, rc.Steps, rc.Alpha, rc.HeldOut)
			continue
		}
		_, measure := stepLearner(l, cfg.DRO)
		s += fmt.Sprintf("%s weights (%s): %s after %d steps (measure %s, eta %g). ", learnerLabel(l), cfg.learnerDir(l), cfg.DRO.SelectFrom, cfg.DRO.Steps, measure, cfg.DRO.Eta)
	}
	return s + "Mixtures: " + transferList(cfg.transfers()) + "."
}

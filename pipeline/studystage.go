package pipeline

import (
	"context"
	"fmt"
	"html/template"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/tdro/tdro/dro"
	evalreport "github.com/tdro/tdro/eval/report"
	"github.com/tdro/tdro/internal/atomicfile"
	"github.com/tdro/tdro/study"
)

// studyStage compares every mixture with uniform across the seeds of a
// replicated run (study.Analyze) and writes study.md and study.json at the
// top of the run directory, with the cost of every stage kind.
func studyStage(opt Options, seedGraph []Stage) Stage {
	cfg := opt.Config
	runs := evaluatedRuns(cfg)
	return Stage{
		Name: "study", Kind: KindStudy, After: stageNames(seedGraph), Label: "study",
		Config:  struct{ Seeds []uint64 }{cfg.Seeds},
		Outputs: []string{"study.md", "study.html", "study.json", studyPlots},
		Run: func(ctx context.Context, s *Step) error {
			var seeds []study.Seed
			records := map[string]float64{}
			for _, seed := range cfg.Seeds {
				dir := s.Path(seedDir(seed))
				res, err := loadResults(dir, runs)
				if err != nil {
					return fmt.Errorf("seed %d: %w", seed, err)
				}
				learned := map[string]map[string]float64{}
				for _, l := range cfg.weightLearners() {
					w, err := dro.LoadWeights(filepath.Join(dir, cfg.learnerWeights(l)))
					if err != nil {
						return fmt.Errorf("seed %d: %w", seed, err)
					}
					learned[learnerLabel(l)] = w.DomainWeights
				}
				seeds = append(seeds, study.Seed{Seed: seed, Results: res, Weights: learned})
				if stats, err := loadStats(dir); err == nil && len(stats.Mixtures) > 0 && stats.Mixtures[0].Records > 0 {
					for _, m := range stats.Mixtures[1:] {
						records[runName(m.Name)] = float64(m.Records) / float64(stats.Mixtures[0].Records)
					}
				}
			}
			o := study.DefaultOptions()
			o.Baseline, o.Records = runName(referenceRun), records
			rep, err := study.Analyze(seeds, o)
			if err != nil {
				return err
			}
			cost, err := costRows(s, seedGraph)
			if err != nil {
				return err
			}
			lcost, err := learnerCosts(s, seedGraph, cfg)
			if err != nil {
				return err
			}
			learners := learnersMarkdown(lcost, len(cfg.Seeds))
			plot := filepath.ToSlash(filepath.Join(studyPlots, "differences.svg"))
			if err := rep.PlotDifferences(s.Path(studyPlots, "differences"), "bm25"); err != nil {
				return err
			}
			title := "tdro study: " + filepath.Base(opt.Out)
			note := "The evaluation sets are not used to choose any setting; every seed trains every mixture with the same recipe."
			held := ""
			if cfg.Prepare.HeldOut > 0 {
				if held, err = heldOutStudy(s.Dir, cfg); err != nil {
					return err
				}
			}
			md := "# " + title + "\n\n" + rep.Markdown() + "\n![differences against uniform with intervals](" + plot + ")\n\n" + note +
				"\n\n" + held + "## Cost\n\n" + learners + "\n" + costMarkdown(cost)
			if err := atomicfile.WriteFile(s.Path("study.md"), []byte(md)); err != nil {
				return err
			}
			page, err := rep.HTML(title, plot, evalreport.CSS, template.HTML("<p>"+template.HTMLEscapeString(note)+"</p><h2>Cost</h2><p>Stage-1 cost of each learner, all seeds:</p>")+costHTML(learnerRows(lcost))+template.HTML("<p>Every stage:</p>")+costHTML(cost))
			if err != nil {
				return err
			}
			if err := atomicfile.WriteFile(s.Path("study.html"), page); err != nil {
				return err
			}
			return atomicfile.WriteJSON(s.Path("study.json"), rep)
		},
	}
}

// studyPlots holds the study's figures.
const studyPlots = "study_plots"

// costRow is the wall and CPU time of one stage kind (the stage's name
// without InDir's seed prefix) summed over the seeds; the last row is the
// total.
type costRow struct {
	Kind      string
	Runs      int
	Wall, CPU float64
}

// costRows reads the per-seed stages' manifests, most CPU first.
func costRows(s *Step, stages []Stage) ([]costRow, error) {
	byKind := map[string]*costRow{}
	var rows []*costRow
	total := costRow{Kind: "all"}
	for _, st := range stages {
		m, err := s.Manifest(st.Name)
		if err != nil || m == nil {
			return nil, fmt.Errorf("manifest of stage %s: %v", st.Name, err)
		}
		kind := strings.TrimPrefix(st.Name, st.prefix) // the stage without its seed
		if st.Kind == KindProxy {
			kind = st.Group // one row for all proxy runs
		}
		c, ok := byKind[kind]
		if !ok {
			c = &costRow{Kind: kind}
			byKind[kind] = c
			rows = append(rows, c)
		}
		c.Wall, c.CPU, c.Runs = c.Wall+m.Seconds, c.CPU+m.CPUSeconds, c.Runs+1
		total.Wall, total.CPU, total.Runs = total.Wall+m.Seconds, total.CPU+m.CPUSeconds, total.Runs+1
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].CPU > rows[j].CPU })
	out := make([]costRow, 0, len(rows)+1)
	for _, r := range rows {
		out = append(out, *r)
	}
	return append(out, total), nil
}

// learnerCost is one learner's stage-1 cost summed over the seeds (Kind
// is the learner's name), with the runs made from its weights.
type learnerCost struct {
	costRow
	Made []string
}

// learnerCosts are the stage-1 costs of each learner: its weights stage
// (for regmix also the split and the proxy runs; for odm, which has none,
// its online-mixing fine-tuning).
func learnerCosts(s *Step, stages []Stage, cfg *Config) ([]learnerCost, error) {
	var rows []learnerCost
	runs := map[string][]string{}
	for _, t := range cfg.transfers() {
		l := LearnerODM
		if weightBased(t.Strategy) {
			l = cfg.learnerOf(t)
		} else if t.Strategy != StrategyODM {
			continue
		}
		runs[l] = append(runs[l], t.Name)
	}
	learners := cfg.weightLearners()
	if len(runs[LearnerODM]) > 0 {
		learners = append(learners, LearnerODM)
	}
	for _, l := range learners {
		row := learnerCost{costRow: costRow{Kind: learnerLabel(l)}, Made: runs[l]}
		for _, st := range stages {
			name := strings.TrimPrefix(st.Name, st.prefix)
			mine := name == cfg.learnerStage(l) && l != LearnerODM
			mine = mine || l == LearnerRegMix && (st.Kind == KindProxy || name == splitStage)
			mine = mine || l == LearnerODM && slices.Contains(runs[l], strings.TrimPrefix(name, "train-"))
			if !mine {
				continue
			}
			m, err := s.Manifest(st.Name)
			if err != nil || m == nil {
				return nil, fmt.Errorf("manifest of stage %s: %v", st.Name, err)
			}
			row.Wall, row.CPU, row.Runs = row.Wall+m.Seconds, row.CPU+m.CPUSeconds, row.Runs+1
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// learnerRows are the learners' costs as cost table rows.
func learnerRows(costs []learnerCost) []costRow {
	rows := make([]costRow, len(costs))
	for i, c := range costs {
		rows[i] = c.costRow
	}
	return rows
}

// learnersMarkdown is the learners' cost table.
func learnersMarkdown(rows []learnerCost, seeds int) string {
	var b strings.Builder
	b.WriteString("Stage-1 cost of each learner (its weights stage; RegMix: the held-out split and the proxy runs too; ODM: its fine-tuning, which learns as it trains), all seeds, and the runs made from it:\n\n")
	b.WriteString("| learner | stages | CPU | CPU per seed | runs |\n|---|---:|---:|---:|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s |\n", r.Kind, r.Runs, FormatSeconds(r.CPU), FormatSeconds(r.CPU/float64(seeds)), strings.Join(r.Made, ", "))
	}
	return b.String()
}

func costMarkdown(rows []costRow) string {
	var b strings.Builder
	b.WriteString("| stage | runs | wall | CPU |\n|---|---:|---:|---:|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %d | %s | %s |\n", r.Kind, r.Runs, FormatSeconds(r.Wall), FormatSeconds(r.CPU))
	}
	return b.String()
}

func costHTML(rows []costRow) template.HTML {
	var b strings.Builder
	b.WriteString("<table><tr><th>stage</th><th>runs</th><th>wall</th><th>CPU</th></tr>")
	for _, r := range rows {
		fmt.Fprintf(&b, "<tr><td>%s</td><td>%d</td><td>%s</td><td>%s</td></tr>", template.HTMLEscapeString(r.Kind), r.Runs, FormatSeconds(r.Wall), FormatSeconds(r.CPU))
	}
	b.WriteString("</table>")
	return template.HTML(b.String())
}

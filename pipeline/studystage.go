package pipeline

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/tdro/tdro/dro"
	"github.com/tdro/tdro/internal/atomicfile"
	"github.com/tdro/tdro/study"
)

// studyStage compares every mixture with uniform across the seeds of a
// replicated run (study.Analyze) and writes study.md and study.json at the
// top of the run directory, with the cost of every stage kind.
func studyStage(opt Options, seedGraph []Stage) Stage {
	cfg := opt.Config
	after := make([]string, len(seedGraph))
	for i, st := range seedGraph {
		after[i] = st.Name
	}
	runs := []string{referenceRun}
	for _, t := range cfg.Transfer {
		runs = append(runs, t.Name)
	}
	runs = append(runs, baseRun)
	if cfg.Eval.BM25 {
		runs = append(runs, "bm25")
	}
	return Stage{
		Name: "study", After: after, Label: "study",
		Config:  struct{ Seeds []uint64 }{cfg.Seeds},
		Outputs: []string{"study.md", "study.json"},
		Run: func(ctx context.Context, s *Step) error {
			var seeds []study.Seed
			records := map[string]float64{}
			for _, seed := range cfg.Seeds {
				dir := s.Path(seedDir(seed))
				res, err := loadResults(dir, runs)
				if err != nil {
					return fmt.Errorf("seed %d: %w", seed, err)
				}
				w, err := dro.LoadWeights(filepath.Join(dir, droDir, weightsFile(cfg.DRO.SelectFrom)))
				if err != nil {
					return fmt.Errorf("seed %d: %w", seed, err)
				}
				seeds = append(seeds, study.Seed{Seed: seed, Results: res, Weights: w.DomainWeights})
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
			cost, err := costTable(s, seedGraph)
			if err != nil {
				return err
			}
			md := "# tdro study: " + filepath.Base(opt.Out) + "\n\n" + rep.Markdown() +
				"\nThe evaluation sets are not used to choose any setting; every seed trains every mixture with the same recipe.\n\n## Cost\n\n" + cost
			if err := atomicfile.WriteFile(s.Path("study.md"), []byte(md)); err != nil {
				return err
			}
			return atomicfile.WriteJSON(s.Path("study.json"), rep)
		},
	}
}

// costTable sums wall and CPU time per stage kind (the name without its
// seed) over the seeds, from the manifests.
func costTable(s *Step, stages []Stage) (string, error) {
	type cost struct {
		wall, cpu float64
		n         int
	}
	byKind := map[string]*cost{}
	var kinds []string
	total := cost{}
	for _, st := range stages {
		m, err := s.Manifest(st.Name)
		if err != nil || m == nil {
			return "", fmt.Errorf("manifest of stage %s: %v", st.Name, err)
		}
		kind := st.Name[strings.Index(st.Name, ".")+1:]
		c, ok := byKind[kind]
		if !ok {
			c = &cost{}
			byKind[kind] = c
			kinds = append(kinds, kind)
		}
		c.wall, c.cpu, c.n = c.wall+m.Seconds, c.cpu+m.CPUSeconds, c.n+1
		total.wall, total.cpu = total.wall+m.Seconds, total.cpu+m.CPUSeconds
	}
	sort.SliceStable(kinds, func(i, j int) bool { return byKind[kinds[i]].cpu > byKind[kinds[j]].cpu })
	var b strings.Builder
	b.WriteString("| stage | runs | wall | CPU |\n|---|---:|---:|---:|\n")
	for _, k := range kinds {
		c := byKind[k]
		fmt.Fprintf(&b, "| %s | %d | %s | %s |\n", k, c.n, FormatSeconds(c.wall), FormatSeconds(c.cpu))
	}
	fmt.Fprintf(&b, "| all | %d | %s | %s |\n", len(stages), FormatSeconds(total.wall), FormatSeconds(total.cpu))
	return b.String(), nil
}

package pipeline

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/tdro/tdro/data"
)

// prepareStage writes data/: one records file per domain and mixture.json
// with uniform weights (the stage-0 mixture). From the bundled sources it
// runs the importers, BM25 hard-negative mining and the dedup against the
// evaluation queries; a user's mixture is read, checked and copied.
func prepareStage(opt Options) Stage {
	cfg := opt.Config
	st := Stage{
		Name: "prepare",
		Config: struct {
			Prepare PrepareConfig
			Seed    uint64
		}{cfg.Prepare, cfg.Seed},
		Outputs: []string{dataDir},
	}
	if cfg.Prepare.Mixture != "" {
		st.Inputs = mixtureInputs(cfg.Prepare.Mixture)
		st.Run = func(ctx context.Context, s *Step) error {
			mix, err := data.LoadMixture(cfg.Prepare.Mixture)
			if err != nil {
				return err
			}
			for i := range mix.Domains {
				d := &mix.Domains[i]
				recs, err := data.ReadRecords(d.Path)
				if err != nil {
					return fmt.Errorf("domain %q: %w", d.Name, err)
				}
				if len(recs) == 0 {
					return fmt.Errorf("domain %q: %s has no records", d.Name, d.Path)
				}
				dst := s.Path(dataDir, d.Name+".jsonl")
				if err := data.WriteRecords(dst, recs); err != nil {
					return err
				}
				d.Path, d.Records, d.Weight, d.LossScale = dst, len(recs), 1/float64(len(mix.Domains)), 0
			}
			return mix.Save(s.Path(mixtureFile))
		}
		return st
	}
	train, _ := filepath.Abs(filepath.Join(opt.Data, "train"))
	evalSrc, _ := filepath.Abs(filepath.Join(opt.Data, "eval"))
	st.Inputs = []string{train, evalSrc}
	st.Run = func(ctx context.Context, s *Step) error { return fmt.Errorf("preparing the bundled data needs importers.Prepare, which is not in this build yet; set prepare.mixture to a prepared mixture") }
	return st
}

// uniform rewrites a prepared mixture with equal weights (stage 0).
func uniform(path, dst string) error {
	mix, err := data.LoadMixture(path)
	if err != nil {
		return err
	}
	for i := range mix.Domains {
		mix.Domains[i].Weight, mix.Domains[i].LossScale = 1/float64(len(mix.Domains)), 0
	}
	return mix.Save(dst)
}

// mixtureInputs are a user's mixture file and its records files.
func mixtureInputs(path string) []string {
	abs, _ := filepath.Abs(path)
	in := []string{abs}
	if mix, err := data.LoadMixture(path); err == nil {
		for _, d := range mix.Domains {
			in = append(in, d.Path)
		}
	}
	return in
}

package pipeline

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/data/importers"
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
				// Streamed: a user's domain may not fit in memory.
				dst := s.Path(dataDir, d.Name+".jsonl")
				_, n, err := importers.CopyRecords([]string{d.Path}, dst, importers.Options{})
				if err != nil {
					return fmt.Errorf("domain %q: %w", d.Name, err)
				}
				if n == 0 {
					return fmt.Errorf("domain %q: %s has no records", d.Name, d.Path)
				}
				d.Path, d.Records, d.Weight, d.LossScale = dst, n, 1/float64(len(mix.Domains)), 0
			}
			return mix.Save(s.Path(mixtureFile))
		}
		return st
	}
	train, _ := filepath.Abs(filepath.Join(opt.Data, "train"))
	evalSrc, _ := filepath.Abs(filepath.Join(opt.Data, "eval"))
	st.Inputs = []string{train, evalSrc}
	st.Run = func(ctx context.Context, s *Step) error {
		srcs, err := sources(cfg.Prepare.Domains)
		if err != nil {
			return err
		}
		_, rep, err := importers.Prepare(ctx, importers.PrepareOptions{
			DataDir: opt.Data, OutDir: s.Path(dataDir), Seed: cfg.Seed, Sources: srcs,
			MaxPerDomain: orNone(cfg.Prepare.MaxRecords), Negatives: orNone(cfg.Prepare.Negatives), SkipBad: cfg.Prepare.SkipBad, Log: s.Log(),
		})
		if err != nil {
			return err
		}
		return rep.WriteTable(s.Log())
	}
	return st
}

// orNone maps the config's 0 ("all" records, "no" negatives) to the
// importers' "< 0".
func orNone(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// sources are the bundled domains, all or the named ones.
func sources(names []string) ([]importers.Source, error) {
	all := importers.DefaultSources(importers.DefaultSTSLanguages)
	if len(names) == 0 {
		return all, nil
	}
	byName := map[string]importers.Source{}
	var known []string
	for _, s := range all {
		byName[s.Name] = s
		known = append(known, s.Name)
	}
	var out []importers.Source
	for _, n := range names {
		s, ok := byName[n]
		if !ok {
			return nil, fmt.Errorf("prepare.domains: unknown bundled domain %q (have %s)", n, strings.Join(known, ", "))
		}
		out = append(out, s)
	}
	return out, nil
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

package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/tdro/tdro/collection"
	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/prepare"
)

// prepareStage writes data/: one records file per domain and mixture.json
// with uniform weights (the stage-0 mixture). From the bundled sources it
// runs the importers, BM25 hard-negative mining and the dedup against the
// evaluation queries; a user's mixture is read, checked and copied.
func prepareStage(opt Options) Stage {
	cfg := opt.Config
	st := Stage{
		Name: "prepare", Kind: KindPrepare, Label: "data prepare",
		Config: struct {
			Prepare PrepareConfig
			Seed    uint64
		}{cfg.Prepare, cfg.Seed},
		Outputs: []string{dataDir},
		Check:   checkMixture(mixtureFile),
	}
	if cfg.Prepare.Mixture != "" {
		// A user's mixture gets the bundled data's prepare: records read (and
		// checked), deduplicated against the evaluation queries, sampled to
		// max_records_per_domain, hard negatives mined with BM25 up to
		// prepare.negatives; the prepare log's table says what it did.
		st.Inputs = append(mixtureInputs(cfg.Prepare.Mixture), evalInputs(opt)...)
		st.Run = func(ctx context.Context, s *Step) error {
			mix, err := data.LoadMixture(cfg.Prepare.Mixture)
			if err != nil {
				return err
			}
			var srcs []prepare.Source
			for _, d := range mix.Domains {
				srcs = append(srcs, prepare.Source{Name: d.Name, Language: d.Language, Format: "jsonl",
					Files: []string{d.Path}, Instructions: d.Instructions, Symmetric: d.Symmetric})
			}
			return runPrepare(ctx, s, opt, srcs)
		}
		return st
	}
	train, _ := filepath.Abs(filepath.Join(opt.Data, "train"))
	st.Inputs = append([]string{train}, evalInputs(opt)...)
	st.Run = func(ctx context.Context, s *Step) error {
		srcs, err := sources(cfg.Prepare.Domains)
		if err != nil {
			return err
		}
		return runPrepare(ctx, s, opt, srcs)
	}
	return st
}

// dedupSets are the evaluation queries prepare drops training queries near
// (prepare.dedup_against): "run", the sampled sets this run evaluates on;
// "bundled", every bundled set and every set of the user's this run
// evaluates on, so that neither can leak into training (nil: the bundled
// sets alone).
func dedupSets(opt Options) ([]*collection.Collection, error) {
	cfg := opt.Config
	if cfg.Prepare.DedupAgainst == DedupRun {
		return evalSets(opt.Data, cfg.Eval)
	}
	var own []string
	for _, s := range cfg.Eval.Sets {
		if setPaths(s) != nil {
			own = append(own, s)
		}
	}
	if len(own) == 0 {
		return nil, nil
	}
	bundled, err := collection.Bundled(opt.Data)
	if err != nil {
		return nil, fmt.Errorf("prepare: bundled evaluation sets: %w", err)
	}
	sets, err := collection.Select(opt.Data, own)
	if err != nil {
		return nil, fmt.Errorf("eval.sets: %w", err)
	}
	return append(bundled, sets...), nil
}

// runPrepare prepares srcs into the run's data/ and logs the report table.
func runPrepare(ctx context.Context, s *Step, opt Options, srcs []prepare.Source) error {
	cfg := opt.Config
	against, err := dedupSets(opt)
	if err != nil {
		return err
	}
	po := prepare.Options{
		DataDir: opt.Data, OutDir: s.Path(dataDir), Seed: cfg.Seed, Sources: srcs, Evaluation: against,
		MaxPerDomain: orNone(cfg.Prepare.MaxRecords), Negatives: orNone(cfg.Prepare.Negatives), SkipBad: cfg.Prepare.SkipBad, Log: s.Log(),
	}
	fromSource := cfg.Prepare.HeldOut > 0 && cfg.Prepare.HeldOutFrom == HeldOutFromSource
	if fromSource {
		po.HeldOut, po.HeldOutDir = cfg.Prepare.HeldOut, s.Path(heldOutDir)
	}
	_, rep, err := prepare.Run(ctx, po)
	if err != nil {
		return err
	}
	if err := rep.WriteTable(s.Log()); err != nil {
		return err
	}
	if fromSource {
		s.Logf("held out %d records of each of %d domains from the source before the sample (%s), to score every model on", po.HeldOut, len(rep.Domains), heldOutDir)
	} else if n := cfg.Prepare.HeldOut; n > 0 {
		mix, err := data.LoadMixture(s.Path(mixtureFile))
		if err != nil {
			return err
		}
		if err := holdOut(mix, n, cfg.Seed, s.Path(dataDir), s.Path(heldOutDir), "prepare.heldout_per_domain"); err != nil {
			return err
		}
		s.Logf("held out %d records of each of %d domains from all training (%s), to score every model on", n, len(mix.Domains), heldOutDir)
		return mix.Save(s.Path(mixtureFile))
	}
	return nil
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
func sources(names []string) ([]prepare.Source, error) {
	all := prepare.DefaultSources(prepare.DefaultSTSLanguages)
	if len(names) == 0 {
		return all, nil
	}
	byName := map[string]prepare.Source{}
	var known []string
	for _, s := range all {
		byName[s.Name] = s
		known = append(known, s.Name)
	}
	var out []prepare.Source
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

// checkMixture is a Stage.Check: the mixture at rel (in the run directory)
// loads and every domain file it names exists.
func checkMixture(rel string) func(dir string) error {
	return func(dir string) error {
		mix, err := data.LoadMixture(filepath.Join(dir, rel))
		if err != nil {
			return err
		}
		for _, d := range mix.Domains {
			if _, err := os.Stat(d.Path); err != nil {
				return fmt.Errorf("mixture %s: domain %q: %w", rel, d.Name, err)
			}
		}
		return nil
	}
}

package pipeline

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/internal/atomicfile"
	"github.com/tdro/tdro/tokenize"
)

// Check finds, before any work, everything that would make the run fail
// later: the config's settings, the user's mixture and every record of its
// domains, the starting checkpoint or tokenizer, the tokenizer a fitted
// vocabulary takes its alphabet from, the evaluation sets, the
// --force stage names and a writable run directory. It reports every
// problem at once (errors.Join) and trains nothing; Run calls it first, and
// `tdro run --check` calls it alone.
func Check(opt Options) error {
	if opt.Config == nil {
		return errors.New("run: no config")
	}
	cfg := opt.Config
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(cfg.Validate())
	if opt.Data != "" {
		if _, err := os.Stat(opt.Data); err != nil {
			add(fmt.Errorf("data directory: %w", err))
		}
	}
	if m := cfg.Prepare.Mixture; m != "" {
		add(checkRecords(m))
	}
	if cfg.Model.Init != "" {
		for _, f := range []string{"config.json", "tokenizer.json"} {
			if _, err := os.Stat(filepath.Join(cfg.Model.Init, f)); err != nil {
				add(fmt.Errorf("model.init: %s is not a Hugging Face checkpoint directory (no %s)", cfg.Model.Init, f))
				break
			}
		}
	} else if cfg.Model.Tokenizer != "" && cfg.Model.Vocabulary == nil {
		if tok, err := tokenizerPath(opt); err == nil {
			if _, err := os.Stat(tok); err != nil {
				add(fmt.Errorf("model.tokenizer: %w", err))
			}
		}
	}
	if v := cfg.Model.Vocabulary; v != nil && v.AlphabetFrom != "" {
		if p, err := underData(opt, v.AlphabetFrom); err == nil {
			if _, err := tokenize.Load(p); err != nil {
				add(fmt.Errorf("model.vocabulary.alphabet_from: %w", err))
			}
		}
	}
	if _, err := evalSets(opt.Data, cfg.Eval); err != nil {
		add(err)
	}
	if stages, err := Stages(opt); err != nil {
		add(err)
	} else {
		var names []string
		for _, st := range stages {
			names = append(names, st.Name)
		}
		for _, f := range opt.Force {
			if !slices.Contains(names, f) {
				add(fmt.Errorf("--force %s: no such stage (stages: %s)", f, strings.Join(names, ", ")))
			}
		}
	}
	if opt.Out == "" {
		add(errors.New("--out: required"))
	} else if err := atomicfile.CheckWritable(opt.Out); err != nil {
		add(fmt.Errorf("--out: %w", err))
	}
	return errors.Join(errs...)
}

// checkRecords loads a user's mixture and reads every record of every
// domain, as training will.
func checkRecords(mixture string) error {
	mix, err := data.LoadMixture(mixture)
	if err != nil {
		return fmt.Errorf("prepare.mixture: %w", err)
	}
	var errs []error
	for _, d := range mix.Domains {
		n := 0
		err := data.ScanRecords(d.Path, func(int, data.Record) error { n++; return nil })
		if err == nil && n == 0 {
			err = data.ErrNoRecords(d.Path)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("prepare.mixture %s, domain %q: %w", mixture, d.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Plan is the stage list Run would execute, one line each with what the
// stage waits for.
func Plan(opt Options) (string, error) {
	stages, err := Stages(opt)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for i, st := range stages {
		after := "-"
		if len(st.After) > 0 {
			after = strings.Join(st.After, ", ")
		}
		fmt.Fprintf(&b, "%2d. %-18s after: %s\n", i+1, st.Name, after)
	}
	if opt.Config.Executor.Kind == ExecutorSlurm {
		groups := groupJobs(opt.Config.Executor, stages, func(*Stage) bool { return false }, nil)
		arrays := 0
		for _, g := range groups {
			if len(g.stages) > 1 {
				arrays++
			}
		}
		fmt.Fprintf(&b, "as Slurm jobs: %d sbatch submissions (%d of them job arrays) for %d stages\n", len(groups), arrays, len(stages))
	}
	return b.String(), nil
}

package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/tdro/tdro/internal/atomicfile"
	"github.com/tdro/tdro/prepare"
)

func dataPlantedCmd() *cobra.Command {
	var (
		opt     prepare.PlantedOptions
		neutral string
	)
	cmd := &cobra.Command{
		Use:   "planted --out DIR [--data PATH] [--task SET] [--neutral SET,SET] [--seed N]",
		Short: "Write a benchmark with a planted answer: good, noise and neutral domains for the mixture learners",
		Long: `planted splits the queries of one bundled evaluation set (--task) in halves. One half
is the evaluation set (DIR/eval/TASK-heldout, a BEIR folder with the task's whole
corpus); the other becomes two good domains (each query with its relevant passages:
the evaluation task itself) and two noise domains (the same queries, each with a random
passage as its positive). Each --neutral set becomes a domain of another task with its
own labels. A mixture learner that finds the answer puts good above neutral above noise.

It also writes DIR/run.json, a run config over the default preset (with half its
training steps) that trains on the planted mixture, evaluates on the held-out half,
and compares every learner over two seeds:

  tdro data planted --out runs/planted-data
  tdro run --config runs/planted-data/run.json --out runs/planted`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opt.OutDir == "" {
				return fmt.Errorf("--out is required")
			}
			opt.Neutral = commaList(neutral)
			p, err := prepare.MakePlanted(opt)
			if err != nil {
				return err
			}
			dir, err := filepath.Abs(opt.OutDir)
			if err != nil {
				return err
			}
			run := map[string]any{
				"seeds":    []uint64{1, 2},
				"train":    map[string]any{"steps": 60, "warmup_steps": 6},
				"dro":      map[string]any{"steps": 40},
				"prepare":  map[string]any{"mixture": filepath.Join(dir, p.Mixture), "negatives": 3, "max_records_per_domain": 0, "dedup_against": "run"},
				"learners": []string{"tdro", "doremi", "regmix", "odm"},
				"transfer": []map[string]any{{"name": "top34", "strategy": "top-k", "percent": 34}},
				"regmix":   map[string]any{"runs": 8, "heldout_per_domain": 16},
				"eval":     map[string]any{"sets": []string{filepath.Join(dir, p.Eval)}, "max_queries": 0, "max_docs": 0, "bm25": true},
			}
			if err := atomicfile.WriteJSON(filepath.Join(dir, "run.json"), run); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "planted benchmark in %s: good %v, noise %v, neutral %v; evaluation set %s\nrun it: tdro run --config %s --out RUN\n",
				dir, p.Good, p.Noise, p.Neutral, p.Eval, filepath.Join(dir, "run.json"))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opt.DataDir, "data", "../shared/data", "bundled data directory (its evaluation sets are the source)")
	f.StringVar(&opt.OutDir, "out", "", "where the planted mixture, its evaluation set and run.json go")
	f.StringVar(&opt.Task, "task", "xquadr-en", "the evaluation set whose task the good domains repeat")
	f.StringVar(&neutral, "neutral", "cran,cisi", "evaluation sets made into off-task training domains")
	f.Uint64Var(&opt.Seed, "seed", 1, "seed of the query split and the noise pairing")
	return cmd
}

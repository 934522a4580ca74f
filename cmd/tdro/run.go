package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/tdro/tdro/configs"
	"github.com/tdro/tdro/pipeline"
)

func init() {
	var opt pipeline.Options
	var preset, configPath, initCkpt string
	var seed uint64
	var seeds int
	var check bool
	cmd := &cobra.Command{
		Use:   "run [--preset default|tiny|large|official] [--config FILE] --data DIR --out RUN",
		Short: "Run the whole tDRO pipeline: prepare, reference, tDRO, transfer, fine-tune, evaluate, report",
		Long: `run executes the paper's pipeline end to end inside one run directory:

  prepare    bundled training data -> one records file per domain + mixture.json
  reference  stage 0: contrastive training on the uniform mixture (also the uniform baseline)
  dro        stage 1: tDRO learns the domain weights (proxy vs frozen reference)
  transfer   the weights become fine-tuning mixtures (top-70% and ratio by default)
  finetune-* stage 2: the same recipe as stage 0 on each transferred mixture
  eval-*     every model and BM25 on the bundled evaluation sets
  report     report.md and report.html: diagram, weights, data used, loss curves, results

Each stage records a manifest; rerunning the same command skips finished stages
whose inputs did not change and resumes an interrupted one from its checkpoint.
Ctrl-C stops cleanly (the current stage saves what it can).

Presets: ` + strings.Join(configs.Names(), ", ") + ` (see docs/pipeline.md). A --config file is read over
the preset and only needs the fields that differ.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := pipeline.ReadConfig(preset, configPath) // validated by Check, with everything else
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("seed") {
				cfg.Seed = seed
			}
			if cmd.Flags().Changed("seeds") {
				if seeds < 1 {
					return fmt.Errorf("--seeds: must be >= 1, got %d", seeds)
				}
				cfg.Seeds = nil
				for i := range uint64(seeds) {
					cfg.Seeds = append(cfg.Seeds, cfg.Seed+i)
				}
			}
			if initCkpt != "" { // replaces the preset's from-scratch model
				cfg.Model = pipeline.ModelConfig{Init: initCkpt}
			}
			if opt.Out == "" {
				return fmt.Errorf("--out is required")
			}
			opt.Config = cfg
			opt.ConfigName = "preset " + preset
			if configPath != "" {
				opt.ConfigName += " + " + configPath
			}
			opt.Command = "tdro " + strings.Join(os.Args[1:], " ")
			if check {
				if err := pipeline.Check(opt); err != nil {
					return fmt.Errorf("the run would fail:\n%w", err)
				}
				plan, err := pipeline.Plan(opt)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: config, data, evaluation sets and --out are fine; the run would execute:\n%s", opt.ConfigName, plan)
				return nil
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			res, err := pipeline.Run(ctx, opt)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n", pipeline.Summary(opt.Out, res))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&preset, "preset", "default", "built-in configuration: "+strings.Join(configs.Names(), ", "))
	f.StringVar(&configPath, "config", "", "JSON file read over the preset (only the fields that differ)")
	f.StringVar(&opt.Data, "data", "../shared/data", "bundled data directory (training sources and evaluation sets)")
	f.StringVar(&opt.Out, "out", "", "run directory (created; rerun with the same directory to resume)")
	f.StringVar(&initCkpt, "init", "", "start from this Hugging Face checkpoint directory instead of a model trained from scratch")
	f.Uint64Var(&seed, "seed", 0, "override the config's seed")
	f.IntVar(&seeds, "seeds", 0, "replicate the run over N seeds (the config's seed and the N-1 after it); a study report compares every mixture with uniform across them")
	f.BoolVar(&check, "check", false, "check the config, data, evaluation sets and --out, print the stage plan, and train nothing")
	f.StringSliceVar(&opt.Force, "force", nil, "rerun these stages even if up to date (their dependants follow when outputs change)")
	rootCmd.AddCommand(cmd)
}

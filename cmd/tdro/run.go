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
	var check, status bool
	var executor string
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

With --executor slurm (or "executor": {"kind": "slurm", ...} in the config) every
stage that is not done becomes a Slurm job, with afterok dependencies on the jobs
of the stages it needs; submitting again submits only what is missing, and
tdro run --status RUN says where each stage stands (docs/cluster.md).

Presets: ` + strings.Join(configs.Names(), ", ") + ` (see docs/pipeline.md). A --config file is read over
the preset and only needs the fields that differ.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if status {
				dir := opt.Out
				if len(args) == 1 {
					dir = args[0]
				}
				if dir == "" {
					return fmt.Errorf("--status: name the run directory (tdro run --status DIR)")
				}
				states, err := pipeline.StatusOf(cmd.Context(), dir)
				if err != nil {
					return err
				}
				fmt.Fprint(cmd.OutOrStdout(), pipeline.FormatStatus(states))
				return nil
			}
			if len(args) > 0 {
				return fmt.Errorf("unexpected argument %q (the run directory is --out)", args[0])
			}
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
			if cmd.Flags().Changed("executor") {
				cfg.Executor.Kind = executor
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
			if cfg.Executor.Kind == pipeline.ExecutorSlurm {
				sub, err := pipeline.Submit(ctx, opt, nil)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s\nfollow it with: tdro run --status %s\n", sub, opt.Out)
				return nil
			}
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
	f.StringVar(&executor, "executor", "", "where the stages run: local (here, in turn; the default) or slurm (one job per stage, see docs/cluster.md); overrides the config's executor.kind")
	f.BoolVar(&status, "status", false, "show where each stage of the run directory (argument or --out) stands: done, queued or running as job N, failed with its log's last lines")
	f.BoolVar(&check, "check", false, "check the config, data, evaluation sets and --out, print the stage plan, and train nothing")
	f.StringSliceVar(&opt.Force, "force", nil, "rerun these stages even if up to date (their dependants follow when outputs change)")
	f.StringSliceVar(&opt.Until, "until", nil, "run only these stages and the stages they need, e.g. heldout-reference to tune a recipe on the held-out split alone")
	rootCmd.AddCommand(cmd)
}

package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tdro/tdro/model"
	"github.com/tdro/tdro/train"
)

func init() {
	cfg := train.DefaultConfig()
	var configPath, domains string
	var resume bool
	cmd := &cobra.Command{
		Use:   "train [--config FILE] [--mixture FILE --tokenizer FILE] [flags]",
		Short: "Contrastive training of a retriever on a data mixture (LLM-DR recipe)",
		Long: `train fine-tunes (or trains from scratch) a text-embedding model with InfoNCE over
hard and in-batch negatives on task-homogeneous batches: each step draws one domain
with probability equal to its mixture weight, then a batch of its records.

It writes, under --out: checkpoint.bin (atomically, every --checkpoint-every steps),
log.jsonl (one line per step: loss overall and per domain, lr, grad norm, tokens/s),
train_config.json (paths relative to itself), and at the end model/ (a Hugging Face
checkpoint with tdro_train.json, the recipe it was trained with).
Ctrl-C saves a checkpoint and exits (status 130); --resume continues exactly where it
stopped, and refuses settings other than those the checkpoint was trained with
(only --steps and --checkpoint-every may change; resume_history.json records it).
Flags override the fields of the --config file; --mixture (with --tokenizer for a
preset model) is enough without one.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if configPath != "" {
				err := readConfigUnderFlags(cmd, func() (err error) {
					cfg, err = train.LoadConfig(configPath)
					return err
				})
				if err != nil {
					return err
				}
			}
			if cmd.Flags().Changed("domains") {
				cfg.Domains = strings.Split(domains, ",")
			}
			var res *train.Result
			err := runInterruptible(cmd, func(ctx context.Context) (err error) {
				res, err = train.Run(ctx, cfg, resume)
				return err
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "trained %d steps (last loss %.4f)\nmodel: %s\nlog: %s\n", res.Steps, res.FinalLoss, res.ModelDir, res.Log)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&configPath, "config", "", "training config (JSON); flags override its fields")
	f.BoolVar(&resume, "resume", false, "continue from the checkpoint in --out")
	f.StringVar(&cfg.Model, "model", cfg.Model, "preset ("+strings.Join(model.PresetNames, ", ")+") or Hugging Face checkpoint dir")
	f.StringVar(&cfg.Tokenizer, "tokenizer", cfg.Tokenizer, "tokenizer.json (presets)")
	f.StringVar(&cfg.Mixture, "mixture", cfg.Mixture, "mixture file")
	f.StringVar(&domains, "domains", "", "comma-separated mixture domains to train on (default: all)")
	f.StringVar(&cfg.Out, "out", cfg.Out, "run directory")
	f.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed (model init, sampling, dropout)")
	bindRecipe(f, &cfg.Recipe)
	rootCmd.AddCommand(cmd)
}

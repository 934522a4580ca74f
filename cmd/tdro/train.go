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
					cfg, err = train.ReadConfig(configPath)
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
	f.IntVar(&cfg.Steps, "steps", cfg.Steps, "optimisation steps")
	f.IntVar(&cfg.BatchSize, "batch-size", cfg.BatchSize, "queries per step")
	f.IntVar(&cfg.Negatives, "negatives", cfg.Negatives, "hard negatives per query")
	f.IntVar(&cfg.QueryMaxLen, "query-max-len", cfg.QueryMaxLen, "query tokens")
	f.IntVar(&cfg.PassageMaxLen, "passage-max-len", cfg.PassageMaxLen, "passage tokens")
	f.Float64Var(&cfg.Temperature, "temperature", cfg.Temperature, "InfoNCE temperature")
	f.StringVar(&cfg.Similarity, "similarity", cfg.Similarity, "cos or dot")
	f.BoolVar(&cfg.HardNegativesOnly, "hard-negatives-only", cfg.HardNegativesOnly, "no in-batch negatives")
	f.BoolVar(&cfg.CrossDeviceNegatives, "cross-device-negatives", cfg.CrossDeviceNegatives, "gather negatives across devices (no-op on one device)")
	f.Float64Var(&cfg.LearningRate, "lr", cfg.LearningRate, "peak learning rate")
	f.IntVar(&cfg.WarmupSteps, "warmup-steps", cfg.WarmupSteps, "linear warmup steps")
	f.StringVar(&cfg.Decay, "decay", cfg.Decay, "cosine, linear or constant")
	f.Float64Var(&cfg.MinLRRatio, "min-lr-ratio", cfg.MinLRRatio, "final learning rate / peak")
	f.Float64Var(&cfg.WeightDecay, "weight-decay", cfg.WeightDecay, "AdamW decoupled weight decay")
	f.Float64Var(&cfg.ClipNorm, "clip-norm", cfg.ClipNorm, "global gradient norm limit (0: off)")
	f.IntVar(&cfg.GradCacheChunk, "grad-cache-chunk", cfg.GradCacheChunk, "gradient cache chunk rows (0: off)")
	f.Int64Var(&cfg.Seed, "seed", cfg.Seed, "seed (model init, sampling, dropout)")
	f.IntVar(&cfg.CheckpointEvery, "checkpoint-every", cfg.CheckpointEvery, "steps between checkpoints")
	rootCmd.AddCommand(cmd)
}

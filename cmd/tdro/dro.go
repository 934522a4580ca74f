package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tdro/tdro/dro"
)

func init() {
	cfg := dro.DefaultConfig()
	var configPath, measure, absent, initFrom string
	var resume bool
	cmd := &cobra.Command{
		Use:   "dro --config FILE [flags]",
		Short: "Learn domain weights with task-level DRO (tDRO, stage 1)",
		Long: `dro trains a proxy model (initialised from --base) on batches that mix all domains of
--mixture uniformly, scores the same batches with the frozen --reference model (the
stage-0 output), and moves the domain weights alpha by exponentiated-gradient ascent
on a per-domain measurement of proxy against reference loss:

  relative           mean proxy loss / mean reference loss (the paper)
  relative-official  the official code's per-example normalised ratio
  excess             mean max(proxy - reference, 0) (DoReMi)
  raw                mean proxy loss (GroupDRO)

  log alpha += eta * M * min(1, 1/(||M||_2 + 1e-6));  alpha = softmax(log alpha)

(M is the mean of the micro-batch scores with --micro-batches, as the official trainer.)
Proxy and reference are scored at the temperature the reference was trained at (its
tdro_train.json) unless --temperature is set. It writes, under --out: checkpoint.bin,
log.jsonl (per step: alpha, log-alpha, scores, per-domain proxy and reference loss),
weights/{curr,mean,ema}_weights.json and weights/top{20..90}_weights.json as the
official tDRO trainer writes them, and plots/ (PNG and SVG).
Ctrl-C saves a checkpoint; --resume continues exactly. Flags override --config.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if configPath != "" {
				err := readConfigUnderFlags(cmd, func() (err error) {
					cfg, err = dro.LoadConfig(configPath)
					measure, absent, initFrom = string(cfg.Measure), string(cfg.Absent), string(cfg.Init)
					return err
				})
				if err != nil {
					return err
				}
			}
			cfg.Measure, cfg.Absent, cfg.Init = dro.Measure(measure), dro.Absent(absent), dro.Init(initFrom)
			var res *dro.Result
			err := runInterruptible(cmd, func(ctx context.Context) (err error) {
				res, err = dro.Run(ctx, cfg, resume)
				return err
			})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "tDRO: %d steps (%s, scored at temperature %g)\n", res.Steps, cfg.Measure, res.Temperature)
			fmt.Fprintf(w, "  %-24s %8s %8s %8s\n", "domain", "curr", "mean", "ema")
			for g, name := range res.Names {
				fmt.Fprintf(w, "  %-24s %8.4f %8.4f %8.4f\n", name, res.Curr[g], res.Mean[g], res.EMA[g])
			}
			fmt.Fprintf(w, "weights: %s\n", res.WeightsPath("curr"))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&configPath, "config", "", "tDRO config (JSON); flags override its fields")
	f.BoolVar(&resume, "resume", false, "continue from the checkpoint in --out")
	f.StringVar(&cfg.Mixture, "mixture", cfg.Mixture, "mixture file: the domains to weight")
	f.StringVar(&cfg.Base, "base", cfg.Base, "model the proxy starts from: Hugging Face checkpoint dir or preset")
	f.StringVar(&cfg.Tokenizer, "tokenizer", cfg.Tokenizer, "tokenizer.json for a preset base (default: the reference's)")
	f.StringVar(&cfg.Reference, "reference", cfg.Reference, "frozen reference model (stage-0 checkpoint dir)")
	f.StringVar(&cfg.Out, "out", cfg.Out, "output directory")
	f.IntVar(&cfg.Steps, "steps", cfg.Steps, "steps")
	f.IntVar(&cfg.BatchSize, "batch-size", cfg.BatchSize, "examples per step (domains mixed uniformly)")
	f.IntVar(&cfg.Negatives, "negatives", cfg.Negatives, "hard negatives per example")
	f.IntVar(&cfg.QueryMaxLen, "query-max-len", cfg.QueryMaxLen, "query tokens")
	f.IntVar(&cfg.PassageMaxLen, "passage-max-len", cfg.PassageMaxLen, "passage tokens")
	f.Float64Var(&cfg.Temperature, "temperature", cfg.Temperature, "InfoNCE temperature of proxy and reference (0: the one the reference was trained at; official: 0.002)")
	f.StringVar(&cfg.Similarity, "similarity", cfg.Similarity, "cos or dot")
	f.Float64Var(&cfg.LearningRate, "lr", cfg.LearningRate, "proxy peak learning rate")
	f.IntVar(&cfg.WarmupSteps, "warmup-steps", cfg.WarmupSteps, "proxy warmup steps")
	f.StringVar(&measure, "measure", string(cfg.Measure), "relative, relative-official, excess or raw")
	f.StringVar(&absent, "absent", string(cfg.Absent), "score of a domain absent from a batch: zero (official) or keep (DoReMi)")
	f.Float64Var(&cfg.Eta, "eta", cfg.Eta, "weight step size")
	f.Float64Var(&cfg.Smoothing, "smoothing", cfg.Smoothing, "alpha <- (1-eps) alpha + eps/k")
	f.Float64Var(&cfg.EMA, "ema", cfg.EMA, "weight of the newest alpha in the EMA")
	f.StringVar(&initFrom, "init", string(cfg.Init), "where alpha starts: uniform or mixture (the mixture's weights, as the official sampler's probabilities)")
	f.StringVar(&cfg.SelectFrom, "select-from", cfg.SelectFrom, "weights the top{20..90} files select from: curr, mean or ema")
	f.IntVar(&cfg.GradCacheChunk, "grad-cache-chunk", cfg.GradCacheChunk, "rows per encoder call (0: whole batch)")
	f.IntVar(&cfg.MicroBatches, "micro-batches", cfg.MicroBatches, "gradient-accumulation micro-batches per step: their mean score makes one weight update, the earlier ones weighted with the alpha from before it (official gradient_accumulation_steps)")
	f.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed (sampling, preset init, dropout)")
	f.IntVar(&cfg.CheckpointEvery, "checkpoint-every", cfg.CheckpointEvery, "steps between checkpoints")
	rootCmd.AddCommand(cmd)
}

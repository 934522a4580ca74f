package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tdro/tdro/dro"
)

func init() {
	cfg := dro.DefaultConfig()
	var configPath string
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
					return err
				})
				if err != nil {
					return err
				}
			}
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
	f.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed (sampling, preset init, dropout)")
	bindRecipe(f, &cfg.Recipe)
	rootCmd.AddCommand(cmd)
}

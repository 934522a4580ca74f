package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tdro/tdro/dro"
)

func init() {
	var weights, mixture, out, strategy string
	var percent float64
	cmd := &cobra.Command{
		Use:   "transfer --weights W --mixture IN --strategy top-k|ratio|loss-reweight [--percent 70] --out MIXTURE",
		Short: "Turn learned tDRO domain weights into a fine-tuning mixture",
		Long: `transfer reads domain weights (the official tDRO JSON written by 'tdro dro')
and the mixture they were learned on, and writes a new mixture file:

  top-k          keep the floor(k*percent/100) highest-weighted domains, equal weights
  ratio          use the weights as sampling probabilities
  loss-reweight  keep uniform sampling, scale domain g's loss by k*alpha_g`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for flag, v := range map[string]string{"weights": weights, "mixture": mixture, "out": out} {
				if v == "" {
					return fmt.Errorf("--%s is required", flag)
				}
			}
			m, err := dro.TransferFiles(mixture, weights, dro.Strategy(strategy), percent, out)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d domains (%s)\n", out, len(m.Domains), strategy)
			for _, d := range m.Domains {
				scale := d.LossScale
				if scale == 0 {
					scale = 1
				}
				fmt.Fprintf(cmd.OutOrStdout(), "  %-24s weight %.4f  loss scale %.4f\n", d.Name, d.Weight, scale)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&weights, "weights", "", "domain weights JSON (official tDRO schema)")
	f.StringVar(&mixture, "mixture", "", "mixture file the weights were learned on")
	f.StringVar(&out, "out", "", "mixture file to write")
	f.StringVar(&strategy, "strategy", string(dro.TopK), "top-k, ratio or loss-reweight")
	f.Float64Var(&percent, "percent", dro.DefaultPercent, "top-k: percent of domains to keep, in (0,100]")
	rootCmd.AddCommand(cmd)
}

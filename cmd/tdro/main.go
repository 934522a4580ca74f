// Command tdro trains dense retrievers on many datasets and learns which
// data to train on (task-level DRO, Ma et al., AAAI 2025).
//
// Each subcommand lives in its own file and registers itself on rootCmd.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

var rootCmd = &cobra.Command{
	Use:   "tdro",
	Short: "Train dense retrievers on many datasets and learn the data mixture (tDRO)",
	Long: `tdro trains text-embedding (dense retrieval) models on heterogeneous datasets,
one domain per dataset, and learns which domains to train on with task-level
Distributionally Robust Optimization (Ma et al., AAAI 2025, arXiv 2408.10613).`,
	SilenceUsage:  true,
	SilenceErrors: true,
}

func main() {
	if err := rootCmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "tdro:", err)
		os.Exit(1)
	}
}

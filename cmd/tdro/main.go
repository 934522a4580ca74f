// Command tdro trains dense retrievers on many datasets and learns which
// data to train on (task-level DRO, Ma et al., AAAI 2025).
//
// Each subcommand lives in its own file and registers itself on rootCmd.
package main

import (
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"strconv"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tdro/tdro/backend"
)

var rootCmd = &cobra.Command{
	Use:   "tdro",
	Short: "Train dense retrievers on many datasets and learn the data mixture (tDRO)",
	Long: `tdro trains text-embedding (dense retrieval) models on heterogeneous datasets,
one domain per dataset, and learns which domains to train on with task-level
Distributionally Robust Optimization (Ma et al., AAAI 2025, arXiv 2408.10613).`,
	SilenceUsage:      true,
	SilenceErrors:     true,
	PersistentPreRunE: checkFlags,
}

// checkFlags refuses a NaN or infinite value in any number flag of any
// command: strconv accepts "NaN" and "Inf", and a NaN compares false with
// every bound, so range checks alone let it through.
func checkFlags(cmd *cobra.Command, _ []string) error {
	var bad error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if bad != nil || !f.Changed || (f.Value.Type() != "float64" && f.Value.Type() != "float32") {
			return
		}
		if v, err := strconv.ParseFloat(f.Value.String(), 64); err == nil && (math.IsNaN(v) || math.IsInf(v, 0)) {
			bad = fmt.Errorf("--%s: must be a finite number, got %s", f.Name, f.Value.String())
		}
	})
	return bad
}

// count is "1 record", "2 records".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func init() {
	rootCmd.PersistentFlags().BoolVarP(&backend.Verbose, "verbose", "v", false, "show the compute backend's start-up messages")
	rootCmd.Version = version()
}

// version is the module version tdro was built as, or the VCS revision of a
// build from a checkout.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			if v == "" || v == "(devel)" {
				v = s.Value
			}
		case "vcs.modified":
			if s.Value == "true" {
				v += "+modified"
			}
		}
	}
	return v + " (" + info.GoVersion + ")"
}

func main() {
	if err := rootCmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "tdro:", err)
		os.Exit(exitCode(err))
	}
}

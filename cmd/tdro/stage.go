package main

import (
	"github.com/spf13/cobra"

	"github.com/tdro/tdro/pipeline"
)

func init() {
	rootCmd.AddCommand(&cobra.Command{
		Use:   "stage RUN STAGE",
		Short: "Run one stage of a run submitted with --executor slurm (what each cluster job runs)",
		Long: `stage runs one stage of the run directory RUN, as ` + "`tdro run --executor slurm`" + `'s jobs do:
the stage graph is rebuilt from RUN/slurm/run.json, the stages it needs must be
done, and it is skipped when up to date and resumed when an earlier attempt was
interrupted. SIGTERM stops it at its next checkpoint; SIGUSR1 (the job's
--signal warning before its time limit) does the same and requeues the job.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return pipeline.Work(args[0], args[1], cmd.ErrOrStderr())
		},
	})
}

package main

import (
	"testing"

	"github.com/spf13/cobra"
)

// A flag given on the command line beats the file; the file beats a
// flag's default.
func TestReadConfigUnderFlags(t *testing.T) {
	var steps, batch int
	cmd := &cobra.Command{Use: "x", RunE: func(cmd *cobra.Command, _ []string) error {
		return readConfigUnderFlags(cmd, func() error {
			steps, batch = 30, 40 // what the file says
			return nil
		})
	}}
	cmd.Flags().IntVar(&steps, "steps", 1, "")
	cmd.Flags().IntVar(&batch, "batch-size", 2, "")
	cmd.SetArgs([]string{"--steps", "5"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if steps != 5 || batch != 40 {
		t.Fatalf("steps %d batch %d, want 5 (flag) and 40 (file)", steps, batch)
	}
}

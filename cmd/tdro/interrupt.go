package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/tdro/tdro/train"
)

// runInterruptible runs a training loop under a context that Ctrl-C or
// SIGTERM cancels. A loop stopped that way has saved a checkpoint and
// returns train.ErrInterrupted: the command says so on stderr and exits with
// status 130, the shell's code for an interrupted command.
func runInterruptible(cmd *cobra.Command, run func(ctx context.Context) error) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx)
	if errors.Is(err, train.ErrInterrupted) {
		fmt.Fprintln(cmd.ErrOrStderr(), cmd.CommandPath()+":", err)
		os.Exit(130)
	}
	return err
}

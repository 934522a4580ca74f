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
// returns train.ErrInterrupted; the error says how to continue, and main
// exits with status 130 (see exitCode).
func runInterruptible(cmd *cobra.Command, run func(ctx context.Context) error) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx)
	if errors.Is(err, train.ErrInterrupted) {
		return fmt.Errorf("%w; continue with the same command and --resume", err)
	}
	return err
}

// exitCode is 130, the shell's code for an interrupted command, when err
// comes from Ctrl-C or SIGTERM (every command's context), else 1.
func exitCode(err error) int {
	if errors.Is(err, train.ErrInterrupted) || errors.Is(err, context.Canceled) {
		return 130
	}
	return 1
}

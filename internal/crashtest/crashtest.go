// Package crashtest helps the tests that SIGKILL a child process mid-run
// (training, tDRO, the pipeline) and check that a rerun resumes exactly.
package crashtest

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// KillWhen polls ready every 2 ms until it reports true, then SIGKILLs the
// started cmd and waits for it, returning Wait's error. When ready is still
// false after timeout it kills cmd and fails tb, saying the child never got
// to what.
func KillWhen(tb testing.TB, cmd *exec.Cmd, timeout time.Duration, what string, ready func() bool) error {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !ready() {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			tb.Fatalf("child process never got to %s in %v", what, timeout)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		tb.Fatal(err)
	}
	return cmd.Wait()
}

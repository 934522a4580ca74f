package crashtest

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

func TestKillWhenKillsOnceReady(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep command:", err)
	}
	polls := 0
	start := time.Now()
	KillWhen(t, cmd, time.Minute, "the third poll", func() bool { polls++; return polls == 3 })
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child state %v, want killed by SIGKILL", cmd.ProcessState)
	}
	if polls != 3 || time.Since(start) > 30*time.Second {
		t.Fatalf("%d polls in %v", polls, time.Since(start))
	}
}

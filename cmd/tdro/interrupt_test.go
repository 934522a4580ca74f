package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tdro/tdro/internal/shareddata"
)

// TestCtrlCExits130: Ctrl-C (SIGINT) in `tdro run` and `tdro eval` exits
// with 130 and says so in one line; inside `tdro run` the line says to rerun
// the command, never `--resume`, which run does not have.
func TestCtrlCExits130(t *testing.T) {
	data := shareddata.Dir(t)
	tok := filepath.Join(data, "tokenizers/all-MiniLM-L6-v2")
	dir := t.TempDir()
	m := filepath.Join(dir, "m")
	if _, stderr, code := tdroProcess(t, "", "model", "init", "--preset", "tiny-bert", "--tokenizer", tok, "--out", m); code != 0 {
		t.Fatal(stderr)
	}
	for _, tc := range []struct {
		name  string
		args  []string
		ready func() bool // the command is busy
		want  []string
		not   string
	}{
		{"run", []string{"run", "--preset", "tiny", "--data", data, "--out", filepath.Join(dir, "r")},
			func() bool { _, err := os.Stat(filepath.Join(dir, "r", "checkpoints")); return err == nil },
			[]string{"interrupted", "rerun"}, "--resume"},
		{"eval", []string{"eval", "--model", m, "--data", "bundled", "--data-dir", data, "--no-cache", "--out", filepath.Join(dir, "e")},
			func() bool { return true },
			[]string{"interrupted while evaluating m", "nothing was written"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], tc.args...)
			cmd.Env = append(os.Environ(), "TDRO_AS_MAIN=1")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(2 * time.Minute)
			for !tc.ready() && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			time.Sleep(1500 * time.Millisecond) // inside the work, past start-up
			cmd.Process.Signal(syscall.SIGINT)
			err := cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 130 {
				t.Fatalf("exit %v, want 130\n%s", err, stderr.String())
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			last := lines[len(lines)-1]
			for _, w := range tc.want {
				if !strings.Contains(last, w) {
					t.Errorf("last line %q lacks %q", last, w)
				}
			}
			if tc.not != "" && strings.Contains(last, tc.not) {
				t.Errorf("last line %q suggests %s", last, tc.not)
			}
		})
	}
}

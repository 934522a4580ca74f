package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomlx/gomlx/core/tensors"
	gmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/tdro/tdro/internal/crashtest"
)

// childConfigEnv makes the test binary a training child process: it runs the
// config file named by the variable and exits (TestResumeChild).
const childConfigEnv = "TDRO_TRAIN_CHILD_CONFIG"

func TestResumeChild(t *testing.T) {
	path := os.Getenv(childConfigEnv)
	if path == "" {
		t.Skip("only runs as the child of TestResumeAfterSIGKILL")
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), cfg, true); err != nil {
		t.Fatal(err)
	}
}

// checkpointValues reads every variable of a checkpoint.
func checkpointValues(t *testing.T, path string) (map[string][]float32, *State) {
	t.Helper()
	store := gmodel.NewStore()
	st, err := LoadCheckpoint(path, store)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]float32{}
	for v := range store.IterVariables() {
		val := v.MustValue()
		if val.DType().String() != "Float32" {
			continue
		}
		out[v.Path()] = tensors.MustCopyFlatData[float32](val)
	}
	return out, st
}

// resumeConfig is the 12-step run the kill and interrupt tests stop and
// resume: checkpoints at steps 3, 6 and 9 (and 12), about a second a run.
func resumeConfig(t *testing.T) Config {
	t.Helper()
	mixture, _ := testMixture(t, 24, 0)
	cfg := smallConfig(t, mixture)
	cfg.Steps, cfg.BatchSize, cfg.CheckpointEvery = 12, 4, 3
	cfg.QueryMaxLen, cfg.PassageMaxLen = 16, 16
	return cfg
}

// referenceRun runs cfg uninterrupted into a fresh directory.
func referenceRun(t *testing.T, cfg Config) Config {
	t.Helper()
	cfg.Out = filepath.Join(t.TempDir(), "ref")
	if _, err := Run(context.Background(), cfg, false); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// logLines counts the complete lines of a run's log so far.
func logLines(cfg Config) int {
	b, _ := os.ReadFile(filepath.Join(cfg.Out, "log.jsonl"))
	return strings.Count(string(b), "\n")
}

// requireSameRun checks that a stopped-and-resumed run ended where the
// uninterrupted ref did: every checkpointed variable (weights, optimizer
// moments) within 1e-6, and a whole log with the same losses. It returns the
// max abs weight difference.
func requireSameRun(t *testing.T, ref, run Config) float64 {
	t.Helper()
	want, _ := checkpointValues(t, filepath.Join(ref.Out, "checkpoint.bin"))
	got, gotState := checkpointValues(t, filepath.Join(run.Out, "checkpoint.bin"))
	if gotState.Step != run.Steps || len(got) != len(want) || len(want) == 0 {
		t.Fatalf("resumed checkpoint: step %d, %d variables; reference %d variables", gotState.Step, len(got), len(want))
	}
	maxDiff := 0.0
	for path, w := range want {
		g, ok := got[path]
		if !ok || len(g) != len(w) {
			t.Fatalf("variable %s missing or resized after resume", path)
		}
		for i := range w {
			maxDiff = math.Max(maxDiff, math.Abs(float64(g[i]-w[i])))
		}
	}
	if maxDiff > 1e-6 {
		t.Fatalf("resumed weights differ from the uninterrupted run: max abs diff %g", maxDiff)
	}
	// The log is whole again: one line per step, the same losses.
	refLog, runLog := readLog(t, filepath.Join(ref.Out, "log.jsonl")), readLog(t, filepath.Join(run.Out, "log.jsonl"))
	if len(runLog) != run.Steps || len(refLog) != ref.Steps {
		t.Fatalf("resumed log has %d lines, reference %d, want %d", len(runLog), len(refLog), run.Steps)
	}
	for i := range refLog {
		if runLog[i].Step != i+1 || runLog[i].Loss != refLog[i].Loss {
			t.Fatalf("log line %d: %+v, reference %+v", i, runLog[i], refLog[i])
		}
	}
	return maxDiff
}

// TestResumeAfterSIGKILL kills a training process with SIGKILL at a random
// step past its first checkpoint, resumes it, and checks that the resumed
// run restored that checkpoint (a kill before it would only test a fresh
// start) and that the final weights (and optimizer state) equal those of an
// uninterrupted run with the same seed.
// TDRO_RESUME_SEED picks the kill step reproducibly (scripts/resume-soak.sh).
func TestResumeAfterSIGKILL(t *testing.T) {
	cfg := resumeConfig(t)
	ref := referenceRun(t, cfg)

	// Child run, killed once its log shows `kill` steps done (3 to 10 of 12)
	// and its first checkpoint (step 3) is on disk: the checkpoint is
	// renamed into place after the log line of its step, so the line count
	// alone could kill between the two.
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("TDRO_RESUME_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("TDRO_RESUME_SEED: %v", err)
		}
	}
	kill := cfg.CheckpointEvery + rand.New(rand.NewPCG(seed, 0)).IntN(cfg.Steps-1-cfg.CheckpointEvery)
	run := cfg
	run.Out = filepath.Join(t.TempDir(), "killed")
	cfgPath := filepath.Join(t.TempDir(), "config.json")
	b, _ := json.Marshal(run)
	if err := os.WriteFile(cfgPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	child := exec.Command(os.Args[0], "-test.run=^TestResumeChild$", "-test.count=1")
	child.Env = append(os.Environ(), childConfigEnv+"="+cfgPath)
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	ckPath := filepath.Join(run.Out, "checkpoint.bin")
	crashtest.KillWhen(t, child, 2*time.Minute, fmt.Sprintf("step %d and a checkpoint", kill), func() bool {
		if logLines(run) < kill {
			return false
		}
		_, err := os.Stat(ckPath)
		return err == nil
	})
	killedAt := logLines(run)
	if killedAt >= cfg.Steps {
		t.Fatalf("child finished all %d steps before the kill", cfg.Steps)
	}
	_, st := checkpointValues(t, ckPath)
	from := st.Step
	if from <= 0 || from > killedAt {
		t.Fatalf("checkpoint at step %d after %d logged steps; want one in 1..%d", from, killedAt, killedAt)
	}
	t.Logf("seed %d: SIGKILL after %d logged steps; resuming from the checkpoint at step %d", seed, killedAt, from)

	// Resume in this process and compare.
	res, err := Run(context.Background(), run, true)
	if err != nil {
		t.Fatal(err)
	}
	if res.ResumedFrom != from {
		t.Fatalf("resumed run started from step %d, want the checkpoint's %d", res.ResumedFrom, from)
	}
	t.Logf("max abs weight diff after resume: %g", requireSameRun(t, ref, run))
}

// TestInterruptThenResume cancels Run's context, as Ctrl-C and SIGTERM do
// (cmd/tdro/interrupt.go): Run returns an error wrapping ErrInterrupted and
// the context's error, with a checkpoint at the step it stopped (none when
// no step ran) and no final model, and Run with resume then ends with the
// weights of an uninterrupted run.
func TestInterruptThenResume(t *testing.T) {
	cfg := resumeConfig(t)
	ref := referenceRun(t, cfg)
	tests := []struct {
		name            string
		checkpointEvery int
		cancelAfter     int // logged steps; 0 cancels before Run starts
	}{
		// The interrupt writes the only checkpoint before the end.
		{"mid-run, no periodic checkpoints", 0, 4},
		// The interrupt's checkpoint supersedes the periodic ones.
		{"mid-run, past periodic checkpoints", 3, 7},
		// Nothing to save: resuming starts over.
		{"before the first step", 3, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			run := cfg
			run.CheckpointEvery = tc.checkpointEvery
			run.Out = filepath.Join(t.TempDir(), "interrupted")
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			if tc.cancelAfter == 0 {
				cancel()
			} else {
				// Cancel from outside the loop, as the signal handler does,
				// once the log shows cancelAfter steps: the loop sees it
				// before one of the steps that follow.
				wg.Go(func() {
					for ctx.Err() == nil && logLines(run) < tc.cancelAfter {
						time.Sleep(time.Millisecond)
					}
					cancel()
				})
			}
			res, err := Run(ctx, run, false)
			cancel()
			wg.Wait()
			if !errors.Is(err, ErrInterrupted) || !errors.Is(err, context.Canceled) {
				t.Fatalf("Run with a cancelled context: %v, want an error wrapping ErrInterrupted and context.Canceled", err)
			}
			done := logLines(run)
			if res == nil || res.Steps != done || done < tc.cancelAfter || done >= run.Steps {
				t.Fatalf("interrupted after %d logged steps, result %+v; want %d..%d steps", done, res, tc.cancelAfter, run.Steps-1)
			}
			if res.ModelDir != "" {
				t.Fatalf("interrupted run reports a final model %s", res.ModelDir)
			}
			if _, err := os.Stat(filepath.Join(run.Out, "model")); !os.IsNotExist(err) {
				t.Fatalf("interrupted run wrote its final model (stat: %v)", err)
			}
			ckPath := filepath.Join(run.Out, "checkpoint.bin")
			if done == 0 {
				if _, err := os.Stat(ckPath); !os.IsNotExist(err) {
					t.Fatalf("run interrupted before its first step left a checkpoint (stat: %v)", err)
				}
			} else if _, st := checkpointValues(t, ckPath); st.Step != done {
				t.Fatalf("interrupted after %d steps, checkpoint at step %d", done, st.Step)
			}

			res, err = Run(context.Background(), run, true)
			if err != nil {
				t.Fatal(err)
			}
			if res.ResumedFrom != done {
				t.Fatalf("resumed from step %d, want %d", res.ResumedFrom, done)
			}
			t.Logf("interrupted after %d of %d steps; max abs weight diff after resume: %g", done, run.Steps, requireSameRun(t, ref, run))
		})
	}
}

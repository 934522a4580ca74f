package train

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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
	cfg, err := ReadConfig(path)
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

// TestResumeAfterSIGKILL kills a training process with SIGKILL at a random
// step, resumes it, and checks that the final weights (and optimizer state)
// equal those of an uninterrupted run with the same seed.
// TDRO_RESUME_SEED picks the kill step reproducibly (scripts/resume-soak.sh).
func TestResumeAfterSIGKILL(t *testing.T) {
	mixture, _ := testMixture(t, 24, 0)
	cfg := smallConfig(t, mixture)
	cfg.Steps, cfg.BatchSize, cfg.CheckpointEvery = 12, 4, 3
	cfg.QueryMaxLen, cfg.PassageMaxLen = 16, 16

	// Uninterrupted reference run.
	ref := cfg
	ref.Out = filepath.Join(t.TempDir(), "ref")
	if _, err := Run(context.Background(), ref, false); err != nil {
		t.Fatal(err)
	}

	// Child run, killed once its log shows `kill` steps done.
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("TDRO_RESUME_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	kill := 1 + rand.New(rand.NewPCG(seed, 0)).IntN(cfg.Steps-2)
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
	logPath := filepath.Join(run.Out, "log.jsonl")
	crashtest.KillWhen(t, child, 2*time.Minute, fmt.Sprintf("step %d", kill), func() bool {
		b, _ := os.ReadFile(logPath)
		return strings.Count(string(b), "\n") >= kill
	})
	b, _ = os.ReadFile(logPath)
	killedAt := strings.Count(string(b), "\n")
	if killedAt >= cfg.Steps {
		t.Fatalf("child finished all %d steps before the kill", cfg.Steps)
	}
	from := 0 // killed before its first checkpoint: the resumed run starts over
	if _, err := os.Stat(filepath.Join(run.Out, "checkpoint.bin")); err == nil {
		_, st := checkpointValues(t, filepath.Join(run.Out, "checkpoint.bin"))
		from = st.Step
	}
	t.Logf("seed %d: SIGKILL after %d logged steps; resuming from the checkpoint at step %d", seed, killedAt, from)

	// Resume in this process and compare.
	if _, err := Run(context.Background(), run, true); err != nil {
		t.Fatal(err)
	}
	want, _ := checkpointValues(t, filepath.Join(ref.Out, "checkpoint.bin"))
	got, gotState := checkpointValues(t, filepath.Join(run.Out, "checkpoint.bin"))
	if gotState.Step != cfg.Steps || len(got) != len(want) || len(want) == 0 {
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
	refLog, runLog := readLog(t, filepath.Join(ref.Out, "log.jsonl")), readLog(t, logPath)
	if len(runLog) != cfg.Steps {
		t.Fatalf("resumed log has %d lines, want %d", len(runLog), cfg.Steps)
	}
	for i := range refLog {
		if runLog[i].Step != i+1 || runLog[i].Loss != refLog[i].Loss {
			t.Fatalf("log line %d: %+v, reference %+v", i, runLog[i], refLog[i])
		}
	}
	t.Logf("max abs weight diff after resume: %g", maxDiff)
}

package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tdro/tdro/internal/atomicfile"
	"github.com/tdro/tdro/internal/crashtest"
)

// fakeRun builds three stages: "copy" copies an external input, "count" is a
// resumable loop with a checkpoint (like a training stage) that reads copy's
// output, and "side" depends only on its own config.
type fakeRun struct {
	input   string // external input file
	calls   map[string]int
	resumed map[string]bool
	steps   int // count's loop length
	stopAt  int // count cancels its own ctx at this step (0: never)
	cancel  context.CancelFunc
	delay   time.Duration
	sideCfg string
}

type countState struct{ Step, Sum int }

func (f *fakeRun) stages() []Stage {
	return []Stage{
		{
			Name: "copy", Inputs: []string{f.input}, Outputs: []string{"copy/out.txt"},
			Run: func(ctx context.Context, s *Step) error {
				f.calls["copy"]++
				b, err := os.ReadFile(f.input)
				if err != nil {
					return err
				}
				return atomicfile.WriteFile(s.Path("copy", "out.txt"), []byte(strings.TrimSpace(string(b))))
			},
		},
		{
			Name: "count", After: []string{"copy"}, Config: map[string]int{"steps": f.steps},
			Outputs: []string{"count/sum.txt"}, Scratch: []string{"checkpoints/count"},
			Run: func(ctx context.Context, s *Step) error {
				f.calls["count"]++
				f.resumed["count"] = s.Resume
				b, err := os.ReadFile(s.Path("copy", "out.txt"))
				if err != nil {
					return err
				}
				var base int
				fmt.Sscan(string(b), &base)
				ckpt := s.Path("checkpoints", "count", "state.json")
				var st countState
				if s.Resume {
					if b, err := os.ReadFile(ckpt); err == nil {
						json.Unmarshal(b, &st)
					}
				}
				for st.Step < f.steps {
					if st.Step == f.stopAt && f.cancel != nil {
						f.cancel()
					}
					if err := ctx.Err(); err != nil {
						return err
					}
					st.Step++
					st.Sum += base * st.Step
					if err := atomicfile.WriteJSON(ckpt, st); err != nil {
						return err
					}
					time.Sleep(f.delay)
				}
				return atomicfile.WriteFile(s.Path("count", "sum.txt"), []byte(fmt.Sprint(st.Sum)))
			},
		},
		{
			Name: "side", Config: f.sideCfg, Outputs: []string{"side"},
			Run: func(ctx context.Context, s *Step) error {
				f.calls["side"]++
				return atomicfile.WriteFile(s.Path("side", "x.txt"), []byte(f.sideCfg))
			},
		},
	}
}

func newFake(t *testing.T) (*fakeRun, *Engine) {
	t.Helper()
	tmp := t.TempDir()
	input := filepath.Join(tmp, "input.txt")
	if err := os.WriteFile(input, []byte("3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := &fakeRun{input: input, steps: 10, sideCfg: "a"}
	f.reset()
	return f, &Engine{Dir: filepath.Join(tmp, "run"), Log: io.Discard}
}

func (f *fakeRun) reset() { f.calls, f.resumed = map[string]int{}, map[string]bool{} }

func statuses(rs []Result) string {
	var parts []string
	for _, r := range rs {
		parts = append(parts, r.Stage+"="+string(r.Status))
	}
	return strings.Join(parts, " ")
}

func readSum(t *testing.T, e *Engine) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.Dir, "count", "sum.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestEngineSkipsAndReruns(t *testing.T) {
	f, e := newFake(t)
	ctx := context.Background()
	rs, err := e.Run(ctx, f.stages())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := statuses(rs), "copy=ran count=ran side=ran"; got != want {
		t.Fatalf("first run: %s, want %s", got, want)
	}
	if got := readSum(t, e); got != "165" { // 3 * (1+...+10)
		t.Fatalf("sum = %s, want 165", got)
	}
	m, err := LoadManifest(e.Dir, "count")
	if err != nil || m == nil {
		t.Fatalf("manifest: %v %v", m, err)
	}
	if m.Upstream["copy"] == "" || m.Outputs["count/sum.txt"] == "" || m.Versions.Go == "" || m.Finished.Before(m.Started) {
		t.Fatalf("incomplete manifest: %+v", m)
	}

	tests := []struct {
		name   string
		change func()
		want   string
		calls  map[string]int
	}{
		{"unchanged", func() {}, "copy=skipped count=skipped side=skipped", map[string]int{}},
		{"input touched, same content", func() { os.WriteFile(f.input, []byte("3\n"), 0o644) },
			"copy=skipped count=skipped side=skipped", map[string]int{}},
		{"input changed: copy and its dependant rerun", func() { os.WriteFile(f.input, []byte("4\n"), 0o644) },
			"copy=ran count=ran side=skipped", map[string]int{"copy": 1, "count": 1}},
		{"input changed but copy's output identical: count skipped", func() { os.WriteFile(f.input, []byte("4\n\n"), 0o644) },
			"copy=ran count=skipped side=skipped", map[string]int{"copy": 1}},
		{"config changed", func() { f.steps = 5 }, "copy=skipped count=ran side=skipped", map[string]int{"count": 1}},
		{"output deleted", func() { os.Remove(filepath.Join(e.Dir, "side", "x.txt")) },
			"copy=skipped count=skipped side=ran", map[string]int{"side": 1}},
		{"output edited", func() { os.WriteFile(filepath.Join(e.Dir, "count", "sum.txt"), []byte("0"), 0o644) },
			"copy=skipped count=ran side=skipped", map[string]int{"count": 1}},
		{"forced", func() { e.Force = []string{"side"} }, "copy=skipped count=skipped side=ran", map[string]int{"side": 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.Force = nil
			tc.change()
			f.reset()
			rs, err := e.Run(ctx, f.stages())
			if err != nil {
				t.Fatal(err)
			}
			if got := statuses(rs); got != tc.want {
				t.Errorf("statuses %s, want %s", got, tc.want)
			}
			for _, st := range []string{"copy", "count", "side"} {
				if f.calls[st] != tc.calls[st] {
					t.Errorf("%s ran %d times, want %d", st, f.calls[st], tc.calls[st])
				}
			}
		})
	}
	if got := readSum(t, e); got != "60" { // 4 * (1+...+5)
		t.Fatalf("final sum = %s, want 60", got)
	}
}

func TestEngineResumesInterruptedStage(t *testing.T) {
	// Uninterrupted reference.
	ref, refEngine := newFake(t)
	if _, err := refEngine.Run(context.Background(), ref.stages()); err != nil {
		t.Fatal(err)
	}

	f, e := newFake(t)
	ctx, cancel := context.WithCancel(context.Background())
	f.stopAt, f.cancel = 4, cancel
	rs, err := e.Run(ctx, f.stages())
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "stage count interrupted") {
		t.Fatalf("err = %v, want interruption of stage count", err)
	}
	if got := statuses(rs); got != "copy=ran" {
		t.Fatalf("statuses %s", got)
	}
	if m, _ := LoadManifest(e.Dir, "count"); m != nil {
		t.Fatal("interrupted stage has a manifest")
	}

	// What a SIGKILL mid-write leaves: atomicfile temporaries in and beside
	// the stage's paths, and a half-copied directory (copyDir) beside one.
	temps := []string{"checkpoints/count/.state.json.tmp-123", "count/.sum.txt.tmp-9", "checkpoints/.count.tmp-77/model.safetensors"}
	for _, p := range temps {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(e.Dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(e.Dir, p), []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	f.reset()
	f.stopAt, f.cancel = 0, nil
	rs, err = e.Run(context.Background(), f.stages())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range append(temps, "checkpoints/.count.tmp-77") {
		if _, err := os.Stat(filepath.Join(e.Dir, p)); err == nil {
			t.Errorf("the resumed stage left the temporary %s", p)
		}
	}
	if got := statuses(rs); got != "copy=skipped count=resumed side=ran" {
		t.Fatalf("statuses %s", got)
	}
	if !f.resumed["count"] {
		t.Fatal("count did not see Resume")
	}
	if got, want := readSum(t, e), readSum(t, refEngine); got != want {
		t.Fatalf("resumed sum %s, uninterrupted %s", got, want)
	}
	if m, _ := LoadManifest(e.Dir, "count"); m == nil || !m.Resumed {
		t.Fatalf("manifest does not record the resume: %+v", m)
	}
}

func TestEngineChangedKeyDropsStaleCheckpoint(t *testing.T) {
	f, e := newFake(t)
	ctx, cancel := context.WithCancel(context.Background())
	f.stopAt, f.cancel = 4, cancel
	if _, err := e.Run(ctx, f.stages()); err == nil {
		t.Fatal("want interruption")
	}
	f.reset()
	f.stopAt, f.cancel = 0, nil
	f.steps = 6 // new key: the checkpoint of the old attempt must not be resumed
	if _, err := e.Run(context.Background(), f.stages()); err != nil {
		t.Fatal(err)
	}
	if f.resumed["count"] {
		t.Fatal("resumed a checkpoint written under another key")
	}
	if got := readSum(t, e); got != "63" { // 3 * 21
		t.Fatalf("sum = %s, want 63", got)
	}
}

// TestEngineSurvivesSIGKILL kills a helper process running the pipeline in
// the middle of the resumable stage, then reruns it here.
func TestEngineSurvivesSIGKILL(t *testing.T) {
	if os.Getenv("TDRO_PIPELINE_HELPER") != "" {
		return
	}
	ref, refEngine := newFake(t)
	if _, err := refEngine.Run(context.Background(), ref.stages()); err != nil {
		t.Fatal(err)
	}

	f, e := newFake(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestEngineHelper$")
	cmd.Env = append(os.Environ(), "TDRO_PIPELINE_HELPER="+e.Dir, "TDRO_PIPELINE_INPUT="+f.input)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(e.Dir, "checkpoints", "count", "state.json")
	crashtest.KillWhen(t, cmd, 30*time.Second, "step 3", func() bool {
		var st countState
		b, err := os.ReadFile(ckpt)
		return err == nil && json.Unmarshal(b, &st) == nil && st.Step >= 3
	})

	rs, err := e.Run(context.Background(), f.stages())
	if err != nil {
		t.Fatal(err)
	}
	if got := statuses(rs); got != "copy=skipped count=resumed side=ran" {
		t.Fatalf("statuses after SIGKILL: %s", got)
	}
	if f.calls["copy"] != 0 {
		t.Fatal("finished stage ran again")
	}
	if got, want := readSum(t, e), readSum(t, refEngine); got != want {
		t.Fatalf("sum after SIGKILL + rerun %s, uninterrupted %s", got, want)
	}
}

// TestEngineHelper is the child process of TestEngineSurvivesSIGKILL.
func TestEngineHelper(t *testing.T) {
	dir := os.Getenv("TDRO_PIPELINE_HELPER")
	if dir == "" {
		t.Skip("helper process only")
	}
	f := &fakeRun{input: os.Getenv("TDRO_PIPELINE_INPUT"), steps: 10, sideCfg: "a", delay: 50 * time.Millisecond}
	f.reset()
	e := &Engine{Dir: dir, Log: io.Discard}
	e.Run(context.Background(), f.stages())
}

func TestEngineLocksRunDir(t *testing.T) {
	f, e := newFake(t)
	unlock, err := e.lock(syscall.LOCK_SH) // a stage running as a cluster job
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if _, err := e.Run(context.Background(), f.stages()); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("err = %v, want run directory in use", err)
	}
}

func TestEngineRejectsBadStages(t *testing.T) {
	run := func(context.Context, *Step) error { return nil }
	tests := []struct {
		name   string
		stages []Stage
		want   string
	}{
		{"duplicate", []Stage{{Name: "a", Run: run}, {Name: "a", Run: run}}, "listed twice"},
		{"late dependency", []Stage{{Name: "a", After: []string{"b"}, Run: run}, {Name: "b", Run: run}}, "does not come before"},
		{"escaping output", []Stage{{Name: "a", Outputs: []string{"../x"}, Run: run}}, "inside the run directory"},
		{"absolute output", []Stage{{Name: "a", Outputs: []string{"/tmp/x"}, Run: run}}, "inside the run directory"},
		{"no run", []Stage{{Name: "a"}}, "has no Run"},
		{"bad name", []Stage{{Name: "a/b", Run: run}}, "bad stage name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := &Engine{Dir: t.TempDir(), Log: io.Discard}
			if _, err := e.Run(context.Background(), tc.stages); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestEngineReportsMissingOutputAndInput(t *testing.T) {
	e := &Engine{Dir: t.TempDir(), Log: io.Discard}
	_, err := e.Run(context.Background(), []Stage{{Name: "lazy", Outputs: []string{"never.txt"}, Run: func(context.Context, *Step) error { return nil }}})
	if err == nil || !strings.Contains(err.Error(), "never.txt") {
		t.Fatalf("err = %v, want the missing output named", err)
	}
	_, err = e.Run(context.Background(), []Stage{{Name: "blind", Inputs: []string{"/nonexistent/in.txt"}, Run: func(context.Context, *Step) error { return nil }}})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/in.txt") {
		t.Fatalf("err = %v, want the missing input named", err)
	}
}

// A stage that reads one of an upstream stage's outputs (Stage.Reads) is
// stale only when that output changes: the transfer stage gaining a mixture
// must not rerun the fine-tunings of the others.
func TestEngineReadsKeysOnTheOutputsRead(t *testing.T) {
	e := &Engine{Dir: t.TempDir(), Log: io.Discard}
	ran := map[string]int{}
	graph := func(a, b string) []Stage {
		write := func(name, text string) error { return atomicfile.WriteFile(filepath.Join(e.Dir, name), []byte(text)) }
		return []Stage{
			{Name: "up", Config: []string{a, b}, Outputs: []string{"up/a.txt", "up/b.txt"}, Run: func(context.Context, *Step) error {
				ran["up"]++
				if err := write("up/a.txt", a); err != nil {
					return err
				}
				return write("up/b.txt", b)
			}},
			{Name: "reads-a", After: []string{"up"}, Reads: []string{"up/a.txt"}, Outputs: []string{"ra.txt"}, Run: func(context.Context, *Step) error {
				ran["reads-a"]++
				return write("ra.txt", a)
			}},
			{Name: "reads-all", After: []string{"up"}, Outputs: []string{"rall.txt"}, Run: func(context.Context, *Step) error {
				ran["reads-all"]++
				return write("rall.txt", a+b)
			}},
		}
	}
	for _, tc := range []struct {
		a, b string
		want map[string]int // runs so far
	}{
		{"1", "1", map[string]int{"up": 1, "reads-a": 1, "reads-all": 1}},
		{"1", "2", map[string]int{"up": 2, "reads-a": 1, "reads-all": 2}}, // b changed: reads-a is up to date
		{"2", "2", map[string]int{"up": 3, "reads-a": 2, "reads-all": 3}}, // a changed: both rerun
	} {
		if _, err := e.Run(context.Background(), graph(tc.a, tc.b)); err != nil {
			t.Fatal(err)
		}
		for name, n := range tc.want {
			if ran[name] != n {
				t.Errorf("after a=%s b=%s: %s ran %d times, want %d", tc.a, tc.b, name, ran[name], n)
			}
		}
	}
}

package pipeline

import (
	"context"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tdro/tdro/dro"
	"github.com/tdro/tdro/slurm"
)

// The cluster tests submit to the real Slurm that scripts/slurm/up.sh
// starts on this machine. Without one they are skipped, except under
// CI=true, where .ci/run starts it and its absence is a failure.
func needSlurm(t *testing.T) {
	t.Helper()
	if err := slurm.Available(context.Background()); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but no Slurm answers (.ci/run starts it with scripts/slurm/up.sh): %v", err)
		}
		t.Skipf("no Slurm here (scripts/slurm/up.sh starts one): %v", err)
	}
}

// testWorker is the command the test jobs run: this test binary's
// TestSlurmWorkerHelper, which calls Work as `tdro stage` does.
func testWorker(env ...string) []string {
	return append(append([]string{"env", "TDRO_SLURM_WORKER=1"}, env...), os.Args[0], "-test.run=^TestSlurmWorkerHelper$", "--")
}

// errInjected is the failure TDRO_SLURM_FAIL=STAGE gives that stage.
var errInjected = errors.New("injected failure")

func TestSlurmWorkerHelper(t *testing.T) {
	if os.Getenv("TDRO_SLURM_WORKER") == "" {
		t.Skip("helper process only")
	}
	args := flag.Args()
	if len(args) != 2 {
		t.Fatalf("want RUN STAGE, got %q", args)
	}
	fail := func(stages []Stage) {
		for i := range stages {
			if stages[i].Name == os.Getenv("TDRO_SLURM_FAIL") {
				stages[i].Run = func(context.Context, *Step) error { return errInjected }
			}
		}
	}
	if err := work(args[0], args[1], os.Stderr, fail); err != nil {
		t.Fatal(err)
	}
}

// submit submits opt's run with the test worker and cancels what is left
// of its jobs when the test ends.
func submit(t *testing.T, opt Options, env ...string) *Submission {
	t.Helper()
	sub, err := Submit(context.Background(), opt, testWorker(env...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		var ids []string
		for _, j := range sub.Jobs {
			ids = append(ids, j.ID)
		}
		if len(ids) > 0 {
			slurm.Cancel(context.Background(), ids...)
		}
	})
	return sub
}

// alive are the jobs of the run in dir still queued or running.
func alive(t *testing.T, dir string) []string {
	t.Helper()
	jobs, err := readJobs(dir)
	if err != nil {
		t.Fatal(err)
	}
	q, err := slurm.Queue(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range jobs {
		if _, ok := q[r.Job]; ok {
			ids = append(ids, r.Job)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// waitFor polls cond every 200ms until it holds or limit passes.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(limit); !cond(); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("waited %s for %s", limit, what)
		}
	}
}

// drain waits until none of the run's jobs is queued or running.
func drain(t *testing.T, dir string, limit time.Duration) {
	t.Helper()
	waitFor(t, limit, "the run's jobs to end", func() bool { return len(alive(t, dir)) == 0 })
}

// states is StatusOf by stage name.
func states(t *testing.T, dir string) map[string]StageState {
	t.Helper()
	st, err := StatusOf(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]StageState{}
	for _, s := range st {
		m[s.Stage] = s
	}
	return m
}

func allDone(t *testing.T, dir string) {
	t.Helper()
	for name, s := range states(t, dir) {
		if s.State != StateDone {
			t.Errorf("stage %s: %s %s %v, want done", name, s.State, s.Detail, s.Tail)
		}
	}
}

// sameFiles fails on each path (relative to both run directories) whose
// content differs between a and b.
func sameFiles(t *testing.T, a, b string, rels ...string) {
	t.Helper()
	for _, rel := range rels {
		ha, errA := HashPath(filepath.Join(a, rel))
		hb, errB := HashPath(filepath.Join(b, rel))
		if errA != nil || errB != nil || ha != hb {
			t.Errorf("%s differs from the local run (%v %v)", rel, errA, errB)
		}
	}
}

// resultFiles are the outputs a run's results are made of: every model,
// the tDRO weights, the mixtures, every evaluation's rankings.
func resultFiles(cfg *Config, prefix string) []string {
	rels := []string{filepath.Join(prefix, droDir, dro.WeightsDir), filepath.Join(prefix, mixturesDir)}
	for _, m := range append(trainedRuns(cfg), baseRun) {
		rels = append(rels, filepath.Join(prefix, modelDir(m), "model.safetensors"))
	}
	for _, m := range evaluatedRuns(cfg) { // the rankings; the scores are in the report's tables
		rels = append(rels, filepath.Join(prefix, evalDir(m), "runs"))
	}
	return rels
}

// reportTables is a Markdown report's sections without those that differ
// between two identical runs: the title and the command line, the stage
// timings ("Pipeline") and the cost table ("Cost").
func reportTables(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sections := strings.Split(string(b), "\n## ")
	var head []string
	for _, l := range strings.Split(sections[0], "\n")[1:] { // the title is the run directory's name
		if !strings.HasPrefix(l, "Generated") {
			head = append(head, l)
		}
	}
	kept := []string{strings.Join(head, "\n")}
	for _, sec := range sections[1:] {
		if !strings.HasPrefix(sec, "Pipeline") && !strings.HasPrefix(sec, "Cost") {
			kept = append(kept, sec)
		}
	}
	out := strings.Join(kept, "\n## ")
	if !strings.Contains(out, "|---") {
		t.Fatalf("%s has no result tables", path)
	}
	return out
}

// sameTables fails when the Markdown report rel has other tables in a
// than in b.
func sameTables(t *testing.T, a, b, rel string) {
	t.Helper()
	if x, y := reportTables(t, filepath.Join(a, rel)), reportTables(t, filepath.Join(b, rel)); x != y {
		t.Errorf("%s's tables differ from the local run's:\n%s\n---\n%s", rel, x, y)
	}
}

// TestSlurmStudyMatchesLocal submits the 2-seed tiny study through Slurm:
// every model, weight file, mixture, evaluation and the study's tables are
// byte-identical to the local executor's, and submitting the finished run
// again submits nothing.
func TestSlurmStudyMatchesLocal(t *testing.T) {
	needSlurm(t)
	local, _ := uninterruptedStudy(t)
	dir := t.TempDir()
	opt := studyOptions(t, dir)
	sub := submit(t, opt)
	if sub.Stages() != len(mustStages(t, opt)) || len(sub.Jobs) >= sub.Stages() {
		t.Errorf("submitted %d stages in %d jobs for a %d-stage study; want every stage, fine-tunings as arrays", sub.Stages(), len(sub.Jobs), len(mustStages(t, opt)))
	}
	drain(t, dir, 8*time.Minute)
	allDone(t, dir)
	for _, seed := range studySeeds {
		sameFiles(t, local, dir, resultFiles(opt.Config, seedDir(seed))...)
	}
	sameFiles(t, local, dir, "study.json")
	sameTables(t, local, dir, "study.md")
	again := submit(t, opt)
	if len(again.Jobs) != 0 || len(again.Done) != len(mustStages(t, opt)) {
		t.Errorf("resubmitting the finished study: %s", again)
	}
}

func mustStages(t *testing.T, opt Options) []Stage {
	t.Helper()
	st, err := Stages(opt)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// slowOptions is the tiny preset with one mixture and trainings long
// enough to be stopped half-way.
func slowOptions(t testing.TB, dir string) Options {
	opt := tinyOptions(t, dir)
	opt.Config.Train.Steps = 40
	opt.Config.Transfer = opt.Config.Transfer[:1]
	return opt
}

var slowRun sharedRun // removed by TestMain

// TestSlurmCancelAndRequeueResume stops two training jobs half-way, the
// two ways a cluster does: scancel (SIGTERM; its dependants are cancelled,
// not left waiting, and submitting again resumes it) and the time-limit
// warning (SIGUSR1 from --signal; the job checkpoints and requeues itself).
// Both stages resume, and the run ends byte-identical to a local one.
func TestSlurmCancelAndRequeueResume(t *testing.T) {
	needSlurm(t)
	local, _ := slowRun.get(t, slowOptions)
	dir := t.TempDir()
	opt := slowOptions(t, dir)
	submit(t, opt)
	jobOf := func(stage string) string {
		jobs, err := readJobs(dir)
		if err != nil {
			t.Fatal(err)
		}
		return jobs[stage].Job
	}
	midway := func(stage, run string) {
		waitFor(t, 3*time.Minute, stage+"'s first checkpoint", func() bool {
			_, err := os.Stat(filepath.Join(dir, checkpointDir(run), "checkpoint.bin"))
			return err == nil
		})
	}

	ref := "train-" + referenceRun
	midway(ref, referenceRun)
	if err := slurm.Cancel(context.Background(), jobOf(ref)); err != nil {
		t.Fatal(err)
	}
	drain(t, dir, 2*time.Minute)
	st := states(t, dir)
	if st[ref].State != StateInterrupted || st["dro"].State != StateCancelled || !strings.Contains(st["dro"].Detail, ref) {
		t.Fatalf("after scancel: %s %+v, dro %+v", ref, st[ref], st["dro"])
	}

	again := submit(t, opt)
	if slices.Contains(again.Done, ref) || !slices.Contains(again.Done, "prepare") {
		t.Errorf("resubmission: %s", again)
	}
	ft := "train-" + opt.Config.Transfer[0].Name
	midway(ft, opt.Config.Transfer[0].Name)
	job := jobOf(ft)
	if out, err := exec.Command("scancel", "--signal=USR1", "--batch", job).CombinedOutput(); err != nil {
		t.Fatalf("scancel --signal=USR1: %v %s", err, out)
	}
	waitFor(t, time.Minute, ft+" requeued", func() bool {
		q, err := slurm.Queue(context.Background())
		return err == nil && q[job].State == "PENDING"
	})
	// Slurm holds a requeued job until its credential expires (10 s in
	// scripts/slurm/up.sh's cluster, 120 s by default); starting it sooner
	// gets it killed as "credential revoked".
	drain(t, dir, 6*time.Minute)
	allDone(t, dir)
	for _, stage := range []string{ref, ft} {
		if m, _ := LoadManifest(dir, stage); m == nil || !m.Resumed {
			t.Errorf("%s did not resume its interrupted attempt: %+v", stage, m)
		}
	}
	sameFiles(t, local, dir, resultFiles(opt.Config, "")...)
	sameTables(t, local, dir, "report.md")
}

// TestSlurmFailedStageCancelsDependants fails the tDRO stage: its
// dependants are cancelled (the queue empties), --status says which stage
// failed, with its log, and which never ran because of it; submitting again
// reruns only the failed stage and what follows it.
func TestSlurmFailedStageCancelsDependants(t *testing.T) {
	needSlurm(t)
	local, _ := uninterrupted(t)
	dir := t.TempDir()
	opt := tinyOptions(t, dir)
	submit(t, opt, "TDRO_SLURM_FAIL=dro")
	drain(t, dir, 3*time.Minute)
	st := states(t, dir)
	if s := st["dro"]; s.State != StateFailed || !strings.Contains(strings.Join(s.Tail, "\n"), errInjected.Error()) {
		t.Errorf("dro: %+v, want failed with its log", s)
	}
	for _, name := range []string{"transfer", "train-top70", "eval-top70", "report"} {
		if s := st[name]; s.State != StateCancelled || !strings.Contains(s.Detail, "which is") {
			t.Errorf("%s: %+v, want cancelled for a failed dependency", name, s)
		}
	}
	for _, name := range []string{"prepare", "train-reference", "eval-reference", "eval-bm25"} {
		if st[name].State != StateDone {
			t.Errorf("%s: %+v, want done", name, st[name])
		}
	}
	out := FormatStatus(mapValues(st))
	if !strings.Contains(out, "failed") || !strings.Contains(out, errInjected.Error()) {
		t.Errorf("status does not show the failure:\n%s", out)
	}
	again := submit(t, opt)
	if slices.Contains(again.Done, "dro") || !slices.Contains(again.Done, "train-reference") {
		t.Errorf("resubmission: %s", again)
	}
	drain(t, dir, 3*time.Minute)
	allDone(t, dir)
	sameFiles(t, local, dir, resultFiles(opt.Config, "")...)
	sameTables(t, local, dir, "report.md")
}

func mapValues(m map[string]StageState) []StageState {
	var v []StageState
	for _, s := range m {
		v = append(v, s)
	}
	slices.SortFunc(v, func(a, b StageState) int { return strings.Compare(a.Stage, b.Stage) })
	return v
}
